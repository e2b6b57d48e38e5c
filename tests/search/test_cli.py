"""The command line, in-process (typer's runner) and as the installed console script."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sweepforge.search.cli import app
from tests.conftest import small_campaign

runner = CliRunner()


def store_state(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def test_help_lists_each_command_with_its_summary_in_one_line():
    """What a new user types first: on a wide terminal every command's summary is one line
    (the docstrings' own line breaks do not cut a sentence in the list)."""
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"})
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines()
             if line.startswith("│ ") and len(line.split()) > 2}
    assert {"run", "resume", "best", "predict", "report", "dashboard", "ui", "datasets",
            "trainables"} <= set(lines), result.output
    assert ("trials stay, trials cut off resume from their last checkpoint, every strategy "
            "picks up where it was.") in lines["resume"], result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("name: [oops", "not valid YAML"),
        (small_campaign(colour="blue"), "unknown key 'colour'"),
        (small_campaign(strategies={"hillclimb": {}}), "hillclimb"),
        (small_campaign(budget={"trials": 0}), "budget.trials"),
        (small_campaign(resources={"cpu": 1, "gpu": 1}), "resources.gpu"),
        (yaml.safe_dump(small_campaign(), sort_keys=False) + "seed: 1\n",
         "key 'seed' is given twice"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(bare_workdir, tmp_path_factory, write_campaign,
                                              content, message):
    """Nothing in the given store, the working directory (no ./.sweepforge, no spool, no
    mlruns) or the store $MLFLOW_TRACKING_URI names; no Ray."""
    import ray

    db = tmp_path_factory.mktemp("given-store") / "store.db"
    uri = f"sqlite:///{db}"
    # a store that already holds something must come out byte for byte the same
    from mlflow.tracking import MlflowClient

    MlflowClient(uri).search_experiments()  # makes the store (`best` on it no longer does)
    assert db.is_file()
    before = store_state(db)
    path = bare_workdir.cwd / "missing.yaml" if content is None else write_campaign(content)
    result = runner.invoke(app, ["run", str(path), "--tracking-uri", uri])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert store_state(db) == before
    bare_workdir.assert_nothing_written(*([] if content is None else ["campaign.yaml"]))
    assert not ray.is_initialized()


@pytest.mark.slow
def test_run_then_best(ray_local, tmp_path, write_campaign, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `run` writes NAME-report.html in the working directory
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = write_campaign(small_campaign(name="cli-run", budget={"trials": 2, "max_epochs": 2}))
    result = runner.invoke(app, ["run", str(path), "--tracking-uri", uri, "--no-progress",
                                 "--strategies", "random,optuna"])
    assert result.exit_code == 0, result.output
    assert "Comparison" in result.output and "random" in result.output and "optuna" in result.output
    assert "grid" not in result.output

    best = runner.invoke(app, ["best", "cli-run", "--tracking-uri", uri])
    assert best.exit_code == 0, best.output
    body = yaml.safe_load("\n".join(line for line in best.output.splitlines()
                                     if not line.startswith("#")))
    assert {"lr", "batch_size", "optimizer", "init", "depth"} <= set(body)

    unknown = runner.invoke(app, ["best", "no-such-campaign", "--tracking-uri", uri])
    assert unknown.exit_code == 2 and "known campaigns: ['cli-run']" in unknown.output

    # the end-of-run report: in the working directory and on the campaign run in MLflow
    written = tmp_path / "cli-run-report.html"
    assert written.stat().st_size > 3_000_000  # plotly.js is inside: it opens offline
    assert "Report: cli-run-report.html" in result.output
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == "cli-run"]
    (campaign,) = client.search_runs([experiment.experiment_id],
                                     "tags.`sweepforge.kind` = 'campaign'")
    assert "report.html" in [a.path for a in client.list_artifacts(campaign.info.run_id)]

    again = tmp_path / "again.html"
    report = runner.invoke(app, ["report", "cli-run", "--tracking-uri", uri, "-o", str(again)])
    assert report.exit_code == 0 and again.is_file(), report.output
    bad = runner.invoke(app, ["report", "no-such-campaign", "--tracking-uri", uri])
    assert bad.exit_code == 2 and "known campaigns: cli-run" in bad.output


def test_dashboard_refuses_a_store_that_is_not_there(tmp_path):
    result = runner.invoke(app, ["dashboard", "--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert not (tmp_path / "none.db").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_ui_serves_mlflow_on_localhost(tmp_path):
    port = _free_port()
    script = Path(sys.executable).with_name("sweepforge")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    from mlflow.tracking import MlflowClient

    from sweepforge.search.tracking.tracker import Tracker

    # made as a campaign makes it: its artifacts beside the database, where the UI finds them
    experiment = Tracker(uri, "shown-in-the-ui").experiment_id
    client = MlflowClient(uri)
    run_id = client.create_run(experiment).info.run_id
    (tmp_path / "note.txt").write_text("an artifact")
    client.log_artifact(run_id, str(tmp_path / "note.txt"))
    proc = subprocess.Popen([str(script), "ui", "--port", str(port), "--tracking-uri", uri],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "MLflow UI did not come up in 90 s"
                time.sleep(1)
        query = "experiments/get-by-name?experiment_name=shown-in-the-ui"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/2.0/mlflow/{query}") as response:
            assert b"shown-in-the-ui" in response.read()  # the UI serves this very store
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/get-artifact?path=note.txt&"
                                    f"run_uuid={run_id}") as response:
            assert response.read() == b"an artifact"
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True,
                                   check=False)
        local_addresses = {line.split()[3] for line in listening.stdout.splitlines() if line.strip()}
        if listening.returncode == 0 and local_addresses:  # ss is there: check the bound interface
            assert local_addresses == {f"127.0.0.1:{port}"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the workers it started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("when", ["while-ray-shuts-down", "while-the-report-is-written"])
def test_ctrl_c_after_the_campaign_finished_says_nothing_is_lost(ray_local, tmp_path, write_campaign,
                                                                 monkeypatch, when):
    """A Ctrl-C that lands once the campaign has finished (Ray shutting down, the report being
    written) says so; it used to say the runs were KILLED and to resume, with nothing to resume."""
    from contextlib import contextmanager

    from mlflow.tracking import MlflowClient

    from sweepforge.search import campaign as campaign_module
    from sweepforge.search import cli

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    if when == "while-ray-shuts-down":  # (the fault injected: a Ctrl-C at that moment)
        real = campaign_module.ray_session

        @contextmanager
        def then_ctrl_c(*args, **kwargs):
            with real(*args, **kwargs):
                yield
            ctrl_c()

        monkeypatch.setattr(campaign_module, "ray_session", then_ctrl_c)
    else:
        monkeypatch.setattr(cli, "_end_of_run_report", ctrl_c)
    monkeypatch.chdir(tmp_path)
    uri, state = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "state")
    path = write_campaign(small_campaign(name="done-then-ctrl-c", strategies={"random": {}},
                                         budget={"trials": 1, "max_epochs": 1}, fixed={"epochs": 1}))
    result = runner.invoke(app, ["run", str(path), "--tracking-uri", uri, "--state-dir", state,
                                 "--no-progress"])
    assert result.exit_code == 130, result.output
    assert "interrupted after the campaign finished" in result.output
    assert "KILLED" not in result.output and "sweepforge report done-then-ctrl-c" in result.output
    runs = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name("done-then-ctrl-c").experiment_id])
    assert {r.info.status for r in runs} == {"FINISHED"}
    again = runner.invoke(app, ["resume", "done-then-ctrl-c", "--state-dir", state])
    assert again.exit_code == 2 and "no unfinished campaign" in again.output


