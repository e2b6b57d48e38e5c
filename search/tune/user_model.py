"""A user's own function may hand back its trained model: the worker saves it with MLflow's own
flavour into the trial's last checkpoint, so the strategy's best trial's model can be logged.

The contract (README, "From search to model"): among the metrics a train function returns, the
key ``"model"`` may hold the trained model. It is taken out of the metrics and saved to the
folder ``model/`` of the checkpoint that goes with the trial's last report, with:

* ``mlflow.sklearn`` for a scikit-learn estimator (anything with ``get_params`` and
  ``predict`` from ``sklearn``),
* ``mlflow.pytorch`` for a ``torch.nn.Module``,
* ``mlflow.pyfunc`` around any other object with a ``predict`` method (:func:`predict_wrapper`).

A model whose class (or a class inside it, or a function its module calls) is the user's own
code carries that code: the files of the user's modules it needs (a top-level module's file, a
package's top folder; never installed packages nor sweepforge's own) go into the model as MLflow's
``code_paths``, and MLflow puts them on ``sys.path`` when the model is loaded, wherever that is.

The model answers as it was trained: on the rows and labels the function trained it on (for a
table, category codes; ``data.classes`` names what each class code stands for).

Saving happens in the worker, where the model is; every trial of such a function saves one, and
the checkpoints of all but each strategy's best trial are deleted as usual. MLflow is imported
only then: a function that returns no model costs its workers no MLflow import.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

MODEL_KEY = "model"
"""The key of a returned metrics dict that holds the trained model."""
MODEL_FOLDER = "model"
"""The folder of a checkpoint that holds the saved model (an MLflow model folder)."""
MODEL_ERROR_FILE = "model-error.txt"
"""The file of a checkpoint saying why the returned model could not be saved (the trial stands)."""
EXAMPLE_ROWS = 5


def take_model(final: Any) -> tuple[Any, Any]:
    """Splits a function's return value into (metrics, model or ``None``)."""
    if isinstance(final, dict) and MODEL_KEY in final and not _is_number(final[MODEL_KEY]):
        metrics = {k: v for k, v in final.items() if k != MODEL_KEY}
        return metrics, final[MODEL_KEY]
    return final, None


def save_user_model(model: Any, data: Any, folder: Path) -> str | None:
    """Saves ``model`` under ``folder`` / :data:`MODEL_FOLDER` with the flavour that fits;
    returns the flavour's name. A model that cannot be saved (no predict method, a flavour's
    error) does not fail the trial: :data:`MODEL_ERROR_FILE` says why, and ``None``."""
    try:
        return _save(model, data, folder)
    except Exception as err:  # noqa: BLE001 (the trial's results stand without its model)
        import shutil
        import traceback

        shutil.rmtree(folder / MODEL_FOLDER, ignore_errors=True)
        text = "".join(traceback.format_exception_only(type(err), err)).strip()
        (folder / MODEL_ERROR_FILE).write_text(text[:5000])
        print(f"sweepforge: the returned model was not saved: {text}")
        return None


