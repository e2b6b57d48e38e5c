"""Trial actors that start in Ray's idle worker processes instead of new ones.

Ray keeps a few worker processes idle, started with Ray and with ``ray`` imported, and a new
actor takes one of them unless it asks for a runtime environment of its own; then Ray starts a
new process for it. Ray Tune gives every trial actor one: the environment variables in
``ray.tune.execution.class_cache.DEFAULT_ENV_VARS`` (``PL_DISABLE_FORK=1``, for PyTorch
Lightning, ray-project/ray#28197). So the first trials of every Tune run waited about 1.2 s for
new processes (BENCHMARKS.md, "Orchestration overhead").

Inside a campaign's Tune runs :func:`trial_actors_on_idle_workers` leaves those variables out of
the actors' runtime environment, and the trial sets them itself (:func:`set_tune_actor_env`, in
the worker), so the trainable sees the same environment. When sweepforge starts Ray itself,
:data:`PRELOAD_MODULES` are imported by the idle workers as they start (Ray's
``preload_python_modules``), so a trial actor does not import Ray Tune first (0.6 s).

Example:
    >>> with trial_actors_on_idle_workers():  # doctest: +SKIP
    ...     tune.Tuner(trainable, tune_config=...).fit()
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..config import CampaignError

if TYPE_CHECKING:
    from ..config import CampaignConfig

PRELOAD_MODULES = ("ray.tune", "sweepforge.search.tune.worker")
"""Modules Ray's idle workers import as they start, when sweepforge starts Ray: what a trial
actor needs before it can run (Ray Tune alone takes 0.6 s to import)."""


def local_ray_options() -> dict[str, Any]:
    """Options for ``ray.init`` when sweepforge starts a local Ray: its idle workers import
    :data:`PRELOAD_MODULES` as they start."""
    return {"_system_config": {"preload_python_modules": list(PRELOAD_MODULES)}}


_lock = threading.Lock()
_users = 0  # campaigns of this process inside trial_actors_on_idle_workers()
_saved: dict[str, str] = {}


def _tune_actor_env() -> dict[str, str] | None:
    """Ray Tune's own dict of environment variables for trial actors (None where this Ray
    version has no such dict: nothing is changed then)."""
    try:
        from ray.tune.execution import class_cache
    except ImportError:
        return None
    defaults = getattr(class_cache, "DEFAULT_ENV_VARS", None)
    return defaults if isinstance(defaults, dict) else None


@contextmanager
def trial_actors_on_idle_workers() -> Iterator[None]:
    """While inside, Ray Tune creates trial actors without its default environment variables.

    Safe for several campaigns at once in one process: the first one in empties Tune's dict,
    the last one out puts it back."""
    global _users
    defaults = _tune_actor_env()
    if defaults is None:
        yield
        return
    with _lock:
        if _users == 0:
            _saved.clear()
            _saved.update(defaults)
            defaults.clear()
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                defaults.update(_saved)


def set_tune_actor_env() -> None:
    """In a trial's worker: the environment variables Ray Tune would have given its actor (a
    variable already set is kept)."""
    for name, value in (_tune_actor_env() or {}).items():
        os.environ.setdefault(name, value)


def concurrency(config: CampaignConfig) -> int:
    """Trials at once: `max_concurrent_trials`, else as many as the cluster's CPUs (and GPUs) hold."""
    import ray

    if config.max_concurrent_trials:
        return config.max_concurrent_trials
    available = ray.cluster_resources()
    fits = int(available.get("CPU", 1) // config.resources.cpu)
    if config.resources.gpu > 0:
        fits = min(fits, int(available.get("GPU", 0) // config.resources.gpu))
    return max(1, fits)


@contextmanager
def ray_session(address: str | None, config: CampaignConfig) -> Iterator[None]:
    """Uses a running Ray, joins ``address``, or starts a local Ray for the campaign's length."""
    import logging

    import ray

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Ctrl-C must reach sweepforge as KeyboardInterrupt: Ray Tune's own handler would end the
    # run quietly and the campaign would look finished with trials missing.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    # Tune's result files are off (TUNE_DISABLE_AUTO_CALLBACK_LOGGERS); its end-of-run analysis
    # would warn that it cannot read them. sweepforge reads results from its own callback.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    started = False
    if not ray.is_initialized():
        # a new local Ray: its idle workers import what a trial actor needs as they start
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False, configure_logging=True,
                 **(local_ray_options() if address is None else {}))
        started = True
    try:
        if config.resources.gpu > 0 and ray.cluster_resources().get("GPU", 0) < config.resources.gpu:
            raise CampaignError(
                f"resources.gpu: each trial asks for {config.resources.gpu} GPU(s) but the Ray "
                f"cluster has {ray.cluster_resources().get('GPU', 0)}. Use `resources: {{gpu: 0}}` "
                "to run on the CPU."
            )
        yield
    finally:
        if started:
            ray.shutdown()
