"""A user's own train function as a trainable: the same :class:`~.registry.TrainableSpec` the
bundled families are, so campaigns, strategies, schedulers and resume treat it alike.

The contract (README, "Search your own model"):
``train(config, data, report=None, *, device="cpu", seed=0, checkpoint=None)``.

- ``config`` is a plain ``dict`` of the knobs, searched and ``fixed:``, unless the function's
  ``config`` parameter is annotated with a dataclass: then it gets that dataclass (defaults
  filled in, ``epochs`` from the budget's ``max_epochs`` when it has such a field and the
  campaign does not set it), and knob names, types and ranges are checked while planning, as
  for the bundled trainables.
- Keyword arguments the function does not accept are not passed.
- ``report(metrics)`` once per epoch; the return value is the final metrics. A function that
  returns a single number is one result for the campaign's metric (Optuna's objective style).
- Nothing here needs torch: a scikit-learn or XGBoost function works too.

Example:
    >>> def train(config, data):
    ...     return 1.0 - config["lr"]
    >>> spec = function_trainable(train, name="demo:train", metric="val_score", knobs=["lr"])
    >>> spec.train({"lr": 0.25}, data=None)
    {'val_score': 0.75}
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import ConfigError
from .datasets import TASKS, Dataset
from .registry import TrainableSpec, get_trainable
from .user_code import FunctionRef, is_function_ref

_PASSED = ("report", "device", "seed", "checkpoint")


@dataclass(frozen=True)
class FunctionTrainableSpec(TrainableSpec):
    """A :class:`TrainableSpec` around a user's function (see the module docstring)."""

    user_fn: Callable[..., Any] | None = None
    takes_dataclass: bool = False

    @property
    def supports_checkpoint(self) -> bool:
        return "checkpoint" in _accepted(self.user_fn)

    def check_data(self, config: Any, data: Any) -> None:
        """The batch size against the training rows, when the data is a :class:`Dataset` (the
        user's function knows its own data otherwise)."""
        if isinstance(data, Dataset):
            super().check_data(config, data)


