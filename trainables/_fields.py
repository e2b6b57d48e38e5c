"""Coercion and checks for the fields of a trainable's config dataclass.

Search backends and YAML hand over values in loose types: an Optuna int for a float field,
``64.0`` for an int field, or the string ``"1e-3"`` (PyYAML reads ``1e-3`` without a dot as a
string). :func:`coerce_fields` turns them into the declared ``int`` / ``float`` / ``str`` /
``bool`` types; the ``check_*`` helpers state the rule and the value when one is broken.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
import re
import sys
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ._errors import ConfigError, did_you_mean


@functools.cache
def field_types(config_cls: type) -> dict[str, Any]:
    """Return ``{field name: resolved annotation}`` for a dataclass type, in field order."""
    if not (isinstance(config_cls, type) and dataclasses.is_dataclass(config_cls)):
        raise TypeError(f"config_cls must be a dataclass type, got {config_cls!r}")
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_cls) if f.init}


_FIELD_COMMENT = re.compile(r"^\s+(\w+)\s*:[^=#]*=.*?#\s*(.+)$")
_ONE_OF = re.compile(r"\bone of ([A-Z][A-Z0-9_]*)\b")


def field_descriptions(config_cls: type) -> dict[str, str]:
    """``{field name: what it means}``: the comment beside each field in the config's source
    (every bundled family writes one), where ``one of NAME`` lists the values of ``NAME`` as an
    error message does. Fields without a comment are left out.

    ``NAME`` is looked up in the config's module, then among the named components
    (``OPTIMIZERS``, ``INITIALIZERS``, ``ACTIVATIONS``); a name that is not a collection of
    strings stays as written.

    Example:
        >>> from sweepforge.trainables.mlp import MLPConfig
        >>> field_descriptions(MLPConfig)["activation"]  # doctest: +ELLIPSIS
        'hidden-layer activation, one of: sigmoid, tanh, relu, leaky_relu, prelu, elu, ...'
    """
    try:
        source = inspect.getsource(config_cls)
    except (OSError, TypeError):  # defined in a REPL or generated
        return {}
    module = sys.modules.get(config_cls.__module__)
    namespace = vars(module) if module is not None else {}

    def spell_out(match: re.Match[str]) -> str:
        values = _vocabulary(match.group(1), namespace)
        return f"one of: {', '.join(values)}" if values else match.group(0)

    comments = {
        m.group(1): _ONE_OF.sub(spell_out, m.group(2).strip())
        for m in map(_FIELD_COMMENT.match, source.splitlines())
        if m
    }
    return {name: comments[name] for name in field_types(config_cls) if name in comments}


def _vocabulary(name: str, namespace: Mapping[str, Any]) -> tuple[str, ...] | None:
    values = namespace.get(name)
    if values is None:
        from . import components  # the named components: optimizers, initializers, activations

        values = getattr(components, name, None)
    if isinstance(values, Mapping):
        values = tuple(values)
    if isinstance(values, (tuple, list)) and values and all(isinstance(v, str) for v in values):
        return tuple(values)
    return None


def coerce_value(name: str, value: Any, annotation: Any) -> Any:
    """Convert ``value`` to the declared ``int``, ``float``, ``str`` or ``bool`` type.

    Other annotations pass the value through unchanged.

    Example:
        >>> coerce_value("lr", "1e-3", float)
        0.001
        >>> coerce_value("batch_size", 64.0, int)
        64
    """
    if annotation is float:
        return _to_float(name, value)
    if annotation is int:
        return _to_int(name, value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}={value!r} is not a string", field=name)
        return str(value)
    if annotation is bool:
        if _is_bool(value):
            return bool(value)
        raise ConfigError(f"{name}={value!r} is not a boolean; use true or false", field=name)
    return value


def coerce_fields(config_cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """Coerce every entry of ``values`` to the type its field declares in ``config_cls``."""
    types = field_types(config_cls)
    return {key: coerce_value(key, value, types.get(key, Any)) for key, value in values.items()}


def coerce_instance(config: Any) -> None:
    """Coerce the fields of a (possibly frozen) dataclass instance in place.

    Call it first thing in a config's ``__post_init__`` so direct construction accepts the same
    loose types as :meth:`TrainableSpec.make_config`.
    """
    for key, annotation in field_types(type(config)).items():
        object.__setattr__(config, key, coerce_value(key, getattr(config, key), annotation))


def check_range(
    name: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise :class:`ConfigError` unless ``value`` is finite and within the bounds.

    Example:
        >>> check_range("dropout", 1.2, low=0, high=1, high_open=True)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: dropout=1.2 is out of range; it must satisfy 0 <= ...
    """
    rule = _rule(name, low, high, low_open, high_open)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"{name}={value!r} is not a finite number; it must satisfy {rule}", field=name
        )
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        raise ConfigError(f"{name}={value!r} is out of range; it must satisfy {rule}", field=name)


def check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``.

    Example:
        >>> check_choice("optimizer", "adamx", ("sgd", "adam"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: optimizer='adamx' is not allowed; ... (did you mean ...?)
    """
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(
            f"{name}={value!r} is not allowed; choose one of: {', '.join(choices)}"
            f"{did_you_mean(str(value), choices)}",
            field=name,
        )


def _rule(name: str, low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = f"{_fmt(low)} {'<' if low_open else '<='} " if low is not None else ""
    right = f" {'<' if high_open else '<='} {_fmt(high)}" if high is not None else ""
    if low is not None and high is None:
        return f"{name} {'>' if low_open else '>='} {_fmt(low)}"
    return f"{left}{name}{right}"


def _fmt(bound: float | None) -> str:
    return repr(int(bound)) if isinstance(bound, float) and bound.is_integer() else repr(bound)


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _to_float(name: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not a number", field=name) from None
    if isinstance(value, numbers.Real) and not _is_bool(value):
        return float(value)
    raise ConfigError(f"{name}={value!r} is not a number", field=name)


def _to_int(name: str, value: Any) -> int:
    if isinstance(value, numbers.Integral) and not _is_bool(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    if isinstance(value, (str, numbers.Real)) and not _is_bool(value):
        number = _to_float(name, value)
        if math.isfinite(number) and number.is_integer():
            return int(number)
    raise ConfigError(f"{name}={value!r} is not an integer", field=name)
