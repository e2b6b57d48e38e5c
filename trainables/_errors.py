"""The one error type of :mod:`sweepforge.trainables` and the helpers that word its messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConfigError(ValueError):
    """A knob value, field name, dataset or trainable name is not allowed.

    The message names what was given and what is allowed; ``field`` names the offending config
    field (or argument) when there is one, so a caller can point at the line of a YAML file.

    Example:
        >>> err = ConfigError("dropout=1.2 is out of range; it must satisfy 0 <= dropout < 1",
        ...                   field="dropout")
        >>> err.field
        'dropout'
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> tuple:
        # Keep ``field`` when the error is pickled (e.g. raised in a Ray worker).
        return (_rebuild, (str(self), self.field))


# Shown, and pickled, under its public home rather than this private module.
ConfigError.__module__ = "sweepforge.trainables"


def _rebuild(message: str, field: str | None) -> ConfigError:
    return ConfigError(message, field=field)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choices to ``name``, or ``""``.

    Matching ignores case, so ``"MLP"`` finds ``"mlp"``.

    Example:
        >>> did_you_mean("adamx", ["adam", "adamw", "sgd"])
        " (did you mean 'adam' or 'adamw'?)"
    """
    by_lower = {choice.lower(): choice for choice in choices}
    lowered = str(name).lower()
    if lowered in by_lower:
        return f" (did you mean {by_lower[lowered]!r}?)"
    found = difflib.get_close_matches(lowered, list(by_lower), n=3, cutoff=0.6)
    matches = [by_lower[m] for m in found]
    if not matches:
        return ""
    return " (did you mean " + " or ".join(repr(m) for m in matches) + "?)"


def unknown_name_error(kind: str, name: object, known: Iterable[str]) -> ConfigError:
    """Build the error for a name that is not in a registry, listing the known names.

    Example:
        >>> str(unknown_name_error("dataset", "digit", ["digits", "iris"]))
        "unknown dataset 'digit' (did you mean 'digits'?); known datasets: digits, iris"
    """
    known = list(known)
    return ConfigError(
        f"unknown {kind} {name!r}{did_you_mean(str(name), known)}; "
        f"known {kind}s: {', '.join(known) or '(none)'}"
    )