@pytest.mark.slow
def test_ctrl_c_ends_the_campaign_as_killed_with_exit_130(tmp_path, write_campaign):
    """A real SIGINT to a real `sweepforge run`, sent once a trial has finished."""
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    path = write_campaign(small_campaign(name="ctrl-c", strategies={"random": {}},
                                         budget={"trials": 200, "max_epochs": 2}))
    script = Path(sys.executable).with_name("sweepforge")
    output = tmp_path / "output.txt"  # a file, not a pipe: a full pipe would block the process
    with output.open("wb") as sink:
        proc = subprocess.Popen([str(script), "run", str(path), "--tracking-uri", f"sqlite:///{db}",
                                 "--no-progress"], stdout=sink, stderr=subprocess.STDOUT)
    client = MlflowClient(f"sqlite:///{db}")
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "no trial finished within 120 s"
            experiment = db.exists() and client.get_experiment_by_name("ctrl-c")
            if experiment and client.search_runs([experiment.experiment_id],
                                                 "attributes.status = 'FINISHED'"):
                break
            time.sleep(1)
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=60) == 130, output.read_text()
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 60 s after Ctrl-C; its output:\n{output.read_text()}")
    finally:
        if proc.poll() is None:
            proc.kill()
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    statuses = {(r.data.tags["sweepforge.kind"], r.info.status) for r in runs}
    assert ("campaign", "KILLED") in statuses and ("strategy", "KILLED") in statuses
    assert ("trial", "FINISHED") in statuses
    assert not any(status == "RUNNING" for _, status in statuses)
