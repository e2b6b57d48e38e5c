"""Space -> Optuna, define-by-run: each active parameter is suggested in dependency order.

``relax_ints_wider_than=n`` asks every int parameter with more than ``n`` values as a float on
``[low - step/2, high + step/2]`` (log-scaled when the int is) and rounds it to the nearest step.
The config holds the int; the trial holds the float. Optuna's ``GPSampler`` optimises its
acquisition function over an int by a discrete line search over its values, which on a space
with a batch size of 16-512 and a width of 64-1,024 is most of an ask's time; over a float it
follows the gradient. Whoever relaxes must relax in every study that shares trials, since a
parameter whose distribution differs between trials drops out of a sampler's search space.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._params import Categorical, Float, Int

if TYPE_CHECKING:
    import optuna

    from ._space import Space


def suggest(space: Space, trial: optuna.trial.BaseTrial, *,
            relax_ints_wider_than: int | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for param in space.params:
        if not space.is_active(param.name, config):
            continue
        if isinstance(param, Float):
            config[param.name] = trial.suggest_float(param.name, param.low, param.high, log=param.log)
        elif isinstance(param, Int) and relax_ints_wider_than is not None \
                and param.n_values > relax_ints_wider_than:
            config[param.name] = _relaxed_int(param, trial)
        elif isinstance(param, Int):
            config[param.name] = trial.suggest_int(
                param.name, param.low, param.high, step=param.step, log=param.log
            )
        elif isinstance(param, Categorical):
            config[param.name] = trial.suggest_categorical(param.name, param.choices)
    return config


def _relaxed_int(param: Int, trial: optuna.trial.BaseTrial) -> int:
    half = param.step / 2
    value = trial.suggest_float(param.name, param.low - half, param.high + half, log=param.log)
    steps = round((value - param.low) / param.step)
    return int(min(max(param.low + steps * param.step, param.low), param.high))
