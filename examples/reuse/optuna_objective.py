"""A sweepforge trainable as a plain Optuna objective, with pruning after each epoch.

    python examples/reuse/optuna_objective.py

Optuna proposes the knobs; the trainable's ``report`` callback hands each epoch's validation
accuracy to ``trial.report`` so the median pruner can stop poor trials early.
"""

from __future__ import annotations

import optuna

from sweepforge.trainables import get_trainable, load_dataset

SPEC = get_trainable("mlp")
DATA = load_dataset("digits", seed=0)  # loaded once, shared by every trial


def objective(trial: optuna.Trial, epochs: int = 8) -> float:
    config = {
        "lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        "optimizer": trial.suggest_categorical("optimizer", ["sgd", "nesterov", "adam"]),
        "depth": trial.suggest_int("depth", 1, 3),
        "width": trial.suggest_int("width", 16, 128, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.4),
        "epochs": epochs,
    }

    def report(metrics: dict[str, float]) -> None:
        trial.report(metrics["val_accuracy"], step=int(metrics["epoch"]))
        if trial.should_prune():
            raise optuna.TrialPruned()

    return SPEC.train(config, DATA, report, seed=trial.number)["val_accuracy"]


def main(n_trials: int = 20, epochs: int = 8) -> optuna.Study:
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    study.optimize(lambda trial: objective(trial, epochs), n_trials=n_trials)
    print(f"best val_accuracy {study.best_value:.3f} with {study.best_params}")
    return study


if __name__ == "__main__":
    main()
