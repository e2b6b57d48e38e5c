"""The strategy registry: names used in campaign files -> :class:`Strategy` classes.

The four built-in strategies are registered here; a user's own is registered with
:func:`register_strategy` (its module must be imported before the campaign is planned, e.g.
by the module that defines the campaign's trainable). The contract a strategy keeps is written
on :class:`~.base.Strategy`.

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
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sweepforge.spaces import Space

from .auto import AutoStrategy
from .base import Mode, Strategy, StrategyError
from .bohb import BohbStrategy
from .dehb import DehbStrategy
from .evolutionary import EvolutionaryStrategy
from .grid import GridStrategy
from .optuna_study import OptunaStrategy
from .random_search import RandomStrategy

StrategyT = TypeVar("StrategyT", bound=Strategy)

#: Every strategy by the name campaign files use.
STRATEGIES: dict[str, type[Strategy]] = {}

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def register_strategy(cls: type[StrategyT]) -> type[StrategyT]:
    """Class decorator: makes ``cls`` available to campaign files under ``cls.name``.

    Example:
        >>> @register_strategy
        ... class FirstPoint(Strategy):
        ...     name = "first_point_demo"
        ...     def _propose(self, trial_id):
        ...         return {}
        >>> "first_point_demo" in STRATEGIES
        True
        >>> del STRATEGIES["first_point_demo"]

    Raises:
        StrategyError: ``cls`` is not a :class:`Strategy`, its ``name`` is not lower-case
            letters, digits and ``_`` (at most 40), or another class has that name already.
    """
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyError(f"register_strategy: {cls!r} is not a subclass of Strategy.")
    name = cls.name
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise StrategyError(
            f"register_strategy: {cls.__qualname__}.name = {name!r}; it must be lower-case "
            "letters, digits and '_' (at most 40, starting with a letter): the name campaign "
            "files use."
        )
    known = STRATEGIES.get(name)
    if known is not None and known is not cls:
        raise StrategyError(
            f"register_strategy: the name {name!r} is taken by {known.__module__}."
            f"{known.__qualname__}; choose another `name` for {cls.__qualname__}."
        )
    STRATEGIES[name] = cls
    return cls


for _builtin in (GridStrategy, RandomStrategy, OptunaStrategy, EvolutionaryStrategy, AutoStrategy,
                 BohbStrategy, DehbStrategy):
    register_strategy(_builtin)

# Keyword arguments every strategy takes from the campaign rather than from its options.
_COMMON = ("space", "budget", "seed", "mode", "directions", "n_constraints")


def make_strategy(
    kind: str,
    space: Space,
    *,
    budget: int,
    seed: int,
    mode: Mode,
    directions: Sequence[Mode] | None = None,
    n_constraints: int = 0,
    options: Mapping[str, Any] | None = None,
) -> Strategy:
    """Builds strategy ``kind`` with its ``options``, checking both before anything runs.

    ``directions`` (one ``"max"``/``"min"`` per objective, the first equal to ``mode``) makes a
    multi-objective strategy; it is passed only when there are several, and only to a class
    that sets ``handles_objectives``, so a strategy written for one objective need not take it.

    Raises:
        StrategyError: unknown ``kind`` (the valid names are listed), an option the strategy
            does not take (its options are listed), an option value it rejects, or several
            ``directions`` for a strategy that optimises one objective.
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
    takes = inspect.signature(cls.__init__).parameters
    if n_constraints and "n_constraints" in takes:
        options["n_constraints"] = n_constraints
    if directions is not None and len(directions) > 1:
        if not cls.handles_objectives:
            raise StrategyError(
                f"strategy '{kind}' optimises one objective, but the campaign has "
                f"{len(directions)} (objectives:); give it one objective, or use a strategy "
                "that handles several: "
                f"{', '.join(n for n, c in STRATEGIES.items() if c.handles_objectives)}.")
        return cls(space, budget=budget, seed=seed, mode=mode, directions=tuple(directions),
                   **options)
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
