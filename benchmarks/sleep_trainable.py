"""A trainable that only sleeps: the cost of a trial is then all orchestration.

Used by ``benchmarks/overhead.py``. Registered as ``sleep``; it accepts any classification
dataset (the campaign needs one) and ignores it. Ray workers import it by module name, like a
user's own trainable.

Example:
    >>> from benchmarks import sleep_trainable  # doctest: +SKIP
    >>> get_trainable("sleep").train({"seconds": 0.0}, data)  # doctest: +SKIP
    {'epoch': 1, 'val_score': 0.5}
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sweepforge.trainables import register_trainable
from sweepforge.trainables._fields import coerce_instance


@dataclass(frozen=True)
class SleepConfig:
    seconds: float = 1.0  # how long the trial sleeps
    x: float = 0.5  # a knob to search; the score is x itself
    epochs: int = 1  # reports, each after seconds / epochs

    def __post_init__(self) -> None:
        coerce_instance(self)


@register_trainable("sleep", config_cls=SleepConfig, metrics={"epoch", "val_score"},
                    datasets=("iris",), task="classification")
def train_sleep(config, data, report=None, *, device="cpu", seed=0, checkpoint=None):
    metrics: dict[str, float] = {}
    for epoch in range(1, config.epochs + 1):
        time.sleep(config.seconds / config.epochs)
        metrics = {"epoch": epoch, "val_score": config.x}
        if report is not None:
            report(metrics)
    return metrics
