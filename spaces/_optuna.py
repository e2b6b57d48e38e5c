"""Space -> Optuna, define-by-run: each active parameter is suggested in dependency order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._params import Categorical, Float, Int

if TYPE_CHECKING:
    import optuna

    from ._space import Space


def suggest(space: Space, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for param in space.params:
        if not space.is_active(param.name, config):
            continue
        if isinstance(param, Float):
            config[param.name] = trial.suggest_float(param.name, param.low, param.high, log=param.log)
        elif isinstance(param, Int):
            config[param.name] = trial.suggest_int(
                param.name, param.low, param.high, step=param.step, log=param.log
            )
        elif isinstance(param, Categorical):
            config[param.name] = trial.suggest_categorical(param.name, param.choices)
    return config
