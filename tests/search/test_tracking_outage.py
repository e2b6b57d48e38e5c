"""The MLflow tracking server goes away mid-campaign and comes back: a real ``mlflow server``
on 127.0.0.1 (SQLite backend), stopped with SIGTERM while trials run, started again on the same
port and store. The campaign must neither crash nor lose anything: writes that failed wait in the
spool and are replayed once, in order, when the server is back: at the campaign's close, which
waits for it (``$SWEEPFORGE_MLFLOW_WAIT_S``), or, when it is back only after that, by
``sweepforge resume NAME``.
"""

from __future__ import annotations

import collections
import contextlib
import inspect
import logging
import shutil
import socket
import sqlite3
import threading
import time
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from sweepforge.search import Campaign
from sweepforge.search.cli import app
from sweepforge.search.config import parse_campaign_config
from sweepforge.search.schema import TAG_KIND, TAG_RUN_KEY
from sweepforge.search.session import mlflow_wait_s
from sweepforge.search.state.spool import Spool
from sweepforge.search.tracking import tracker as tracker_module
from sweepforge.search.tracking.tracker import LOCAL_RUN_PREFIX, Tracker, replay_spool
from tests.conftest import small_campaign
from tests.search.mlflow_server import MlflowServer

TRIALS, EPOCHS = 8, 3


@pytest.fixture
def spool_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPFORGE_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state" / "spool"


def assert_epochs_once_in_logged_order(client: MlflowClient, run_id: str, epochs: int) -> None:
    """The run's val_accuracy has each epoch once, in the order logged: MLflow returns a
    history by timestamp, which the tracker sets when the epoch's result comes in, so steps
    1, 2, ... with rising timestamps mean epoch 1 was logged first (no sorting here)."""
    history = client.get_metric_history(run_id, "val_accuracy")
    assert [m.step for m in history] == list(range(1, epochs + 1))
    stamps = [m.timestamp for m in history]
    assert stamps == sorted(set(stamps))  # strictly rising: no tie that step order would hide


def metric_rows(server: MlflowServer, after: int = 0) -> list[tuple[int, str, str, int, int]]:
    """(rowid, run id, key, step, timestamp) of the server's stored metrics, in the order they
    were written (SQLite's rowid). MLflow's API orders a history by timestamp, so the order
    the writes reached the store is read from its table (MLflow's ``metrics`` table)."""
    with contextlib.closing(sqlite3.connect(f"file:{server.folder / 'mlflow.db'}?mode=ro",
                                            uri=True)) as db:
        try:
            return db.execute("SELECT rowid, run_uuid, key, step, timestamp FROM metrics "
                              "WHERE rowid > ? ORDER BY rowid", (after,)).fetchall()
        except sqlite3.OperationalError as err:  # pragma: no cover  (MLflow moved its table)
            raise AssertionError(f"MLflow {mlflow.__version__}'s store has no metrics table "
                                 f"as this test reads it: {err}") from err


@pytest.mark.slow
def test_campaign_survives_a_tracking_server_outage(ray_local, server, spool_dir, monkeypatch, caplog):
    import tests.search.faulty_trainables  # noqa: F401  (registers `faulty`)
    from sweepforge.search.tracking import progress as _progress

    outage = {}
    original, close = _progress.CampaignProgress.on_event, Tracker.close

    def stop_server_at_third_start(self, strategy, record):
        original(self, strategy, record)
        starts = outage.setdefault("starts", 0) + (record is None)
        outage["starts"] = starts
        if record is None and starts == 3:
            server.stop()
            outage["stopped"] = time.monotonic()

    def restart_server_as_the_campaign_closes(self, wait_s=0.0):
        # the campaign has ended during the outage: the server comes back while the close
        # waits for it, whatever the trials took
        outage["closing"] = time.monotonic()
        outage["restart"] = threading.Thread(target=server.start)
        outage["restart"].start()
        return close(self, wait_s)

    monkeypatch.setattr(_progress.CampaignProgress, "on_event", stop_server_at_third_start)
    monkeypatch.setattr(Tracker, "close", restart_server_as_the_campaign_closes)
    # the server's restart takes 10-40 s on a busy 2-core box: let the campaign's close wait
    # long enough for it (default 60 s)
    monkeypatch.setenv("SWEEPFORGE_MLFLOW_WAIT_S", "240")
    campaign = small_campaign(
        name="outage", trainable="faulty", budget={"trials": TRIALS, "max_epochs": EPOCHS},
        space={"x": {"type": "float", "low": 0.1, "high": 0.9}}, fixed={"sleep_s": 0.7},
        strategies={"random": {}}, max_concurrent_trials=2,
    )
    caplog.set_level(logging.WARNING, logger="sweepforge.tracking")
    result = Campaign(parse_campaign_config(campaign), tracking_uri=server.uri).run()
    outage["restart"].join()
    assert outage["stopped"] < outage["closing"]  # stopped mid-campaign, back at its close

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
        assert_epochs_once_in_logged_order(client, run.info.run_id, EPOCHS)
        assert run.data.params["x"]  # params written, also for runs created during the outage
    assert set(result.trials["run_id"]) == {r.info.run_id for r in trials}  # real ids, not local
    assert result.campaign_run_id in {r.info.run_id for r in runs}
    csv = client.download_artifacts(result.campaign_run_id, "comparison.csv", str(spool_dir.parent))
    assert Path(csv).read_text().count("\n") == 2


