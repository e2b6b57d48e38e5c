"""The strategy registry: names used in campaign files -> :class:`Strategy` classes.

Example:
    >>> from sweepforge.spaces import Space
    >>> space = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    >>> make_strategy("optuna", space, budget=10, seed=0, mode="max",
    ...               options={"sampler": "random"}).name
    'optuna'
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from typing import Any

from sweepforge.spaces import Space

from .base import Mode, Strategy, StrategyError
from .evolutionary import EvolutionaryStrategy
from .grid import GridStrategy
from .optuna_study import OptunaStrategy
from .random_search import RandomStrategy

#: Every strategy by the name campaign files use.
STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (GridStrategy, RandomStrategy, OptunaStrategy, EvolutionaryStrategy)
}

# Keyword arguments every strategy takes from the campaign rather than from its options.
_COMMON = ("space", "budget", "seed", "mode")


def make_strategy(
    kind: str,
    space: Space,
    *,
    budget: int,
    seed: int,
    mode: Mode,
    options: Mapping[str, Any] | None = None,
) -> Strategy:
    """Builds strategy ``kind`` with its ``options``, checking both before anything runs.

    Raises:
        StrategyError: unknown ``kind`` (the valid names are listed), an option the strategy
            does not take (its options are listed), or an option value it rejects.
    """
    cls = STRATEGIES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise StrategyError(
            f"unknown strategy {kind!r}{_did_you_mean(kind, STRATEGIES)}; "
            f"valid strategies are {sorted(STRATEGIES)}."
        )
    options = dict(options or {})
    valid = strategy_options(cls)
    for option in options:
        if option not in valid:
            raise StrategyError(
                f"strategy '{kind}' has no option {option!r}{_did_you_mean(option, valid)}; "
                f"its options are {sorted(valid) or 'none'}."
            )
    return cls(space, budget=budget, seed=seed, mode=mode, **options)


def strategy_options(cls: type[Strategy]) -> dict[str, Any]:
    """The options of a strategy class and their defaults (its keyword-only parameters)."""
    params = inspect.signature(cls.__init__).parameters.values()
    return {
        p.name: p.default
        for p in params
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in _COMMON
    }


def _did_you_mean(word: Any, candidates: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(str(word), list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
