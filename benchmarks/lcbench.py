"""The LCBench surrogate as a Python object and as a sweepforge trainable.

LCBench (Zimmer, Lindauer, Hutter 2021) trained funnel-shaped MLPs with SGD on 34 OpenML
tasks; YAHPO Gym (Pfisterer et al. 2022) replaced those runs with a neural-network surrogate,
an ONNX file shipped in ``../shared/benchmarks/lcbench/`` (Apache 2.0; see its README). Its
search space is sweepforge's own (batch size, learning rate, momentum, weight decay, depth,
width, dropout), and one evaluation costs microseconds, so search strategies, schedulers and
the whole Ray + MLflow stack can be measured on realistic learning curves in seconds.

* :class:`LCBench` evaluates many configs at once (one onnxruntime call);
* the ``lcbench`` trainable reports the surrogate's validation metrics epoch by epoch and
  checkpoints the epoch it reached, so schedulers can stop it and PBT can clone it.

The surrogate's folder is ``$SWEEPFORGE_LCBENCH_DIR`` or ``../shared/benchmarks/lcbench`` beside
the checkout.

Example:
    >>> bench = LCBench()                                          # doctest: +SKIP
    >>> bench.evaluate("3945", [LCBench.CHECK_CONFIG], epoch=52)["val_accuracy"]  # doctest: +SKIP
    array([0.989...], dtype=float32)
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sweepforge.spaces import Space
from sweepforge.trainables import register_dataset, register_trainable
from sweepforge.trainables._fields import check_choice, check_range, coerce_instance
from sweepforge.trainables.checkpoint import FORMAT_VERSION

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "lcbench"
MAX_EPOCH = 52

HYPERPARAMETERS = ("batch_size", "learning_rate", "momentum", "weight_decay", "num_layers",
                   "max_units", "max_dropout")
"""The searched inputs, in the order of the surrogate's ``x_cont`` after ``epoch``."""

OUTPUTS = ("time", "val_accuracy", "val_cross_entropy", "val_balanced_accuracy",
           "test_cross_entropy", "test_balanced_accuracy")
"""The surrogate's outputs, in its column order. ``val_accuracy`` comes in percent; the
:class:`LCBench` results give it as a fraction, like every sweepforge trainable."""

SPACE = {
    "batch_size": {"type": "int", "low": 16, "high": 512, "log": True},
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "momentum": {"type": "float", "low": 0.1, "high": 0.99},
    "weight_decay": {"type": "float", "low": 1e-5, "high": 1e-1},
    "num_layers": {"type": "int", "low": 1, "high": 5},
    "max_units": {"type": "int", "low": 64, "high": 1024, "log": True},
    "max_dropout": {"type": "float", "low": 0.0, "high": 1.0},
}
"""LCBench's space, as a sweepforge ``space:`` mapping (the README of the surrogate)."""


class LCBenchError(ValueError):
    """The surrogate cannot be found, or was asked about an unknown task or a bad epoch."""


class LCBench:
    """The surrogate, loaded once; evaluate many configs in one call.

    Args:
        directory: the folder with ``model.onnx`` and ``encoding.json`` (default: see module).
    """

    CHECK_TASK = "3945"
    CHECK_CONFIG: ClassVar[dict[str, float]] = {
        "batch_size": 128, "learning_rate": 0.004089911704181985, "momentum": 0.5095823953346122,
        "weight_decay": 0.03197986623354421, "num_layers": 5, "max_units": 138,
        "max_dropout": 0.03613265508378549,
    }
    CHECK_OUTPUT: ClassVar[dict[str, float]] = {"time": 119.280365, "val_accuracy": 0.9890503, "val_cross_entropy": 0.41912127,
                    "val_balanced_accuracy": 0.57974774, "test_cross_entropy": 0.6064995,
                    "test_balanced_accuracy": 0.5809953}
    """The README's check value (at epoch 52), ``val_accuracy`` as a fraction."""

    def __init__(self, directory: str | os.PathLike[str] | None = None):
        import onnxruntime

        folder = Path(directory or os.environ.get("SWEEPFORGE_LCBENCH_DIR") or DEFAULT_DIR)
        model, encoding = folder / "model.onnx", folder / "encoding.json"
        if not all(p.is_file() for p in (model, encoding, folder / "config_space.json")):
            raise LCBenchError(
                f"no LCBench surrogate in {folder} (model.onnx, encoding.json and "
                "config_space.json expected); "
                "set SWEEPFORGE_LCBENCH_DIR to the folder that holds them"
            )
        codes = json.loads(encoding.read_text())["OpenML_task_id"]
        # The tasks of the space (34); the encoding also has a "not available" code and a task
        # the benchmark leaves out.
        space = json.loads((folder / "config_space.json").read_text())
        (tasks,) = [h["choices"] for h in space["hyperparameters"] if h["name"] == "OpenML_task_id"]
        self.codes: dict[str, int] = {str(t): int(codes[str(t)]) for t in tasks}
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # deterministic, and one core per trial
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )

    @property
    def tasks(self) -> list[str]:
        """The 34 OpenML task ids, as strings."""
        return sorted(self.codes, key=int)

    def evaluate(
        self, task: str, configs: Sequence[Mapping[str, Any]] | np.ndarray,
        epoch: int | Sequence[int] | np.ndarray = MAX_EPOCH,
    ) -> dict[str, np.ndarray]:
        """The surrogate's outputs for ``configs`` on ``task`` at ``epoch`` (one or one per config).

        ``configs`` are mappings with the seven :data:`HYPERPARAMETERS`, or an array of shape
        ``(n, 7)`` in that order. Returns one float array of length ``n`` per name in
        :data:`OUTPUTS`, with ``val_accuracy`` as a fraction.
        """
        if task not in self.codes:
            raise LCBenchError(f"unknown LCBench task {task!r}; known tasks: {', '.join(self.tasks)}")
        if isinstance(configs, np.ndarray):
            values = np.asarray(configs, dtype=np.float32).reshape(-1, len(HYPERPARAMETERS))
        else:
            values = np.array([[float(c[h]) for h in HYPERPARAMETERS] for c in configs],
                              dtype=np.float32).reshape(-1, len(HYPERPARAMETERS))
        epochs = np.broadcast_to(np.asarray(epoch, dtype=np.float32), (len(values),))
        if len(epochs) and (epochs.min() < 1 or epochs.max() > MAX_EPOCH):
            raise LCBenchError(f"epoch must be in 1..{MAX_EPOCH}, got {epoch!r}")
        x_cont = np.concatenate([epochs[:, None], values], axis=1).astype(np.float32)
        x_cat = np.full((len(values), 1), self.codes[task], dtype=np.int32)
        (out,) = self._session.run(["output"], {"x_cat": x_cat, "x_cont": x_cont})
        result = {name: out[:, i].astype(np.float64) for i, name in enumerate(OUTPUTS)}
        result["val_accuracy"] = result["val_accuracy"] / 100.0
        return result

    @staticmethod
    def space() -> Space:
        """LCBench's space as a sweepforge :class:`~sweepforge.spaces.Space`."""
        return Space.from_dict(SPACE)


