"""A trainable that reports, from inside its trial, what its Ray worker process was given (its
runtime environment, environment variables, preloaded modules). Ray workers import this module
by name, as they would a user's own trainable."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from sweepforge.search.tune.ray_setup import PRELOAD_MODULES
from sweepforge.trainables import register_trainable


@dataclass(frozen=True)
class ProbeConfig:
    x: float = 0.5  # the score
    epochs: int = 1


@register_trainable(
    "worker_probe", config_cls=ProbeConfig,
    metrics={"epoch", "val_score", "actor_env_vars", "pl_disable_fork", "preloaded"},
    datasets=("iris",), task="classification",
)
def probe(config, data, report=None, *, device="cpu", seed=0):
    """Reports, from inside the trial, what its worker process was given."""
    import ray

    runtime_env = ray.get_runtime_context().runtime_env
    metrics = {
        "epoch": 1, "val_score": config.x,
        "actor_env_vars": float(len(runtime_env.get("env_vars") or {})),
        "pl_disable_fork": float(os.environ.get("PL_DISABLE_FORK") == "1"),
        # Ray starts its workers with the modules to preload on their command line
        "preloaded": float(all(module in " ".join(sys.argv) for module in PRELOAD_MODULES)),
    }
    if report is not None:
        report(metrics)
    return metrics
