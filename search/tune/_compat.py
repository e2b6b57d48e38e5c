"""Every private or undocumented Ray API sweepforge relies on, in one place.

Ray marks what it keeps stable (``@PublicAPI``); what is below is not, so a Ray upgrade may
move it without notice. Each use says what it relies on, and ``tests/search/test_ray_compat.py``
checks each one against the installed Ray, failing with the Ray version in the message. The
rest of sweepforge imports these helpers and never reaches into Ray's internals itself.

Tested with Ray 2.60 (see README, "Tested versions").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHECKPOINT_GLOB = "checkpoint_*"
"""Ray Tune's folder layout: a trial's checkpoints are folders ``checkpoint_000000``,
``checkpoint_000001``, ... (six zero-padded digits, so they sort by name) directly inside the
trial's folder (``trial.path``). Not a documented API: ``tune.get_checkpoint()`` is, but a
resume after the master was killed has no Tune state to ask, only the folders."""


def tune_actor_env() -> dict[str, str] | None:
    """Ray Tune's module-level dict of environment variables it gives every trial actor as a
    runtime environment: ``ray.tune.execution.class_cache.DEFAULT_ENV_VARS`` (private; Tune
    reads it each time it creates an actor, so emptying it in place takes effect). None where
    this Ray version has no such dict."""
    try:
        from ray.tune.execution import class_cache
    except ImportError:
        return None
    defaults = getattr(class_cache, "DEFAULT_ENV_VARS", None)
    return defaults if isinstance(defaults, dict) else None


def preload_options(modules: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Keyword arguments for ``ray.init`` that make Ray's idle workers import ``modules`` as
    they start. Relies on ``ray.init(_system_config=...)`` (private, and refused when joining a
    running cluster) and its ``preload_python_modules`` key (RayConfig, undocumented)."""
    return {"_system_config": {"preload_python_modules": list(modules)}}


def trial_actor(trial: Any) -> Any | None:
    """The Ray actor a Tune trial runs in, or None when it has none right now. Relies on
    ``Trial.temporary_state.ray_actor`` (private: Tune's bookkeeping of a running trial)."""
    state = getattr(trial, "temporary_state", None)
    return getattr(state, "ray_actor", None)


def forget_trial_stats(trial: Any) -> None:
    """Empties the per-metric running statistics and cached JSON state Ray Tune keeps for
    ``trial``. Relies on ``Trial.run_metadata`` with its dicts ``metric_analysis`` and
    ``metric_n_steps`` and its ``invalidate_cache()``, and on ``Trial.invalidate_json_state()``
    (all private). A Ray version without them: nothing is done."""
    metadata = getattr(trial, "run_metadata", None)
    for name in ("metric_analysis", "metric_n_steps"):
        stats = getattr(metadata, name, None)
        if isinstance(stats, dict):
            stats.clear()
    if hasattr(metadata, "invalidate_cache"):
        metadata.invalidate_cache()
    if hasattr(trial, "invalidate_json_state"):
        trial.invalidate_json_state()


def checkpoint_dirs(trial_dir: str | Path) -> list[Path]:
    """A trial's checkpoint folders in Ray Tune's layout (:data:`CHECKPOINT_GLOB`), oldest
    first; an empty list where the folder is missing."""
    return sorted(Path(trial_dir).glob(CHECKPOINT_GLOB))


def local_ray_processes() -> dict[str, Any]:
    """The raylet and GCS server processes (``subprocess.Popen``) of the Ray that this process
    started with ``ray.init``; empty when it joined a cluster or none are known. Relies on
    ``ray._private.worker._global_node.all_processes``, keyed by
    ``ray._private.ray_constants.PROCESS_TYPE_RAYLET`` / ``PROCESS_TYPE_GCS_SERVER``, lists of
    ``ProcessInfo`` with a ``.process`` (all private)."""
    try:
        from ray._private import ray_constants
        from ray._private import worker as ray_worker
    except ImportError:
        return {}
    node = getattr(ray_worker, "_global_node", None)
    running = getattr(node, "all_processes", None)
    if not isinstance(running, dict):
        return {}
    found = {}
    for kind in (ray_constants.PROCESS_TYPE_RAYLET, ray_constants.PROCESS_TYPE_GCS_SERVER):
        infos = running.get(kind) or []
        process = getattr(infos[0], "process", None) if infos else None
        if process is not None and hasattr(process, "poll"):
            found[kind] = process
    return found


RUNTIME_ENV_PACKAGE = "ray._private.runtime_env"
"""Where Ray's runtime environment code lives (private): the package that zips and uploads a
job's ``working_dir`` when ``ray.init`` is given one."""


def raised_by_runtime_env(err: BaseException) -> bool:
    """Whether ``err``, raised by ``ray.init``, came from Ray preparing the job's runtime
    environment (zipping or uploading its ``working_dir``) rather than from joining the
    cluster. Ray raises plain ``ValueError`` / ``RuntimeError`` for both, so this looks at the
    modules the traceback passed through; relies on :data:`RUNTIME_ENV_PACKAGE`."""
    import traceback

    marker = f"{RUNTIME_ENV_PACKAGE.replace('.', '/')}/"
    while err is not None:
        for frame, _ in traceback.walk_tb(err.__traceback__):
            if marker in frame.f_code.co_filename.replace("\\", "/"):
                return True
        err = err.__cause__ or err.__context__
    return False
