"""The registry of trainables: ``@register_trainable`` on a train function, ``get_trainable(name)``.

A trainable is a model family plus its training loop. Its config is a dataclass whose fields are
exactly the knobs a search space may target; :class:`TrainableSpec` turns a plain mapping (from
YAML, Optuna, DEAP, Ray Tune) into that config, checks it, and runs training.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> spec = get_trainable("mlp")
    >>> config = spec.make_config({"lr": "3e-3", "epochs": 1})
    >>> (config.lr, config.epochs)
    (0.003, 1)
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError, did_you_mean, unknown_name_error
from ._fields import coerce_fields, field_types
from .datasets import TASKS, Dataset, dataset_task

if TYPE_CHECKING:
    import torch

    from .checkpoint import Checkpointer

Report = Callable[[dict[str, float]], None]
"""The callback a train function calls once per epoch with that epoch's metrics."""

TrainFn = Callable[..., dict[str, float]]
"""``train_fn(config, data, report=None, *, device="cpu", seed=0, checkpoint=None) -> final
metrics``; ``checkpoint`` (a :class:`~.checkpoint.Checkpointer`) is optional for your own
trainables, and needed to resume trials or to use population-based training."""


@dataclass(frozen=True)
class TrainableSpec:
    """One registered trainable: its config type, train function and what it reports.

    Attributes:
        name: registry name, e.g. ``"mlp"``.
        config_cls: dataclass type whose fields are the searchable knobs.
        train_fn: ``train_fn(config, data, report, *, device, seed) -> dict[str, float]``.
        metrics: every metric name the train function reports or returns.
        datasets: names of the bundled datasets it accepts.
        task: what the trainable learns, e.g. ``"classification"``, ``"regression"``,
            ``"reconstruction"``.
        data_tasks: the dataset tasks it trains on (:data:`~.datasets.TASKS`); by default just
            ``task``. An autoencoder (``task="reconstruction"``) ignores labels, so it takes
            classification and regression datasets alike.
        data_check: optional ``data_check(config, data)`` raising :class:`ConfigError` when a
            config cannot train on that data (e.g. a CNN too deep for small images); run by
            :meth:`check_data`, so a campaign catches it before any trial starts.

    Example:
        >>> spec = get_trainable("mlp")
        >>> "val_accuracy" in spec.metrics, spec.field_names()[:2]
        (True, ('lr', 'batch_size'))
    """

    name: str
    config_cls: type
    train_fn: TrainFn
    metrics: frozenset[str]
    datasets: tuple[str, ...]
    task: str
    data_check: Callable[[Any, Dataset], None] | None = None
    data_tasks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.data_tasks:
            object.__setattr__(self, "data_tasks", (self.task,))

    def field_names(self) -> tuple[str, ...]:
        """Names of the config fields, in declaration order."""
        return tuple(field_types(self.config_cls))

    def make_config(self, values: Mapping[str, Any], data: Dataset | None = None) -> Any:
        """Build the config from its defaults overridden by ``values``, and check it.

        Ints are accepted for float fields and numeric strings (``"1e-3"``) for numeric ones.
        With ``data``, the config is also checked against it (task, batch size vs rows).

        Raises:
            ConfigError: an unknown key, a value that is not allowed (also when a user's own
                config class raises ``ValueError`` or ``TypeError`` for it), or a config that
                does not fit ``data``.

        Example:
            >>> get_trainable("mlp").make_config({"lrr": 0.1})  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            sweepforge.trainables.ConfigError: unknown field 'lrr' (did you mean 'lr'?) for ...
        """
        if not isinstance(values, Mapping):
            raise TypeError(f"values must be a mapping of field names, got {type(values).__name__}")
        fields = self.field_names()
        unknown = [str(key) for key in values if key not in fields]
        if unknown:
            named = ", ".join(f"{key!r}{did_you_mean(key, fields)}" for key in unknown)
            raise ConfigError(
                f"unknown field{'s' if len(unknown) > 1 else ''} {named} for trainable "
                f"{self.name!r}; valid fields: {', '.join(fields)}",
                field=unknown[0],
            )
        coerced = coerce_fields(self.config_cls, values)
        try:
            config = self.config_cls(**coerced)
        except ConfigError:
            raise
        except (ValueError, TypeError) as err:  # a user's own config class checks its values
            shown = ", ".join(f"{key}={value!r}" for key, value in coerced.items())
            raise ConfigError(f"{self.config_cls.__name__}({shown}) refused the values: {err}",
                              field=next(iter(coerced), None) if len(coerced) == 1 else None
                              ) from None
        if data is not None:
            self.check_data(config, data)
        return config

    def check_data(self, config: Any, data: Dataset) -> None:
        """Raise :class:`ConfigError` if ``config`` cannot be trained on ``data``.

        Checks the task and, for configs with a ``batch_size``, that a batch fits the training
        split. A dataset outside :attr:`datasets` with the right task (your own data) is allowed.
        """
        if not isinstance(data, Dataset):
            raise TypeError(f"data must be a Dataset (see load_dataset), got {type(data).__name__}")
        if data.task not in self.data_tasks:
            raise ConfigError(
                f"dataset {data.name!r} is a {data.task} dataset but trainable {self.name!r} "
                f"trains on {' or '.join(self.data_tasks)} data; choose one of: "
                f"{', '.join(self.datasets)}",
                field="dataset",
            )
        batch_size = getattr(config, "batch_size", None)
        if isinstance(batch_size, int) and batch_size > data.n_train:
            raise ConfigError(
                f"batch_size={batch_size} is larger than the training split ({data.n_train} rows) "
                f"of dataset {data.name!r}; it must satisfy 1 <= batch_size <= {data.n_train}",
                field="batch_size",
            )
        if self.data_check is not None:
            self.data_check(config, data)

    def train(
        self,
        config: Any,
        data: Dataset,
        report: Report | None = None,
        *,
        device: str | torch.device = "cpu",
        seed: int = 0,
        checkpoint: Checkpointer | None = None,
    ) -> dict[str, float]:
        """Train on ``data`` with ``config`` (a config instance or a mapping of overrides).

        Calls ``report(metrics)`` once per epoch when given, and returns the final metrics.
        With ``checkpoint`` (see :mod:`.checkpoint`), training resumes from its saved state and
        saves after every epoch.

        Raises:
            ConfigError: a bad config, or ``checkpoint`` for a trainable that cannot use one.

        Example:
            >>> from sweepforge.trainables import get_trainable, load_dataset
            >>> spec = get_trainable("mlp")
            >>> result = spec.train({"epochs": 1}, load_dataset("iris"))
            >>> sorted(result) == sorted(spec.metrics)
            True
        """
        if isinstance(config, Mapping):
            config = self.make_config(config, data)
        elif isinstance(config, self.config_cls):
            self.check_data(config, data)
        else:
            raise TypeError(
                f"config must be a {self.config_cls.__name__} or a mapping, "
                f"got {type(config).__name__}"
            )
        if checkpoint is None:
            return self.train_fn(config, data, report, device=device, seed=seed)
        if not self.supports_checkpoint:
            raise ConfigError(
                f"trainable {self.name!r} cannot resume from checkpoints: its train function "
                "takes no `checkpoint` argument",
                field="checkpoint",
            )
        return self.train_fn(config, data, report, device=device, seed=seed, checkpoint=checkpoint)

    @property
    def supports_checkpoint(self) -> bool:
        """Whether ``train_fn`` accepts ``checkpoint=`` (every bundled family does)."""
        return "checkpoint" in inspect.signature(self.train_fn).parameters


