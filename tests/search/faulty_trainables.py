"""Trainables that fail on purpose, to inject faults into real campaigns.

Ray workers import this module by name (the campaign passes the trainable's module along), so
these run in real worker processes exactly like a user's own registered trainable would.
"""

from __future__ import annotations

from dataclasses import replace

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