def watch_the_spool(monkeypatch) -> tuple[list[tuple[str, float]], list[float]]:
    """Spies that call the real thing: ``events`` gets ("failed", when) when a call fails and
    the spool opens (the tracker counts its 5 s from there), ("write", when) for each write
    spooled, ("try", when) for each try of the server, ("close", when) when the tracker's
    close begins; ``waits`` gets the ``wait_s`` of each close."""
    events: list[tuple[str, float]] = []
    waits: list[float] = []
    reachable, append, open_spool, close = (tracker_module._reachable, Spool.append,
                                            Tracker._open_spool, Tracker.close)

    def trying(uri):
        events.append(("try", time.monotonic()))
        return reachable(uri)

    def writing(self, op):
        events.append(("write", time.monotonic()))
        return append(self, op)

    def opening(self):
        opened = open_spool(self)
        events.append(("failed", time.monotonic()))
        return opened

    def closing(self, wait_s=0.0):
        waits.append(wait_s)
        events.append(("close", time.monotonic()))
        return close(self, wait_s)

    monkeypatch.setattr(tracker_module, "_reachable", trying)
    monkeypatch.setattr(Spool, "append", writing)
    monkeypatch.setattr(Tracker, "_open_spool", opening)
    monkeypatch.setattr(Tracker, "close", closing)
    return events, waits


def assert_tried_every_5_s_then_for_the_wait(events: list[tuple[str, float]], wait_s: float) -> None:
    """While trials run, each try of the server is made by a write, never sooner than 5 s after
    the last try (or the failed call), and a write 5 s after it is followed by a try; at the
    close, tries go on for ``wait_s``. The margin covers the moments between the tracker
    reading its clock and these spies reading theirs; a busy machine only stretches the gaps."""
    timeline = [(label, round(when - events[0][1], 2)) for label, when in events]
    kinds = [label for label, _ in events]
    assert kinds.count("failed") == 1 and kinds.index("failed") < kinds.index("write"), timeline
    closing = kinds.index("close")
    last_try, tries = None, 0
    for i, (label, when) in enumerate(events[:closing]):
        if label == "try":
            assert kinds[i - 1] == "write" and when - last_try >= 5.0 - 0.5, (i, timeline)
            tries += 1
        elif label == "write" and last_try is not None and when - last_try >= 5.0 + 0.5:
            assert kinds[i + 1] == "try", (i, timeline)
        if label in ("failed", "try"):
            last_try = when
    assert tries >= 2, timeline  # the outage's writes spanned two rounds of 5 s
    at_close = [when for label, when in events[closing:] if label == "try"]
    assert len(at_close) >= 2 and at_close[-1] - at_close[0] >= wait_s - 0.5, timeline


LEFT_TRIALS, LEFT_EPOCHS = 8, 4


