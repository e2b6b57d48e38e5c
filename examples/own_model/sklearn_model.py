"""A scikit-learn model in Optuna's objective style: `trainable: ./sklearn_model.py:train`.

No epochs, no report: the function fits once and returns the campaign's metric as one float.
"""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier


def train(config, data) -> float:
    """Fit gradient-boosted trees on the train split; return the validation accuracy."""
    model = HistGradientBoostingClassifier(
        learning_rate=config["learning_rate"],
        max_depth=config["max_depth"],
        max_leaf_nodes=config["max_leaf_nodes"],
        l2_regularization=config["l2_regularization"],
        max_iter=config["max_iter"],
    )
    model.fit(data.X_train, data.y_train)
    return float(model.score(data.X_val, data.y_val))
