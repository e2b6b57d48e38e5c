"""Typed search-space parameters: float, int and categorical, each with an optional condition.

Every constructor validates its arguments and raises :class:`SpaceError` stating the rule that
must hold and the values that were given, naming the parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Choice = str | int | float | bool | None


class SpaceError(ValueError):
    """A search space (or a config checked against it) is invalid."""


@dataclass(frozen=True)
class Condition:
    """Makes a parameter active only when another parameter takes one of some values.

    Example:
        >>> Condition(parent="optimizer", values=("momentum", "nesterov")).holds({"optimizer": "adam"})
        False
    """

    parent: str
    values: tuple[Choice, ...]

    def holds(self, config: dict[str, Any]) -> bool:
        """True when the parent is present in ``config`` with one of the allowed values.

        Values match by type too, as in :meth:`Categorical.contains`: ``1`` is not ``True``.
        """
        if self.parent not in config:
            return False
        value = config[self.parent]
        return any(type(value) is type(v) and value == v for v in self.values)


@dataclass(frozen=True)
class Float:
    """A real-valued parameter on ``[low, high]``, uniform or log-uniform.

    Example:
        >>> Float("lr", 1e-4, 1e-1, log=True).log
        True
    """

    name: str
    low: float
    high: float
    log: bool = False
    when: Condition | None = field(default=None, compare=True)

    def __post_init__(self) -> None:
        _check_name(self.name)
        for label in ("low", "high"):
            value = getattr(self, label)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SpaceError(f"parameter '{self.name}': `{label}` must be a number, got {value!r}.")
            if not math.isfinite(value):
                raise SpaceError(f"parameter '{self.name}': `{label}` must be finite, got {value!r}.")
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        _check_range(self.name, self.low, self.high, self.log)
        if not math.isfinite(self.high - self.low):
            raise SpaceError(
                f"parameter '{self.name}': `high - low` must be a finite number, but got "
                f"low={self.low}, high={self.high}."
            )

    def contains(self, value: Any) -> bool:
        """True when ``value`` is a number within the bounds."""
        return _is_number(value) and self.low <= value <= self.high


@dataclass(frozen=True)
class Int:
    """An integer parameter on ``[low, high]`` with a ``step``, uniform or log-uniform.

    ``high`` must be reachable from ``low`` in whole steps. A log-scaled int needs ``step == 1``
    (the rule Optuna applies too).

    Example:
        >>> Int("depth", 1, 4).values()
        [1, 2, 3, 4]
    """

    name: str
    low: int
    high: int
    log: bool = False
    step: int = 1
    when: Condition | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        for label in ("low", "high", "step"):
            value = getattr(self, label)
            if isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, float) and value.is_integer())
            ):
                raise SpaceError(f"parameter '{self.name}': `{label}` must be an integer, got {value!r}.")
            object.__setattr__(self, label, int(value))
        if self.step < 1:
            raise SpaceError(f"parameter '{self.name}': `step >= 1` must hold, but got step={self.step}.")
        _check_range(self.name, self.low, self.high, self.log)
        if self.log and self.step != 1:
            raise SpaceError(
                f"parameter '{self.name}': a log-scaled int must have step=1, but got step={self.step}."
            )
        if (self.high - self.low) % self.step:
            raise SpaceError(
                f"parameter '{self.name}': `high - low` must be a multiple of step, but got "
                f"low={self.low}, high={self.high}, step={self.step}."
            )

    @property
    def n_values(self) -> int:
        """How many values the parameter can take."""
        return (self.high - self.low) // self.step + 1

    def values(self) -> list[int]:
        """Every value the parameter can take, in increasing order."""
        return list(range(self.low, self.high + 1, self.step))

    def contains(self, value: Any) -> bool:
        """True when ``value`` is an int on the grid ``low, low + step, ..., high``."""
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and self.low <= value <= self.high
            and (value - self.low) % self.step == 0
        )


@dataclass(frozen=True)
class Categorical:
    """A parameter taking one of a fixed tuple of choices (str, int, float, bool or None).

    Example:
        >>> Categorical("optimizer", ("sgd", "adam")).choices
        ('sgd', 'adam')
    """

    name: str
    choices: tuple[Choice, ...]
    when: Condition | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        if isinstance(self.choices, (str, bytes)) or not hasattr(self.choices, "__iter__"):
            raise SpaceError(
                f"parameter '{self.name}': `choices` must be a list, got {self.choices!r}."
            )
        choices = tuple(self.choices)
        if not choices:
            raise SpaceError(f"parameter '{self.name}': `choices` must not be empty.")
        for choice in choices:
            if choice is not None and not isinstance(choice, (str, int, float, bool)):
                raise SpaceError(
                    f"parameter '{self.name}': each choice must be a str, int, float, bool or "
                    f"null, got {choice!r}."
                )
        if len(set(map(repr, choices))) != len(choices):
            raise SpaceError(f"parameter '{self.name}': `choices` has duplicates: {list(choices)}.")
        object.__setattr__(self, "choices", choices)

    def contains(self, value: Any) -> bool:
        """True when ``value`` is one of the choices (type included: 1 is not True)."""
        return any(type(value) is type(c) and value == c for c in self.choices)

    def index(self, value: Any) -> int:
        """Position of ``value`` among the choices."""
        for i, choice in enumerate(self.choices):
            if type(value) is type(choice) and value == choice:
                return i
        raise SpaceError(f"parameter '{self.name}': {value!r} is not one of {list(self.choices)}.")


Param = Float | Int | Categorical


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise SpaceError(f"parameter names must be identifiers (letters, digits, _), got {name!r}.")


def _check_range(name: str, low: float, high: float, log: bool) -> None:
    if low > high:
        raise SpaceError(f"parameter '{name}': `low <= high` must hold, but got low={low}, high={high}.")
    if log and low <= 0:
        raise SpaceError(
            f"parameter '{name}': a log-scaled range needs `low > 0`, but got low={low}, high={high}."
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