@pytest.mark.slow
def test_writes_left_at_the_end_are_written_by_resume(ray_local, server, spool_dir, tmp_path,
                                                       monkeypatch):
    """The default path: the server stops at the second trial's start and is still away when
    the campaign ends. While trials run, the tracker tries the spool again at the first write
    5 s (``retry_every_s``) after its last try, never sooner; at its close it keeps trying for
    ``$SWEEPFORGE_MLFLOW_WAIT_S``. ``sweepforge run`` then shows the results, says that writes
    wait and that ``sweepforge resume NAME`` writes them, and exits 1. With the server back,
    ``sweepforge resume NAME`` writes them once and in order; a resume cut off and run again
    writes nothing twice; after that there is nothing to resume."""
    import tests.search.faulty_trainables  # noqa: F401  (registers `faulty`)
    from sweepforge.search.tracking import progress as _progress

    name, starts = "outage-left", []
    original_start = _progress.CampaignProgress.on_event

    def stop_server_at_second_start(self, strategy, record):
        original_start(self, strategy, record)
        starts.append(record is None)
        if record is None and starts.count(True) == 2:
            server.stop()

    monkeypatch.setattr(_progress.CampaignProgress, "on_event", stop_server_at_second_start)
    events, waits = watch_the_spool(monkeypatch)
    monkeypatch.setenv("SWEEPFORGE_MLFLOW_WAIT_S", "2")  # default 60 s (see the test below)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(small_campaign(
        name=name, trainable="faulty", budget={"trials": LEFT_TRIALS, "max_epochs": LEFT_EPOCHS},
        space={"x": {"type": "float", "low": 0.1, "high": 0.9}}, fixed={"sleep_s": 1.0},
        strategies={"random": {}}, max_concurrent_trials=2,
    )))
    runner = CliRunner()
    try:
        ran = runner.invoke(app, ["run", str(path), "--tracking-uri", server.uri, "--no-progress"])
        assert server.process is None, "the server was never stopped"
        (spool,) = spool_dir.glob("*.jsonl")
        waiting = Spool.load(spool).pending
        assert ran.exit_code == 1, ran.output
        assert "Comparison" in ran.output and "random" in ran.output  # the results are shown
        assert (f"{len(waiting)} writes (runs, params, metrics) wait in {spool}" in ran.output
                and f"`sweepforge resume {name}` writes them" in ran.output), ran.output
        assert "MLflow: experiment" not in ran.output and not list(tmp_path.glob("*.html"))

        assert waits == [mlflow_wait_s()] == [2.0]  # the close waited what the variable says
        assert_tried_every_5_s_then_for_the_wait(events, wait_s=2.0)

        # the server is back: `sweepforge resume NAME` writes what waits, once and in order
        before = metric_rows(server)
        shutil.copy(spool, tmp_path / "cut-off.jsonl")  # as it stood before the replay
        server.start()
        resumed = runner.invoke(app, ["resume", name, "--no-progress"])
    finally:
        if server.process is None:  # the later tests need it
            server.start()
    assert resumed.exit_code == 0, resumed.output
    assert f"its {len(waiting)} waiting writes are now in {server.uri}" in resumed.output
    assert not spool.exists()

    client = MlflowClient(server.uri)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    real = {LOCAL_RUN_PREFIX + r.data.tags[TAG_RUN_KEY]: r.info.run_id for r in runs}
    # the store got the spooled metrics once each, in the order they were logged
    stored = {row[1:] for row in before}  # an op in flight at the stop may have got through
    spooled = [(real.get(op["run"], op["run"]), key, step, stamp)
               for op in waiting if op["op"] == "log_batch"
               for key, _, stamp, step in op["metrics"]]
    written = [row[1:] for row in metric_rows(server, after=max((r[0] for r in before), default=0))]
    assert written == [m for m in spooled if m not in stored]
    assert len({run for run, *_ in spooled}) >= LEFT_TRIALS  # every trial's epochs waited

    kinds = collections.Counter(r.data.tags[TAG_KIND] for r in runs)
    assert kinds == {"campaign": 1, "strategy": 1, "trial": LEFT_TRIALS}
    assert {r.info.status for r in runs} == {"FINISHED"}  # none RUNNING, none lost
    trials = [r for r in runs if r.data.tags[TAG_KIND] == "trial"]
    assert len({r.data.tags["sweepforge.trial_id"] for r in trials}) == LEFT_TRIALS  # once each
    opened_meanwhile = {real[op["local_id"]] for op in waiting if op["op"] == "create_run"}
    # trials 3 on were opened while the server was away: their params too came from the spool
    assert len(opened_meanwhile & {r.info.run_id for r in trials}) >= LEFT_TRIALS - 2
    for run in trials:
        assert_epochs_once_in_logged_order(client, run.info.run_id, LEFT_EPOCHS)
        assert run.data.params["x"] and run.data.params["sleep_s"] == "1.0"
    csv = client.download_artifacts(
        next(r.info.run_id for r in runs if r.data.tags[TAG_KIND] == "campaign"),
        "comparison.csv", str(tmp_path))
    assert Path(csv).read_text().count("\n") == 2

    # a resume cut off before it marked its writes done runs again: nothing written twice
    shutil.copy(tmp_path / "cut-off.jsonl", spool)
    rows = len(metric_rows(server))
    again = runner.invoke(app, ["resume", name, "--no-progress"])
    assert again.exit_code == 0 and not spool.exists(), again.output
    assert len(metric_rows(server)) == rows
    assert len(client.search_runs([experiment.experiment_id], max_results=1000)) == len(runs)
    for run in trials:
        assert_epochs_once_in_logged_order(client, run.info.run_id, LEFT_EPOCHS)
    done = runner.invoke(app, ["resume", name, "--no-progress"])
    assert done.exit_code == 2 and f"no unfinished campaign named '{name}'" in done.output


