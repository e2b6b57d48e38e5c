"""Reads a search space from a plain mapping (a YAML ``space:`` section).

Format, one entry per parameter::

    lr:        {type: float, low: 1.0e-4, high: 0.1, log: true}
    depth:     {type: int, low: 1, high: 4}
    width:     {type: int, low: 16, high: 256, log: true}
    optimizer: {type: categorical, choices: [sgd, momentum, adam]}
    momentum:  {type: float, low: 0.5, high: 0.99, when: {optimizer: [momentum]}}
    activation: [relu, tanh]          # a bare list is shorthand for a categorical

Numbers written as strings (PyYAML reads ``1e-4`` as the string "1e-4") are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._params import Categorical, Condition, Float, Int, Param, SpaceError

_KEYS = {
    "float": {"type", "low", "high", "log", "when"},
    "int": {"type", "low", "high", "log", "step", "when"},
    "categorical": {"type", "choices", "when"},
}


def param_from_dict(name: str, spec: Any) -> Param:
    """Builds one parameter from its YAML entry; errors name the parameter and the field."""
    if isinstance(spec, (list, tuple)):
        spec = {"type": "categorical", "choices": list(spec)}
    if not isinstance(spec, Mapping):
        raise SpaceError(
            f"parameter '{name}': expected a mapping such as {{type: float, low: 0.0, high: 1.0}} "
            f"or a list of choices, got {spec!r}."
        )
    kind = spec.get("type")
    if kind not in _KEYS:
        raise SpaceError(
            f"parameter '{name}': `type` must be one of {sorted(_KEYS)}, got {kind!r}."
        )
    unknown = sorted(set(spec) - _KEYS[kind])
    if unknown:
        raise SpaceError(
            f"parameter '{name}': unknown key(s) {unknown} for type '{kind}'; "
            f"allowed keys are {sorted(_KEYS[kind])}."
        )
    required = ["choices"] if kind == "categorical" else ["low", "high"]
    missing = [key for key in required if key not in spec]
    if missing:
        raise SpaceError(f"parameter '{name}': missing required key(s) {missing}.")
    when = _condition_from_dict(name, spec["when"]) if spec.get("when") is not None else None
    log = _as_bool(name, "log", spec.get("log", False))
    if kind == "float":
        return Float(name, _as_number(name, "low", spec["low"]), _as_number(name, "high", spec["high"]),
                     log=log, when=when)
    if kind == "int":
        return Int(name, _as_number(name, "low", spec["low"]), _as_number(name, "high", spec["high"]),
                   log=log, step=_as_number(name, "step", spec.get("step", 1)), when=when)
    return Categorical(name, spec["choices"], when=when)


def _condition_from_dict(name: str, when: Any) -> Condition:
    if not isinstance(when, Mapping) or len(when) != 1:
        raise SpaceError(
            f"parameter '{name}': `when` must name exactly one parameter and its values, e.g. "
            f"{{optimizer: [momentum, nesterov]}}, got {when!r}."
        )
    ((parent, values),) = when.items()
    if not isinstance(values, (list, tuple)):
        values = [values]
    if not values:
        raise SpaceError(f"parameter '{name}': `when: {{{parent}: ...}}` lists no values.")
    return Condition(parent=str(parent), values=tuple(values))


def _as_number(name: str, key: str, value: Any) -> float | int:
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise SpaceError(f"parameter '{name}': `{key}` must be a number, got {value!r}.") from None
        return int(number) if number.is_integer() and key == "step" else number
    return value


def _as_bool(name: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpaceError(f"parameter '{name}': `{key}` must be true or false, got {value!r}.")
    return value
