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
