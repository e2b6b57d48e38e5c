"""How a sweepforge model is saved as an MLflow Model: MLflow's ``pytorch`` flavour, with a
``python_function`` flavour that answers in the user's labels.

The saved folder is what ``mlflow.pytorch.save_model`` writes for the
:class:`~sweepforge.trainables.predictors.Predictor` (a ``torch.nn.Module``), so
``mlflow.pytorch.load_model(uri)`` gives back the predictor itself. Only the folder's
``python_function`` entry differs: MLflow's own pytorch pyfunc returns what the module's
``forward`` returns (logits, a scaled target), so this module is named as the pyfunc loader
instead (MLflow's documented way to give a model a custom pyfunc: ``mlflow.pyfunc.add_to_model``
with a ``loader_module`` that has ``_load_pyfunc``), and ``mlflow.pyfunc.load_model(uri)
.predict(raw)`` returns labels in the user's original values (a regressor's values in the
target's units). With ``params={"probabilities": True}`` a classifier returns a DataFrame of
class probabilities, one column per label.

Loading needs sweepforge importable (the module is pickled by reference to its class), like any
model of a flavour whose code is not in the folder.

Hand-written because MLflow's pytorch flavour has no hook for what ``predict`` returns, and a
``PythonModel`` wrapper would hide the pytorch flavour (``mlflow.pytorch.load_model`` would
refuse the model); this keeps both with MLflow's own save and load functions.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

PROBABILITIES = "probabilities"
"""The pyfunc ``predict`` parameter that asks a classifier for class probabilities."""


def save_model(
    path: str, mlflow_model: Any, *, predictor: Any, signature: Any = None,
    input_example: Any = None, pip_requirements: list[str] | None = None,
) -> None:
    """Writes ``predictor`` to ``path`` with MLflow's pytorch flavour, then names this module
    as its pyfunc loader. ``mlflow.models.Model.log(flavor=this module, ...)`` calls it."""
    import mlflow.pytorch
    from mlflow import pyfunc

    mlflow.pytorch.save_model(
        predictor, path, mlflow_model=mlflow_model, signature=signature,
        input_example=input_example, pip_requirements=pip_requirements,
        # the module itself, pickled: a traced graph ("pt2") would lose predict and the labels
        serialization_format="pickle",
    )
    torch_pyfunc = mlflow_model.flavors[pyfunc.FLAVOR_NAME]
    pyfunc.add_to_model(
        mlflow_model, loader_module=__name__, data=torch_pyfunc.get(pyfunc.DATA),
        conda_env=torch_pyfunc.get(pyfunc.ENV, {}).get("conda"),
        python_env=torch_pyfunc.get(pyfunc.ENV, {}).get("virtualenv"),
    )
    mlflow_model.save(os.path.join(path, "MLmodel"))


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> PredictorPyfunc:
    """Called by ``mlflow.pyfunc.load_model``: ``data_path`` is the pytorch flavour's data
    folder inside the model folder."""
    import mlflow.pytorch

    model_folder = os.path.dirname(os.path.abspath(data_path))
    return PredictorPyfunc(mlflow.pytorch.load_model(model_folder, map_location="cpu"))


class PredictorPyfunc:
    """The pyfunc face of a predictor: ``predict`` takes a raw DataFrame or array, returns
    labels (or values), or class probabilities with ``params={"probabilities": True}``."""

    def __init__(self, predictor: Any):
        self.predictor = predictor

    def get_raw_model(self) -> Any:
        """The :class:`~sweepforge.trainables.predictors.Predictor` (MLflow's ``unwrap``)."""
        return self.predictor

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        if (params or {}).get(PROBABILITIES):
            probabilities = self.predictor.predict_proba(model_input)
            labels = self.predictor.classes or range(probabilities.shape[1])
            return pd.DataFrame(probabilities, columns=[str(label) for label in labels])
        return np.asarray(self.predictor.predict(model_input))