def _save(model: Any, data: Any, folder: Path) -> str:
    from mlflow.models import infer_signature

    path = str(folder / MODEL_FOLDER)
    example = _example(data)
    flavour = flavour_of(model)
    try:
        code = code_paths(model)
    except Exception as err:  # noqa: BLE001 (saved without: it loads where the code is)
        code = None
        print(f"sweepforge: the model's own code was not found, not saved with it: {err!r}")
    signature = None
    if example is not None:
        try:
            signature = infer_signature(example, np.asarray(_predict(model, example)))
        except Exception:  # noqa: BLE001 (a signature is a courtesy: the model is saved anyway)
            example, signature = None, None
    if flavour == "sklearn":
        import mlflow.sklearn
        import sklearn

        # cloudpickle, like the pytorch flavour's pickle: the model was made in this worker,
        # and MLflow's skops format refuses many estimators' types (HistGradientBoosting's)
        mlflow.sklearn.save_model(model, path, signature=signature, input_example=example,
                                  serialization_format="cloudpickle", code_paths=code,
                                  pip_requirements=[f"scikit-learn=={sklearn.__version__}"])
    elif flavour == "pytorch":
        import mlflow.pytorch
        import torch

        mlflow.pytorch.save_model(model, path, signature=signature, input_example=example,
                                  serialization_format="pickle", code_paths=code,
                                  pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"])
    else:
        from mlflow import pyfunc

        pyfunc.save_model(path, python_model=predict_wrapper(model), signature=signature,
                          input_example=example, pip_requirements=[], code_paths=code)
    return flavour


def code_paths(model: Any) -> list[str] | None:
    """The user's code that loading ``model`` needs, for MLflow's ``code_paths`` (``None`` for
    none): the modules of the classes it is made of, and the user's modules those import, each
    as the file of a top-level module or the top folder of a package, as this process imports
    them (in a worker: where Ray put the user's folder)."""
    pending = [type(part).__module__ for part in _parts(model)]
    seen: set[str] = set()
    found: dict[str, str] = {}  # name in the model's code/ folder -> path
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _user_code(name)
        if path is None:
            continue
        found.setdefault(Path(path).name, path)
        for value in list(vars(sys.modules[name]).values()):  # what it imports from others
            other = value.__name__ if isinstance(value, ModuleType) else getattr(
                value, "__module__", None)
            if isinstance(other, str):
                pending.append(other)
    return sorted(found.values()) or None


def _parts(model: Any) -> Iterator[Any]:
    """``model`` and the objects it is made of: a torch module's submodules, an estimator's
    parameters (a pipeline's steps)."""
    yield model
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        yield from model.modules()
    elif callable(getattr(model, "get_params", None)):
        try:
            yield from model.get_params(deep=True).values()
        except Exception:  # noqa: BLE001 (then the model's own class is all that is shipped)
            return


def _user_code(module: str) -> str | None:
    """The file or package folder that holds the user's ``module``; ``None`` for a module of
    the environment (the standard library, site-packages), sweepforge's own, or no file."""
    from sweepforge.trainables.user_code import installed_folder, module_root

    top = module.split(".")[0]
    if top in ("__main__", "sweepforge", "builtins") or module not in sys.modules:
        return None
    root = module_root(module)
    if root is None or installed_folder(Path(root)):
        return None
    path = Path(root) / top
    if "." not in module:
        path = Path(sys.modules[module].__file__).resolve()  # a file (module_root checked it)
    return str(path) if path.exists() else None


def flavour_of(model: Any) -> str:
    """``sklearn``, ``pytorch`` or ``pyfunc``; ``TypeError`` for an object with no predict."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        return "pytorch"
    if not callable(getattr(model, "predict", None)):
        raise TypeError(
            f"the function returned {MODEL_KEY!r}: a {type(model).__name__}, which has no "
            "predict method: return a scikit-learn estimator, a torch.nn.Module or an object "
            "with predict(rows)")
    if type(model).__module__.split(".")[0] == "sklearn" or (
            "sklearn" in sys.modules and hasattr(model, "get_params")):
        return "sklearn"
    return "pyfunc"


def _predict(model: Any, rows: np.ndarray) -> Any:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        with torch.no_grad():
            return model(torch.from_numpy(rows)).numpy()
    return model.predict(rows)


def _example(data: Any) -> np.ndarray | None:
    rows = getattr(data, "X_test", None)
    if rows is None:
        return None
    try:
        return np.ascontiguousarray(rows[:EXAMPLE_ROWS], dtype=np.float32)
    except (TypeError, ValueError):
        return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def predict_wrapper(model: Any) -> Any:
    """MLflow's pyfunc (a ``PythonModel``) around a user's object with ``predict(rows)``. The
    class is made here, not at import: MLflow warns about its untyped ``predict`` when it is
    defined (typed, MLflow would read the hints as an input schema); cloudpickle saves it by
    value, so loading the model does not need sweepforge."""
    import warnings

    from mlflow import pyfunc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)

        class PredictWrapper(pyfunc.PythonModel):
            def __init__(self, wrapped: Any):
                self.model = wrapped

            def predict(self, context, model_input, params=None):
                return self.model.predict(model_input)

    return PredictWrapper(model)
