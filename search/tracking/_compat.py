"""Every private or undocumented MLflow API sweepforge relies on, in one place.

Each use says what it relies on, and ``tests/search/test_mlflow_compat.py`` checks each against
the installed MLflow, failing with the MLflow version in the message. The rest of sweepforge
never reaches into MLflow's internals itself.

Tested with MLflow 3.17 (see README, "Tested versions").
"""

from __future__ import annotations


def registered_model_name_problem(name: str) -> str | None:
    """Why the Model Registry would refuse ``name`` for a registered model (MLflow's own
    message), or ``None`` when it takes it. Relies on
    ``mlflow.utils.validation._validate_model_name`` (private: the check every registry store
    runs on a new name), so a campaign file is checked before anything is trained or written.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_name

    try:
        _validate_model_name(name)
    except MlflowException as err:
        return err.message
    return None
