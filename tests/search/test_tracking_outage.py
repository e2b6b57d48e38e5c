"""The MLflow tracking server goes away mid-campaign and comes back: a real ``mlflow server``
on 127.0.0.1 (SQLite backend), stopped with SIGTERM while trials run, started again on the same
port and store a minute later. The campaign must neither crash nor lose anything: writes that
failed wait in the spool and are replayed once, in order, when the server is back (here at the
campaign's close, which waits for it).
"""

from __future__ import annotations

import collections
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from sweepforge.search import Campaign
from sweepforge.search.config import parse_campaign_config
from sweepforge.search.schema import TAG_KIND
from sweepforge.search.state.spool import Spool
from sweepforge.search.tracking.tracker import Tracker, replay_spool
from tests.conftest import small_campaign

OUTAGE_S = 60.0  # the campaign ends during the outage and waits for the server at its close
TRIALS, EPOCHS = 8, 3


class MlflowServer:
    """A real ``mlflow server`` subprocess on 127.0.0.1 that can be stopped and started again
    on the same port and store."""

    def __init__(self, folder: Path):
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "1",
                   "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
                   "--artifacts-destination", str(self.folder / "artifacts")]
        log = open(self.folder / "server.log", "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log, cwd=self.folder,
                                        start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"mlflow server did not start: {(self.folder / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM to the server's process group (gunicorn/uvicorn workers included)."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        with socket.socket() as probe:  # the port must refuse connections now
            assert probe.connect_ex(("127.0.0.1", self.port)) != 0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    running.start()
    yield running
    running.stop()


@pytest.fixture
def spool_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPFORGE_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state" / "spool"


@pytest.mark.slow
def test_campaign_survives_a_tracking_server_outage(ray_local, server, spool_dir, monkeypatch, caplog):
    import tests.search.faulty_trainables  # noqa: F401  (registers `faulty`)
    from sweepforge.search.tracking import progress as _progress

    outage = {}
    original = _progress.CampaignProgress.on_event

    def stop_server_at_third_start(self, strategy, record):
        original(self, strategy, record)
        starts = outage.setdefault("starts", 0) + (record is None)
        outage["starts"] = starts
        if record is None and starts == 3:
            server.stop()
            outage["stopped"] = time.monotonic()
            restart = threading.Timer(OUTAGE_S, server.start)
            restart.start()
            outage["restart"] = restart

    monkeypatch.setattr(_progress.CampaignProgress, "on_event", stop_server_at_third_start)
    # the server's restart takes 10-40 s on a busy 2-core box, on top of the outage: let the
    # campaign's end wait long enough for it (default 60 s)
    monkeypatch.setenv("SWEEPFORGE_MLFLOW_WAIT_S", "240")
    campaign = small_campaign(
        name="outage", trainable="faulty", budget={"trials": TRIALS, "max_epochs": EPOCHS},
        space={"x": {"type": "float", "low": 0.1, "high": 0.9}}, fixed={"sleep_s": 0.7},
        strategies={"random": {}}, max_concurrent_trials=2,
    )
    caplog.set_level(logging.WARNING, logger="sweepforge.tracking")
    result = Campaign(parse_campaign_config(campaign), tracking_uri=server.uri).run()
    outage["restart"].join()
    assert "stopped" in outage

    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot be reached" in m for m in messages)  # the outage was felt ...
    assert any("is back" in m for m in messages)  # ... and the spool replayed
    assert not list(spool_dir.glob("*.jsonl"))  # nothing left waiting

    client = MlflowClient(server.uri)
    runs = client.search_runs([result.experiment_id], max_results=1000)
    kinds = collections.Counter(r.data.tags[TAG_KIND] for r in runs)
    assert kinds == {"campaign": 1, "strategy": 1, "trial": TRIALS}
    assert {r.info.status for r in runs} == {"FINISHED"}  # none RUNNING, none lost
    trials = [r for r in runs if r.data.tags[TAG_KIND] == "trial"]
    ids = collections.Counter(
        (r.data.tags["sweepforge.campaign_id"], r.data.tags["sweepforge.trial_id"]) for r in trials
    )
    assert set(ids.values()) == {1} and len(ids) == TRIALS
    for run in trials:
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert sorted(m.step for m in history) == list(range(1, EPOCHS + 1))  # once per epoch
        assert run.data.params["x"]  # params written, also for runs created during the outage
    assert set(result.trials["run_id"]) == {r.info.run_id for r in trials}  # real ids, not local
    assert result.campaign_run_id in {r.info.run_id for r in runs}
    csv = client.download_artifacts(result.campaign_run_id, "comparison.csv", str(spool_dir.parent))
    assert Path(csv).read_text().count("\n") == 2


@pytest.mark.slow
def test_a_spool_replayed_twice_writes_everything_once(server, tmp_path):
    """A master killed mid-replay, before it marked its ops done, replays them again: the
    second replay must not duplicate a run, a metric or anything else."""
    tracker = Tracker(server.uri, "replay-twice", spool=tmp_path / "spool.jsonl", retry_every_s=3600)
    # the store goes away: this tracker's server address now refuses connections (cheaper than
    # a second server restart; the campaign test above stops the real server)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    tracker.tracking_uri, tracker.client = closed, MlflowClient(closed)
    try:
        run = tracker.start_run("trial-0", {TAG_KIND: "trial"})
        assert run.startswith("local-")  # created while the server is away: a placeholder
        child = tracker.start_run("child", {TAG_KIND: "trial"}, parent=run)
        stamp = int(time.time() * 1000)
        tracker.log(run, params={"lr": 0.1},
                    metrics=[Metric("val_accuracy", 0.5 + e / 10, stamp + e, e) for e in (1, 2, 3)],
                    tags={"note": "spooled"})
        tracker.log_text(run, "hello", "note.txt")
        tracker.end_run(child)
        tracker.end_run(run)
        assert tracker.pending == 6
    finally:  # ... and comes back
        tracker.tracking_uri, tracker.client = server.uri, MlflowClient(server.uri)
    copy = tmp_path / "copy.jsonl"
    shutil.copy(tmp_path / "spool.jsonl", copy)  # as the file stood before any op was done
    assert tracker.close() == 0 and not (tmp_path / "spool.jsonl").exists()
    assert replay_spool(copy, tracking_uri=server.uri) == 0  # everything again, from the top
    assert not copy.exists()

    client = MlflowClient(server.uri)
    experiment = client.get_experiment_by_name("replay-twice")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["child", "trial-0"]
    parent = next(r for r in runs if r.info.run_name == "trial-0")
    child = next(r for r in runs if r.info.run_name == "child")
    assert tracker.real_run_id(run) == parent.info.run_id
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    history = client.get_metric_history(parent.info.run_id, "val_accuracy")
    assert [(m.step, m.value) for m in history] == [(1, 0.6), (2, 0.7), (3, 0.8)]
    assert parent.data.params == {"lr": "0.1"} and parent.data.tags["note"] == "spooled"
    assert {r.info.status for r in runs} == {"FINISHED"}
    text = client.download_artifacts(parent.info.run_id, "note.txt", str(tmp_path))
    assert Path(text).read_text() == "hello"


def test_a_torn_last_line_is_ignored(tmp_path):
    """A master killed while writing a spool line leaves half a line; the ops before it count."""
    spool = Spool.create(tmp_path / "s.jsonl", "http://127.0.0.1:1", "0")
    spool.append({"op": "end_run", "run": "r1", "status": "FINISHED", "end_time": 1})
    spool.append({"op": "end_run", "run": "r2", "status": "FINISHED", "end_time": 2})
    spool.mark_done(spool.pending[0])
    with open(spool.path, "a") as handle:
        handle.write('{"kind": "op", "seq": 2, "op": "end_')
    again = Spool.load(spool.path)
    assert [op["run"] for op in again.pending] == ["r2"]