@functools.lru_cache(maxsize=1)
def shared_lcbench() -> LCBench:
    """One surrogate per process (a Ray worker reuses it from trial to trial)."""
    return LCBench()


# --- the trainable ------------------------------------------------------------------------

PLACEHOLDER_ROWS = 1000
"""The trainable needs no data, but a campaign names a dataset and checks batch sizes against
its training split: a placeholder with room for LCBench's largest batch (512) stands in."""


@register_dataset("lcbench_placeholder", task="classification")
def _placeholder() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((PLACEHOLDER_ROWS, 1), dtype=np.float32), np.arange(PLACEHOLDER_ROWS) % 2


@dataclass(frozen=True)
class LCBenchConfig:
    task: str = "3945"  # OpenML task id of the surrogate (34 tasks; see LCBench().tasks)
    batch_size: int = 128  # 16..512
    learning_rate: float = 1e-2  # SGD step size, 1e-4..1e-1
    momentum: float = 0.9  # SGD momentum, 0.1..0.99
    weight_decay: float = 1e-4  # L2 penalty, 1e-5..1e-1
    num_layers: int = 3  # hidden layers of the funnel-shaped MLP, 1..5
    max_units: int = 256  # width of the first hidden layer, 64..1024
    max_dropout: float = 0.1  # dropout of the widest layer, 0..1
    epochs: int = MAX_EPOCH  # epochs reported, 1..52 (the surrogate's fidelity)
    sleep_fraction: float = 0.0  # sleep this share of the surrogate's own training time per epoch

    def __post_init__(self) -> None:
        coerce_instance(self)
        for name, spec in SPACE.items():
            check_range(name, getattr(self, name), low=spec["low"], high=spec["high"])
        check_range("epochs", self.epochs, low=1, high=MAX_EPOCH)
        check_range("sleep_fraction", self.sleep_fraction, low=0.0, high=1.0)
        check_choice("task", self.task, shared_lcbench().tasks)


LCBENCH_METRICS = frozenset({
    "epoch", "val_accuracy", "val_balanced_accuracy", "val_cross_entropy",
    "test_balanced_accuracy", "test_cross_entropy", "surrogate_time_s",
})


@register_trainable("lcbench", config_cls=LCBenchConfig, metrics=LCBENCH_METRICS,
                    datasets=("lcbench_placeholder",), task="classification")
def train_lcbench(config: LCBenchConfig, data: Any = None, report: Any = None, *, device: str = "cpu",
                  seed: int = 0, checkpoint: Any = None) -> dict[str, float]:
    """Reports the surrogate's metrics for ``config`` at epochs 1..``config.epochs``.

    The surrogate is deterministic: ``seed`` and ``device`` change nothing. With ``checkpoint``,
    a resumed or cloned trial continues after the epoch it had reached.
    """
    bench = shared_lcbench()
    hyper = {name: getattr(config, name) for name in HYPERPARAMETERS}
    state = checkpoint.load() if checkpoint is not None else None
    start = int(state["epoch"]) if state else 0
    if start >= config.epochs:
        return dict(state["metrics"]) if state and "metrics" in state else {}
    # The whole curve in one call, always the same 52 rows: a batched evaluation rounds a little
    # differently with its size, and a resumed trial must report what a straight one would.
    curve = bench.evaluate(config.task, [hyper] * MAX_EPOCH, np.arange(1, MAX_EPOCH + 1))
    before = float(curve["time"][start - 1]) if start else 0.0
    metrics: dict[str, float] = {}
    for epoch in range(start + 1, config.epochs + 1):
        i = epoch - 1
        spent = float(curve["time"][i])
        if config.sleep_fraction > 0:
            time.sleep(max(0.0, spent - before) * config.sleep_fraction)
        before = spent
        metrics = {"epoch": epoch, "surrogate_time_s": spent,
                   **{k: float(curve[k][i]) for k in OUTPUTS if k != "time"}}
        if checkpoint is not None:
            checkpoint.save({"format": FORMAT_VERSION, "epoch": epoch, "metrics": metrics})
        if report is not None:
            report(metrics)
    return metrics

