"""A trainable slow enough to be killed mid-trial, for the resume, retry and lost-node tests.

``mlp_slow`` is the MLP with a pause before each epoch's report (after its checkpoint is saved),
so a test can kill the master, a worker or a node while a trial is between two epochs. It takes
``checkpoint=`` like every bundled trainable, so Ray Tune and ``sweepforge resume`` restore it.
Ray workers import this module by name, like a user's own registered trainable.
"""

from __future__ import annotations

import os
import time

from sweepforge.trainables import MLPConfig, get_trainable, register_trainable
from sweepforge.trainables.mlp import CLASSIFIER_METRICS

PAUSE_S = float(os.environ.get("SWEEPFORGE_TEST_EPOCH_PAUSE_S", "0.3"))


@register_trainable(
    "mlp_slow",
    config_cls=MLPConfig,
    metrics=CLASSIFIER_METRICS,
    datasets=("digits",),
    task="classification",
)
def train_slowly(config, data, report=None, *, device="cpu", seed=0, checkpoint=None):
    def pause_then_report(metrics):
        time.sleep(PAUSE_S)
        if report is not None:
            report(metrics)

    return get_trainable("mlp").train(config, data, pause_then_report, device=device, seed=seed,
                                      checkpoint=checkpoint)


@register_trainable(
    "mlp_flaky",
    config_cls=MLPConfig,
    metrics=CLASSIFIER_METRICS,
    datasets=("digits",),
    task="classification",
)
def train_flakily(config, data, report=None, *, device="cpu", seed=0, checkpoint=None):
    """Raises after epoch 2: once (a restart from the checkpoint then goes on) for
    ``batch_size`` 32, on every attempt for any other batch size."""
    resumed = checkpoint is not None and checkpoint.load() is not None

    def report_then_fail(metrics):
        if report is not None:
            report(metrics)
        epoch = metrics.get("epoch", 0)
        if (epoch == 2 and not resumed) or (epoch >= 2 and config.batch_size != 32):
            raise RuntimeError(f"injected fault after epoch 2 (batch_size={config.batch_size})")

    return get_trainable("mlp").train(config, data, report_then_fail, device=device, seed=seed,
                                      checkpoint=checkpoint)


@register_trainable(
    "mlp_slow_lr",
    config_cls=MLPConfig,
    metrics=CLASSIFIER_METRICS,
    datasets=("digits",),
    task="classification",
)
def train_slowly_saying_lr(config, data, report=None, *, device="cpu", seed=0, checkpoint=None):
    """``mlp_slow`` that appends ``EPOCH LR`` to the file ``$SWEEPFORGE_TEST_LR_LOG`` at the
    first report of each call: where it started (after a restored checkpoint) and the learning
    rate it trains with, so a test can see the config a resumed PBT trial went on with."""
    first = [True]

    def note_then_report(metrics):
        if first[0] and os.environ.get("SWEEPFORGE_TEST_LR_LOG"):
            with open(os.environ["SWEEPFORGE_TEST_LR_LOG"], "a") as log:
                log.write(f"{metrics['epoch']} {config.lr!r}\n")
            first[0] = False
        if report is not None:
            report(metrics)

    return train_slowly(config, data, note_then_report, device=device, seed=seed,
                        checkpoint=checkpoint)