def test_a_campaign_waits_60_s_for_mlflow_by_default(monkeypatch):
    """The wait at a campaign's close (what the session hands ``Tracker.close``)."""
    monkeypatch.delenv("SWEEPFORGE_MLFLOW_WAIT_S", raising=False)
    assert mlflow_wait_s() == 60.0
    monkeypatch.setenv("SWEEPFORGE_MLFLOW_WAIT_S", "2")
    assert mlflow_wait_s() == 2.0
    # and while trials run, the spool is tried every 5 s (a campaign's tracker keeps the default)
    assert inspect.signature(Tracker).parameters["retry_every_s"].default == 5.0


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


@pytest.mark.slow
def test_a_spool_replayed_by_another_process_finds_runs_created_before_the_outage(server, tmp_path):
    """A campaign's tracker (a writer thread) hands out local ids and creates the runs behind
    them; writes naming such a run that wait in the spool must name its MLflow id, or a resume
    (another process: a new tracker, the spool file only) could not write them."""
    tracker = Tracker(server.uri, "created-before", spool=tmp_path / "spool.jsonl",
                      retry_every_s=3600, background=True)
    run = tracker.start_run("trial-0", {TAG_KIND: "trial"})
    tracker.flush()  # created in MLflow while it answers
    assert run.startswith(LOCAL_RUN_PREFIX) and tracker.real_run_id(run) != run
    with socket.socket() as probe:  # the store goes away (see the test above)
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    tracker.tracking_uri, tracker.client = closed, MlflowClient(closed)
    child = tracker.start_run("child", {TAG_KIND: "trial"}, parent=run)
    tracker.log(run, metrics=[Metric("val_accuracy", 0.5, int(time.time() * 1000), 1)])
    tracker.end_run(child)
    tracker.end_run(run)
    tracker.flush()
    assert tracker.pending == 4
    # the master dies here: only the spool file is left; the store comes back
    assert replay_spool(tmp_path / "spool.jsonl", tracking_uri=server.uri) == 0

    client = MlflowClient(server.uri)
    parent = client.get_run(tracker.real_run_id(run))
    assert [m.value for m in client.get_metric_history(parent.info.run_id, "val_accuracy")] == [0.5]
    assert parent.info.status == "FINISHED"
    (made,) = client.search_runs([tracker.experiment_id], "attributes.run_name = 'child'")
    assert made.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert made.info.status == "FINISHED"


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
    # the next master continues the spool: the torn fragment is cut off, not left mid-file
    again.append({"op": "end_run", "run": "r3", "status": "FINISHED", "end_time": 3})
    assert [op["run"] for op in Spool.load(spool.path).pending] == ["r2", "r3"]
    assert '"end_' not in spool.path.read_text().replace('"end_run"', "").replace('"end_time"', "")


def test_a_damaged_line_with_writes_after_it_is_refused_naming_it(tmp_path):
    """Only a last line can be torn by a crash: a bad line with writes after it means an edited
    or damaged spool, and reading on (or stopping there) would lose the writes after it."""
    spool = Spool.create(tmp_path / "s.jsonl", "http://127.0.0.1:1", "0")
    spool.append({"op": "end_run", "run": "r1", "status": "FINISHED", "end_time": 1})
    lines = spool.path.read_text().splitlines()
    spool.path.write_text("\n".join([lines[0], "{not json", lines[1]]) + "\n")
    with pytest.raises(ValueError, match=r"s.jsonl, line 2: not a JSON line, and 1 lines follow"):
        Spool.load(spool.path)
