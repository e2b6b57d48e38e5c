"""Shared fixtures: a real local Ray (started once per test module) and campaign files."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
# Campaign journals and checkpoints (resume state) of the whole test session go to one temporary
# folder, never into the checkout; subprocesses inherit it. It goes when the session ends.
if "SWEEPFORGE_STATE_DIR" not in os.environ:
    os.environ["SWEEPFORGE_STATE_DIR"] = tempfile.mkdtemp(prefix="sweepforge-test-state-")
    atexit.register(shutil.rmtree, os.environ["SWEEPFORGE_STATE_DIR"], ignore_errors=True)


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    """A real Ray with 2 CPUs for the whole test module (each start costs seconds)."""
    import logging

    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=False)  # (never a cluster left running by another test)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def two_node_cluster() -> Iterator[Any]:
    """A real two-node Ray cluster (1 CPU each: 2 CPUs in all, no node with 2) for the whole
    test module, which campaigns join but do not own."""
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        cluster.shutdown()


def small_campaign(**overrides: Any) -> dict[str, Any]:
    """A campaign small enough for a test: digits, 3 trials x 2 epochs per strategy."""
    campaign: dict[str, Any] = {
        "name": "test-campaign",
        "trainable": "mlp",
        "dataset": "digits",
        "metric": "val_accuracy",
        "mode": "max",
        "seed": 0,
        "budget": {"trials": 3, "max_epochs": 2},
        "resources": {"cpu": 1, "gpu": 0},
        "space": {
            "lr": {"type": "float", "low": 1.0e-3, "high": 0.05, "log": True},
            "batch_size": {"type": "categorical", "choices": [32, 64]},
            "optimizer": {"type": "categorical", "choices": ["adam", "momentum", "nesterov"]},
            "momentum": {"type": "float", "low": 0.5, "high": 0.95,
                         "when": {"optimizer": ["momentum", "nesterov"]}},
            "dropout": {"type": "float", "low": 0.0, "high": 0.3},
            "init": {"type": "categorical", "choices": ["he_uniform", "xavier_normal"]},
            "depth": {"type": "int", "low": 1, "high": 2},
            "width": {"type": "int", "low": 16, "high": 64, "log": True},
        },
        "strategies": {"grid": {}, "random": {}, "optuna": {"sampler": "tpe"},
                       "evolutionary": {"population_size": 4}},
    }
    campaign.update(overrides)
    return campaign


@pytest.fixture
def write_campaign(tmp_path: Path):
    """Writes a campaign mapping (or raw text) to a YAML file and returns its path."""

    def write(content: dict[str, Any] | str, name: str = "campaign.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path

    return write


@dataclass
class BareWorkdir:
    """An empty working directory where a command's defaults would write: the state folder
    (``./.sweepforge``, with its spool), ``mlruns`` or ``mlflow.db``; and an empty folder that
    ``$MLFLOW_TRACKING_URI`` points into (``env.db``)."""

    cwd: Path
    env_store: Path

    def assert_nothing_written(self, *kept: str) -> None:
        """The working directory holds only ``kept`` (the files the test wrote), and the
        environment's tracking store was never created."""
        # no .sweepforge (state, spool), no mlruns, no mlflow.db; no env.db
        assert sorted(p.name for p in self.cwd.iterdir()) == sorted(kept)
        assert sorted(p.name for p in self.env_store.iterdir()) == []


@pytest.fixture
def bare_workdir(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                 monkeypatch: pytest.MonkeyPatch) -> BareWorkdir:
    """Runs the test in an empty ``tmp_path`` (where :func:`write_campaign` writes) with the
    defaults a user would have: no ``$SWEEPFORGE_STATE_DIR`` (so state would go to
    ``./.sweepforge``) and ``$MLFLOW_TRACKING_URI`` at a store in another empty folder."""
    env_store = tmp_path_factory.mktemp("env-store")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SWEEPFORGE_STATE_DIR", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{env_store / 'env.db'}")
    return BareWorkdir(tmp_path, env_store)
