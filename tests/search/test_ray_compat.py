"""Each private Ray API in ``search/tune/_compat.py`` still is where sweepforge expects it.

A Ray upgrade may move any of them without notice; each test fails loudly, naming the Ray
version, when one has moved. The Tune checks come from one real one-trial Tune run that
checkpoints twice, on a real local Ray started as a campaign starts it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import ray
from ray import tune

from sweepforge.search.tune import _compat
from sweepforge.search.tune.ray_setup import PRELOAD_MODULES, local_ray_options

SEEN: dict[str, Any] = {}  # what the probe callback saw (Tune may copy its callbacks)


def moved(what: str) -> str:
    return (f"Ray {ray.__version__}: {what} moved or changed; sweepforge relies on it in "
            "search/tune/_compat.py. Update that module (and pin `ray` below this version "
            "meanwhile).")


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray started the way a campaign starts it (with the worker preload)."""
    import logging

    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING, **local_ray_options())
    try:
        yield
    finally:
        ray.shutdown()


class Probe(tune.Callback):
    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        SEEN.setdefault("actor", _compat.trial_actor(trial))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        metadata = getattr(trial, "run_metadata", None)
        SEEN["stats_before"] = dict(getattr(metadata, "metric_analysis", None) or {})
        _compat.forget_trial_stats(trial)
        SEEN["stats_after"] = getattr(metadata, "metric_analysis", None)
        SEEN["checkpoints"] = _compat.checkpoint_dirs(trial.path)


def _checkpoints_twice(config: dict[str, Any]) -> None:
    for epoch in range(2):
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "state.txt").write_text(str(epoch))
            tune.report({"score": float(epoch)}, checkpoint=tune.Checkpoint.from_directory(folder))


@pytest.fixture(scope="module")
def tune_run(local_ray, tmp_path_factory):
    SEEN.clear()
    tune.Tuner(
        _checkpoints_twice,
        tune_config=tune.TuneConfig(num_samples=1),
        run_config=tune.RunConfig(name="compat", storage_path=str(tmp_path_factory.mktemp("tune")),
                                  verbose=0, callbacks=[Probe()]),
    ).fit()
    return SEEN


def test_tune_default_actor_env_is_a_module_dict():
    defaults = _compat.tune_actor_env()
    assert isinstance(defaults, dict), moved("ray.tune.execution.class_cache.DEFAULT_ENV_VARS")


def test_preload_python_modules_reaches_the_workers(local_ray):
    @ray.remote(num_cpus=1)
    def preloaded() -> list[str]:
        return [name for name in PRELOAD_MODULES if name in sys.modules]

    found = ray.get(preloaded.remote(), timeout=120)
    assert found == list(PRELOAD_MODULES), moved(
        "ray.init(_system_config={'preload_python_modules': [...]})")


def test_a_running_trial_has_its_ray_actor(tune_run):
    actor = tune_run.get("actor")
    assert isinstance(actor, ray.actor.ActorHandle), moved(
        f"Trial.temporary_state.ray_actor (found {actor!r})")


def test_a_trial_keeps_metric_statistics_in_run_metadata(tune_run):
    assert "score" in tune_run["stats_before"], moved(
        "Trial.run_metadata.metric_analysis (a dict of per-metric statistics)")
    assert tune_run["stats_after"] == {}, moved("Trial.run_metadata.metric_analysis (emptied)")


def test_checkpoints_are_checkpoint_folders_in_the_trial_folder(tune_run):
    names = [path.name for path in tune_run["checkpoints"]]
    assert names == ["checkpoint_000000", "checkpoint_000001"], moved(
        f"Ray Tune's checkpoint folder layout (trial folder holds {names})")
    assert (tune_run["checkpoints"][-1] / "state.txt").read_text() == "1", moved(
        "Ray Tune's checkpoint folder layout (the newest sorts last)")


def test_local_ray_processes_are_known(local_ray):
    processes = _compat.local_ray_processes()
    assert set(processes) == {"raylet", "gcs_server"}, moved(
        f"ray._private.worker._global_node.all_processes (found {sorted(processes)})")
    assert all(process.poll() is None for process in processes.values()), moved(
        "the local raylet / GCS server processes")


def test_a_working_dir_upload_failure_is_told_from_a_join_failure(tmp_path):
    """``ray.init`` raises the same plain exception types whether the job's ``working_dir``
    could not be uploaded or the cluster could not be joined; the traceback through
    ``ray._private.runtime_env`` tells them apart. The failure is Ray's own fault injection."""
    import os
    import subprocess

    (tmp_path / "code.py").write_text("x = 1\n")
    probe = (
        "import ray\n"
        "from sweepforge.search.tune._compat import raised_by_runtime_env\n"
        "try:\n"
        f"    ray.init(address='local', num_cpus=1, include_dashboard=False, runtime_env={{'working_dir': {str(tmp_path)!r}}})\n"
        "except Exception as err:\n"
        "    print('upload', raised_by_runtime_env(err))\n"
        "else:\n"
        "    print('no error')\n"
        "try:\n"
        "    raise ConnectionError('nobody there')\n"
        "except Exception as err:\n"
        "    print('join', raised_by_runtime_env(err))\n"
    )
    env = {**os.environ, "RAY_RUNTIME_ENV_FAIL_UPLOAD_FOR_TESTING": "1"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    lines = [line for line in done.stdout.splitlines() if line.split(" ")[0] in ("upload", "join", "no")]
    assert lines == ["upload True", "join False"], moved(
        f"{_compat.RUNTIME_ENV_PACKAGE} (where ray.init uploads a working_dir)") + done.stderr[-2000:]
