"""Search strategies: the ask/tell contract (:mod:`.base`), the built-in strategies and the
registry that maps the names used in campaign files to strategy classes (:mod:`.registry`).

A strategy never touches Ray or MLflow; it can be driven by a plain Python loop. To add one,
subclass :class:`~.base.Strategy` and register it with :func:`~.registry.register_strategy`.
"""

from typing import TYPE_CHECKING, Any

from .base import Mode, Strategy, StrategyError, TrialResult, TrialSpec, TrialState

if TYPE_CHECKING:
    from .registry import STRATEGIES, make_strategy, register_strategy


def __getattr__(name: str) -> Any:
    # the registry imports every strategy (Optuna, DEAP): only when asked for, so that a Ray
    # worker, which needs TrialResult and TrialState alone, stays free of them (PEP 562)
    if name in ("STRATEGIES", "make_strategy", "register_strategy"):
        from . import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "STRATEGIES",
    "Mode",
    "Strategy",
    "StrategyError",
    "TrialResult",
    "TrialSpec",
    "TrialState",
    "make_strategy",
    "register_strategy",
]
