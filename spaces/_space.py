"""The :class:`Space`: an ordered, validated set of parameters with conditions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _encoding, _grid
from ._loading import param_from_dict
from ._params import Categorical, Float, Param, SpaceError

if TYPE_CHECKING:
    import optuna


class Space:
    """A search space: typed parameters, some active only under a condition.

    Parameters are kept in dependency order (a condition's parent before its children), so
    every translator can fill a config front to back. A config holds exactly the *active*
    parameters; an inactive one is absent, not ``None``.

    Example:
        >>> space = Space.from_dict({
        ...     "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        ...     "optimizer": ["sgd", "momentum", "adam"],
        ...     "momentum": {"type": "float", "low": 0.5, "high": 0.99,
        ...                  "when": {"optimizer": ["momentum"]}},
        ... })
        >>> config = space.sample(np.random.default_rng(0))
        >>> space.validate(config)
    """

    def __init__(self, params: Iterable[Param]):
        params = list(params)
        if not params:
            raise SpaceError("a search space needs at least one parameter, got none.")
        by_name: dict[str, Param] = {}
        for param in params:
            if param.name in by_name:
                raise SpaceError(f"parameter '{param.name}' is defined twice.")
            by_name[param.name] = param
        for param in params:
            _check_condition(param, by_name)
        self._params: tuple[Param, ...] = tuple(_dependency_order(params, by_name))
        self._by_name = by_name

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> Space:
        """Builds a space from a YAML-style mapping (see :mod:`sweepforge.spaces._loading`)."""
        if not isinstance(mapping, Mapping):
            raise SpaceError(f"a space must be a mapping of parameter name -> spec, got {mapping!r}.")
        return cls(param_from_dict(str(name), spec) for name, spec in mapping.items())

    # --- container protocol -------------------------------------------------------------
    @property
    def params(self) -> tuple[Param, ...]:
        """The parameters, parents before the parameters conditioned on them."""
        return self._params

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names in dependency order."""
        return tuple(p.name for p in self._params)

    def __getitem__(self, name: str) -> Param:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Param]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return f"Space({list(self._params)!r})"

    # --- validity ----------------------------------------------------------------------
    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """True when parameter ``name`` applies given the (partial) ``config``."""
        when = self._by_name[name].when
        return when is None or when.holds(dict(config))

    def validate(self, config: Mapping[str, Any]) -> None:
        """Raises :class:`SpaceError` unless ``config`` holds exactly the active parameters,
        each within its bounds."""
        unknown = sorted(set(config) - set(self._by_name))
        if unknown:
            raise SpaceError(f"config has unknown parameter(s) {unknown}; the space has {list(self.names)}.")
        for param in self._params:
            active = self.is_active(param.name, config)
            if active and param.name not in config:
                raise SpaceError(f"config lacks active parameter '{param.name}'.")
            if not active and param.name in config:
                raise SpaceError(
                    f"config sets '{param.name}' but its condition "
                    f"{param.when.parent} in {list(param.when.values)} does not hold."  # type: ignore[union-attr]
                )
            if active and not param.contains(config[param.name]):
                raise SpaceError(f"config value {param.name}={config[param.name]!r} is outside {param}.")

    # --- translators --------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draws one config uniformly (log-uniformly where ``log``) from a seeded generator.

        A uniform point of the unit cube, decoded: see :meth:`decode` for the mapping.
        """
        return self.decode(rng.random(len(self._params)))

    def grid_size(self, levels: int) -> int:
        """Number of grid points when each continuous parameter is cut into ``levels`` levels."""
        return _grid.size(self, levels)

    def grid_point(self, index: int, levels: int) -> dict[str, Any]:
        """The ``index``-th point of the grid (0 <= index < ``grid_size(levels)``)."""
        return _grid.point(self, index, levels)

    def iter_grid(self, levels: int) -> Iterator[dict[str, Any]]:
        """Every grid point, in lexicographic order of the parameters."""
        return (self.grid_point(i, levels) for i in range(self.grid_size(levels)))

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """Maps a config into the unit cube, one coordinate per parameter."""
        return _encoding.encode(self, config)

    def decode(self, vector: Iterable[float]) -> dict[str, Any]:
        """Maps a point of the unit cube (clipped into it) back to a valid config."""
        return _encoding.decode(self, vector)

    def suggest(self, trial: optuna.trial.BaseTrial, *,
                relax_ints_wider_than: int | None = None) -> dict[str, Any]:
        """Fills a config through an Optuna trial, define-by-run; inactive params are not asked.

        ``relax_ints_wider_than=n``: ints with more than ``n`` values are asked as floats and
        rounded (the trial holds the float, the config the int), which spares Optuna's GP a
        discrete search over every value.
        """
        from ._optuna import suggest

        return suggest(self, trial, relax_ints_wider_than=relax_ints_wider_than)


def _check_condition(param: Param, by_name: Mapping[str, Param]) -> None:
    when = param.when
    if when is None:
        return
    if when.parent == param.name:
        raise SpaceError(f"parameter '{param.name}': a condition cannot refer to the parameter itself.")
    parent = by_name.get(when.parent)
    if parent is None:
        raise SpaceError(
            f"parameter '{param.name}': `when` refers to unknown parameter '{when.parent}'; "
            f"known parameters are {sorted(by_name)}."
        )
    if isinstance(parent, Float):
        raise SpaceError(
            f"parameter '{param.name}': `when` must refer to a categorical or int parameter, "
            f"but '{when.parent}' is a float."
        )
    for value in when.values:
        if not parent.contains(value):
            allowed = list(parent.choices) if isinstance(parent, Categorical) else parent.values()
            raise SpaceError(
                f"parameter '{param.name}': `when: {{{when.parent}: ...}}` lists {value!r}, which "
                f"'{when.parent}' never takes; its values are {allowed}."
            )


def _dependency_order(params: list[Param], by_name: Mapping[str, Param]) -> list[Param]:
    ordered: list[Param] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def place(param: Param) -> None:
        if param.name in placed:
            return
        if param.name in visiting:
            raise SpaceError(f"parameter '{param.name}': its conditions form a cycle.")
        visiting.add(param.name)
        if param.when is not None:
            place(by_name[param.when.parent])
        visiting.discard(param.name)
        placed.add(param.name)
        ordered.append(param)

    for param in params:
        place(param)
    return ordered

