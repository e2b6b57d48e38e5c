"""A scikit-learn model in Optuna's objective style: `trainable: ./sklearn_model.py:train`.

No epochs, no report: the function fits once and returns its scores, and the fitted model under
"model" (sweepforge logs the best trial's with mlflow.sklearn; README, "From search to model").
"""

from __future__ import annotations

from sklearn.ensemble import HistGradientBoostingClassifier


def train(config, data) -> dict:
    """Fit gradient-boosted trees on the train split; return the validation and test accuracy,
    and the model."""
    model = HistGradientBoostingClassifier(
        learning_rate=config["learning_rate"],
        max_depth=config["max_depth"],
        max_leaf_nodes=config["max_leaf_nodes"],
        l2_regularization=config["l2_regularization"],
        max_iter=config["max_iter"],
    )
    model.fit(data.X_train, data.y_train)
    return {"val_accuracy": float(model.score(data.X_val, data.y_val)),
            "test_accuracy": float(model.score(data.X_test, data.y_test)),
            "model": model}
