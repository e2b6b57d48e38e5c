"""A campaign stopped from outside ends as Ctrl-C ends it: runs KILLED, resumable.

Real `sweepforge run` masters (subprocesses, with the test trainable `mlp_slow` registered
first): one sent SIGTERM (what `timeout`, a job scheduler, Kubernetes or systemd send), one whose
own Ray dies under it (its raylet killed). Each is then resumed to the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import small_campaign

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DRIVER = "import tests.search.resume_trainables; from sweepforge.search.cli import main; main()"


def _start(args: list[str], log: Path, state_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "SWEEPFORGE_STATE_DIR": str(state_dir), "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    with log.open("ab") as sink:
        return subprocess.Popen([sys.executable, "-c", DRIVER, *args, "--no-progress", "--no-report"],
                                cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def _statuses(client: MlflowClient, name: str) -> Counter:
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return Counter((r.data.tags["sweepforge.kind"], r.info.status) for r in runs)


def _run_until_a_trial_finished(tmp_path: Path, name: str):
    campaign = small_campaign(name=name, trainable="mlp_slow", strategies={"random": {}},
                              budget={"trials": 6, "max_epochs": 3})
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign))
    uri, log = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "log.txt"
    client = MlflowClient(uri)
    proc = _start(["run", str(path), "--tracking-uri", uri], log, tmp_path / "state")
    deadline = time.monotonic() + 150
    while not (client.get_experiment_by_name(name)
               and _statuses(client, name)[("trial", "FINISHED")] >= 1):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no trial finished in 150 s:\n{log.read_text()}"
        time.sleep(0.2)
    return proc, client, log


def _stopped(proc: subprocess.Popen, log: Path, code: int) -> str:
    try:
        assert proc.wait(timeout=60) == code, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    return log.read_text()


def _resume_to_the_end(tmp_path: Path, client: MlflowClient, name: str, log: Path) -> None:
    resumed = _start(["resume", name], log, tmp_path / "state")
    assert resumed.wait(timeout=240) == 0, log.read_text()
    statuses = _statuses(client, name)
    assert statuses[("trial", "FINISHED")] == 6, statuses
    assert statuses[("campaign", "FINISHED")] == 1 and statuses[("strategy", "FINISHED")] == 1


def test_sigterm_ends_every_run_killed_with_exit_143_and_no_stack_dump(tmp_path):
    proc, client, log = _run_until_a_trial_finished(tmp_path, "sigterm")
    proc.send_signal(signal.SIGTERM)
    output = _stopped(proc, log, 143)
    assert "terminated (SIGTERM)" in output and "sweepforge resume sigterm" in output
    for dump in ("Traceback", "*** SIG", "Stack trace", "core_worker"):
        assert dump not in output, output
    statuses = _statuses(client, "sigterm")
    assert statuses[("campaign", "KILLED")] == 1 and statuses[("strategy", "KILLED")] == 1
    assert {status for _, status in statuses} <= {"FINISHED", "KILLED"}, statuses

    _resume_to_the_end(tmp_path, client, "sigterm", log)


def _raylet_of(master: int) -> int:
    """The raylet the master started (a child of it)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if name == "raylet" and int(rest.split()[1]) == master:
            return int(entry)
    raise AssertionError(f"no raylet below process {master}")


def test_ray_going_away_ends_the_runs_killed_with_one_line_and_exit_1(tmp_path):
    proc, client, log = _run_until_a_trial_finished(tmp_path, "ray-lost")
    os.kill(_raylet_of(proc.pid), signal.SIGKILL)
    output = _stopped(proc, log, 1)
    lines = [line for line in output.splitlines() if "Ray went away" in line]
    assert len(lines) == 1 and "sweepforge resume ray-lost" in output, output
    assert "Traceback" not in output, output
    statuses = _statuses(client, "ray-lost")
    assert statuses[("campaign", "KILLED")] == 1 and statuses[("trial", "KILLED")] >= 1, statuses
    assert {status for _, status in statuses} <= {"FINISHED", "KILLED"}, statuses

    _resume_to_the_end(tmp_path, client, "ray-lost", log)
