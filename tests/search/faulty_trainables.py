"""Trainables that fail on purpose, to inject faults into real campaigns.

Ray workers import this module by name (the campaign passes the trainable's module along), so
these run in real worker processes exactly like a user's own registered trainable would.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace

from sweepforge.trainables import MLPConfig, get_trainable, register_trainable
from sweepforge.trainables.mlp import CLASSIFIER_METRICS


@register_trainable(
    "mlp_raises_after_one_epoch",
    config_cls=MLPConfig,
    metrics=CLASSIFIER_METRICS,
    datasets=("digits",),
    task="classification",
)
def train_then_raise(config, data, report=None, *, device="cpu", seed=0):
    get_trainable("mlp").train(replace(config, epochs=1), data, report, device=device, seed=seed)
    raise RuntimeError("injected fault: the trainable raised after its first epoch")


FAULTS = ("none", "raise", "nan", "inf", "oom", "alloc", "hang")


@dataclass(frozen=True)
class FaultConfig:
    """Knobs of the ``faulty`` trainable: which fault to inject, and a value to report."""

    fault: str = "none"  # one of FAULTS
    x: float = 0.5  # the reported val_accuracy of a healthy trial is x
    epochs: int = 2  # epochs reported (a healthy trial reports each one)
    sleep_s: float = 0.0  # seconds each epoch takes (so a campaign lasts long enough to disturb)
    pid_dir: str = ""  # when set, the trial writes its worker's pid to <pid_dir>/<fault>.pid


@register_trainable(
    "faulty",
    config_cls=FaultConfig,
    metrics={"epoch", "train_loss", "val_loss", "val_accuracy"},
    datasets=("digits",),
    task="classification",
)
def train_with_fault(config, data, report=None, *, device="cpu", seed=0):
    """Reports ``x`` as val_accuracy each epoch, unless ``fault`` says otherwise:
    ``raise`` raises after one epoch, ``nan``/``inf`` report a non-finite metric, ``oom`` raises
    torch's OutOfMemoryError, ``alloc`` really asks the allocator for 32 TiB (refused at once,
    nothing is touched), ``hang`` sleeps forever (a trial timeout must stop it). With ``pid_dir``
    the trial first writes the pid of the worker process it runs in, so a test can check that
    process afterwards."""
    import torch

    if config.pid_dir:
        with open(os.path.join(config.pid_dir, f"{config.fault}.pid"), "w") as handle:
            handle.write(str(os.getpid()))

    report = report or (lambda metrics: None)
    value = {"nan": math.nan, "inf": math.inf}.get(config.fault, config.x)
    for epoch in range(1, config.epochs + 1):
        if config.fault == "hang":
            while True:
                time.sleep(1)
        if config.fault == "oom":
            raise torch.OutOfMemoryError("injected fault: CUDA out of memory. Tried to allocate 80 GiB")
        if config.fault == "alloc":
            torch.empty(2**45, dtype=torch.uint8)  # 32 TiB: the allocator refuses it
        time.sleep(config.sleep_s)
        report({"epoch": epoch, "train_loss": 1.0 - value if math.isfinite(value) else value,
                "val_loss": 1.0, "val_accuracy": value})
        if config.fault == "raise":
            raise RuntimeError("injected fault: the trainable raised after its first epoch")
    return {"val_accuracy": value}
