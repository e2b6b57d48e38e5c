"""Users' own train functions and loaders, named by campaigns in tests/search/test_own_model.py
as ``tests.search.own_model_functions:NAME`` (a module reference) or passed as functions to
``Campaign.from_dict``. Ray workers import this module by its name, as they would a user's
installed package. Nothing here imports sweepforge: it is the user's code.
"""

from __future__ import annotations

import numpy as np


def load_blobs() -> tuple[np.ndarray, np.ndarray]:
    """120 rows of 4 features, two classes (a tiny stand-in for the user's data)."""
    rng = np.random.default_rng(0)
    y = np.arange(120) % 2
    X = rng.normal(size=(120, 4)) + y[:, None]
    return X.astype(np.float32), y


def score_by_x(config, data, report=None):
    """One report per epoch; ``val_accuracy`` is ``x`` each epoch (so a scheduler sees clearly
    better and worse trials); ``test_accuracy`` comes with the return value only."""
    metrics = {}
    for epoch in range(1, config["epochs"] + 1):
        metrics = {"epoch": epoch, "val_accuracy": config["x"], "train_loss": 1.0 - config["x"]}
        if report is not None:
            report(metrics)
    return {**metrics, "test_accuracy": config["x"] / 2}


def closest_to_half(config, data) -> float:
    """Optuna's objective style: one number, no report."""
    assert data.X_train.shape[1] == 4  # the loader's data, split by sweepforge
    return 1.0 - abs(config["x"] - 0.5)


def reports_something_else(config, data, report=None):
    """Never gives the campaign's ``val_accuracy``: ``style`` "report" reports ``val_acc`` each
    epoch, "return" reports nothing and returns ``{"val_acc": ...}``."""
    if config["style"] == "report":
        for epoch in range(1, config["epochs"] + 1):
            report({"epoch": epoch, "val_acc": 0.5, "train_loss": 0.5})
    return {"val_acc": 0.5}


def fit_logistic(config, data):
    """A scikit-learn estimator, returned under "model" with its scores."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=config["C"], max_iter=500).fit(data.X_train, data.y_train)
    return {"val_accuracy": float(model.score(data.X_val, data.y_val)),
            "test_accuracy": float(model.score(data.X_test, data.y_test)), "model": model}


class Threshold:
    """Not scikit-learn, not torch: an object with predict (saved with MLflow's pyfunc)."""

    def __init__(self, cut):
        self.cut = cut

    def predict(self, rows):
        return (np.asarray(rows).mean(axis=1) > self.cut).astype(np.int64)


def fit_threshold(config, data):
    model = Threshold(config["C"] - 1.0)
    score = float((model.predict(data.X_val) == data.y_val).mean())
    return {"val_accuracy": score, "model": model}


def returns_no_predictor(config, data):
    """A "model" that cannot predict: the trial stands, the strategy run says why."""
    return {"val_accuracy": config["C"] / 10, "model": {"weights": [1, 2, 3]}}