def function_trainable(fn: Callable[..., Any], *, name: str, metric: str,
                       knobs: Iterable[str] = (), also: Iterable[str] = ()) -> FunctionTrainableSpec:
    """Wraps ``fn`` as a trainable called ``name`` whose result is ``metric``; ``knobs`` are the
    campaign's knob names (searched and fixed), which a function taking a plain ``dict`` gets;
    ``also`` are the other metrics the campaign reads from it (more objectives, the metrics of
    hard limits), which it reports or returns like ``metric``.

    Raises:
        ConfigError: ``fn`` has no ``config`` parameter first, or no parameter for the data.
    """
    params = list(inspect.signature(fn).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 or positional[0].name != "config":
        shown = ", ".join(p.name for p in params) or "no parameters"
        raise ConfigError(
            f"trainable: {name} takes ({shown}); a train function takes (config, data, "
            "report=None, *, device='cpu', seed=0, checkpoint=None): config first, then the data",
            field="trainable",
        )
    config_cls = _dataclass_of(fn)
    if config_cls is None:  # a plain dict of the campaign's knobs
        names = list(dict.fromkeys(knobs))
        config_cls = dataclasses.make_dataclass(
            "Knobs", [(knob, Any, dataclasses.field(default=None)) for knob in names], frozen=True)
    metrics = frozenset({"epoch", metric, *also})
    if metric.startswith("val_"):  # the test-split twin, shown beside it when reported
        metrics |= {f"test_{metric[4:]}"}
    takes_dataclass = config_cls is _dataclass_of(fn)
    accepted = _accepted(fn)

    def train(config: Any, data: Any, report: Any = None, *, device: Any = "cpu", seed: int = 0,
              **extra: Any) -> dict[str, float]:
        given = {"report": report, "device": device, "seed": seed, **extra}
        if given.get("checkpoint") is not None:
            given["checkpoint"] = _OwnState(given["checkpoint"])
        if report is not None:
            given["report"] = _with_metric(report, metric, name)
        kwargs = {key: value for key, value in given.items() if key in accepted}
        values = config if takes_dataclass else {
            k: v for k, v in dataclasses.asdict(config).items() if v is not None}
        return _as_metrics(fn(values, data, **kwargs), metric, name)

    if "checkpoint" in accepted:  # TrainableSpec reads this from the signature
        def train_with_checkpoint(config: Any, data: Any, report: Any = None, *,
                                  device: Any = "cpu", seed: int = 0,
                                  checkpoint: Any = None) -> dict[str, float]:
            return train(config, data, report, device=device, seed=seed, checkpoint=checkpoint)
        train_fn = train_with_checkpoint
    else:
        train_fn = train
    return FunctionTrainableSpec(
        name=name, config_cls=config_cls, train_fn=train_fn, metrics=metrics, datasets=(),
        task="custom", data_tasks=tuple(TASKS), user_fn=fn, takes_dataclass=takes_dataclass,
    )


class MetricNotReported(ValueError):
    """A user's function reported without the campaign's metric, or ended without ever
    reporting it. Raised in the worker; the master stops the campaign after the first trial
    that raises it (every other trial would fail the same way)."""


def _with_metric(report: Callable[[Any], Any], metric: str, name: str) -> Callable[[Any], Any]:
    """``report`` refusing metrics without ``metric``: the trial fails saying what the function
    reported (Ray Tune would otherwise end the whole campaign on such a result)."""

    def checked(metrics: Any) -> Any:
        if isinstance(metrics, Mapping) and metric not in metrics:
            raise MetricNotReported(
                f"metric {metric!r} is not in a report of {name}; it reported: "
                f"{', '.join(map(str, metrics)) or 'nothing'} (every report needs the campaign's "
                "metric: check the campaign's metric: or what the function reports)")
        return report(metrics)

    return checked


class _OwnState:
    """The checkpointer a user's function gets: ``save(state)`` keeps the function's own dict
    inside sweepforge's checkpoint format (the files Ray Tune and ``sweepforge resume`` restore
    are checked for it, :func:`.checkpoint.load_state_file`); ``load()`` gives it back as saved,
    or ``None``."""

    def __init__(self, checkpointer: Any):
        self._checkpointer = checkpointer

    def load(self) -> Any:
        state = self._checkpointer.load()
        return None if state is None else state.get("own")

    def save(self, state: Any) -> None:
        from .checkpoint import FORMAT_VERSION  # (torch: only for a function that checkpoints)

        self._checkpointer.save({"format": FORMAT_VERSION, "own": state})


def trainable_for(text: str, *, metric: str, knobs: Iterable[str] = (),
                  also: Iterable[str] = ()) -> TrainableSpec:
    """The trainable a campaign names: a bundled one by name, or the user's function by its
    reference (imported here; the master and every worker call this alike). ``also``: see
    :func:`function_trainable`.

    Raises:
        ConfigError: an unknown name, or a reference that does not import (see
            :meth:`.user_code.FunctionRef.load`), or a function without ``(config, data)``.
    """
    if not is_function_ref(text):
        return get_trainable(text)
    ref = FunctionRef.parse(text)
    return function_trainable(ref.load(), name=ref.name, metric=metric, knobs=knobs, also=also)


def _accepted(fn: Callable[..., Any] | None) -> set[str]:
    """The keyword arguments of ``_PASSED`` that ``fn`` takes (all of them with ``**kwargs``)."""
    if fn is None:
        return set()
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return set(_PASSED)
    return {name for name in _PASSED if name in params and params[name].kind is not
            inspect.Parameter.POSITIONAL_ONLY}


def _dataclass_of(fn: Callable[..., Any]) -> type | None:
    """The dataclass ``fn``'s ``config`` parameter is annotated with, if any."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001  (an annotation that does not resolve: no declaration)
        return None
    hint = hints.get("config")
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def _as_metrics(result: Any, metric: str, name: str) -> dict[str, float]:
    """The final metrics: the dict returned, or ``{metric: number}`` for a number."""
    if isinstance(result, Mapping):
        return dict(result)
    if result is None:
        return {}
    if isinstance(result, numbers.Real) and not isinstance(result, bool):
        return {metric: float(result)}
    if hasattr(result, "item") and getattr(result, "ndim", 1) == 0:  # a numpy or torch scalar
        return {metric: float(result.item())}
    raise TypeError(f"{name} returned a {type(result).__name__}; a train function returns a dict "
                    "of metrics or a single number")