_REGISTRY: dict[str, TrainableSpec] = {}

_BUILTIN_MODULES = {
    name: name
    for name in ("autoencoder", "cnn", "entity_embedding", "linear_regression",
                 "logistic_regression", "mlp", "mlp_regressor", "resnet", "rnn", "unet", "word2vec")
}
"""The bundled trainables and the modules of this package that register them. A module is
imported when its trainable is first named, so asking for ``mlp`` does not import the code
(and packages) of the ten others: a Ray worker starts faster."""


def _ensure_registered(name: str) -> None:
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.{_BUILTIN_MODULES[name]}")


def register_trainable(
    name: str,
    *,
    config_cls: type,
    metrics: Iterable[str],
    datasets: Iterable[str],
    task: str,
    data_check: Callable[[Any, Dataset], None] | None = None,
    data_tasks: Iterable[str] | None = None,
) -> Callable[[TrainFn], TrainFn]:
    """Register the decorated train function as trainable ``name``.

    Example:
        >>> @register_trainable("my_mlp", config_cls=MLPConfig, metrics={"epoch", "val_loss"},
        ...                     datasets=("iris",), task="classification")  # doctest: +SKIP
        ... def train_my_mlp(config, data, report=None, *, device="cpu", seed=0):
        ...     ...
    """
    field_types(config_cls)  # raises if it is not a dataclass type
    datasets = tuple(datasets)
    data_tasks = tuple(data_tasks) if data_tasks is not None else (task,)
    for data_task in data_tasks:
        if data_task not in TASKS:
            raise ConfigError(
                f"data task {data_task!r} of trainable {name!r} is not allowed; choose from: "
                f"{', '.join(TASKS)}",
                field="data_tasks",
            )
    for dataset in datasets:
        if dataset_task(dataset) not in data_tasks:
            raise ValueError(
                f"trainable {name!r} ({' or '.join(data_tasks)} data) lists "
                f"{dataset_task(dataset)} dataset {dataset!r}"
            )

    def decorator(train_fn: TrainFn) -> TrainFn:
        old = _REGISTRY.get(name)
        if old is not None and _qualname(old.train_fn) != _qualname(train_fn):
            raise ValueError(
                f"trainable {name!r} is already registered by {_qualname(old.train_fn)}"
            )
        _REGISTRY[name] = TrainableSpec(
            name, config_cls, train_fn, frozenset(metrics), datasets, task, data_check, data_tasks
        )
        return train_fn

    return decorator


def get_trainable(name: str) -> TrainableSpec:
    """Return the spec registered as ``name``.

    Raises:
        ConfigError: an unknown name; the message lists close matches and the known names.

    Example:
        >>> get_trainable("mpl")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: unknown trainable 'mpl' (did you mean 'mlp'?); known ...
    """
    _ensure_registered(name)
    if name not in _REGISTRY:
        raise unknown_name_error("trainable", name, sorted({*_REGISTRY, *_BUILTIN_MODULES}))
    return _REGISTRY[name]


def list_trainables() -> list[str]:
    """Names of the registered trainables, sorted.

    Example:
        >>> "mlp" in list_trainables()
        True
    """
    for name in _BUILTIN_MODULES:
        _ensure_registered(name)
    return sorted(_REGISTRY)


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"

