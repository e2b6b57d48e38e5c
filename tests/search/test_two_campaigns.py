"""Two campaigns at once on one SQLite store: two master processes (each with its own local
Ray), different names, the same fresh ``sqlite:///`` file. Neither may crash on "database is
locked" (nor on both creating the tables), and each experiment must hold exactly its own runs.

To be sure the lock is met, the test itself holds the database locked for longer than
SQLite's busy timeout (MLflow sets 20 s) while both campaigns write: their writes fail with
"database is locked", and the Tracker must retry them until the lock is gone.
"""

from __future__ import annotations

import collections
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

ROOT = Path(__file__).resolve().parents[2]
TRIALS, EPOCHS = 6, 3
LOCK_S = 24.0  # > MLflow's SQLite busy_timeout of 20 s
MASTER = """
import sys
import tests.search.faulty_trainables  # registers `faulty`
from sweepforge.search import Campaign
from sweepforge.search.config import parse_campaign_config
from tests.conftest import small_campaign

name, store, trials, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
campaign = small_campaign(
    name=name, trainable="faulty", budget={"trials": trials, "max_epochs": epochs},
    space={"x": {"type": "float", "low": 0.1, "high": 0.9}},
    strategies={"random": {}, "grid": {}}, max_concurrent_trials=2,
)
result = Campaign(parse_campaign_config(campaign), tracking_uri=store).run()
print("CAMPAIGN_ID", result.campaign_id)
"""


@pytest.mark.slow
def test_two_campaigns_share_one_sqlite_store(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"  # fresh: both masters race to create tables
    env = {**os.environ, "SWEEPFORGE_STATE_DIR": str(tmp_path / "state"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    logs = {name: (tmp_path / f"{name}.out", tmp_path / f"{name}.err") for name in ("left", "right")}
    masters = {
        name: subprocess.Popen([sys.executable, "-c", MASTER, name, store, str(TRIALS), str(EPOCHS)], cwd=ROOT, env=env,
                               stdout=open(out, "w"), stderr=open(err, "w"))
        for name, (out, err) in logs.items()
    }
    hold_the_lock_while_both_write(tmp_path / "mlflow.db", masters, logs)
    for master in masters.values():
        master.wait(timeout=400)
    outputs = {name: (out.read_text(), err.read_text()) for name, (out, err) in logs.items()}
    for name, (_, err) in outputs.items():
        assert masters[name].returncode == 0, f"{name} failed:\n{err[-4000:]}"
    assert any("database is locked" in err for _, err in outputs.values())  # the lock was met
    campaign_ids = {name: out.split("CAMPAIGN_ID")[1].split()[0] for name, (out, _) in outputs.items()}

    client = MlflowClient(store)
    for name, campaign_id in campaign_ids.items():
        experiment = client.get_experiment_by_name(name)
        runs = client.search_runs([experiment.experiment_id], max_results=1000)
        assert {r.data.tags["sweepforge.campaign_id"] for r in runs} == {campaign_id}  # no mixing
        kinds = collections.Counter(r.data.tags["sweepforge.kind"] for r in runs)
        assert kinds == {"campaign": 1, "strategy": 2, "trial": 2 * TRIALS}
        assert {r.info.status for r in runs} == {"FINISHED"}
        trials = [r for r in runs if r.data.tags["sweepforge.kind"] == "trial"]
        keys = collections.Counter(
            (r.data.tags["sweepforge.strategy"], r.data.tags["sweepforge.trial_id"]) for r in trials
        )
        assert set(keys.values()) == {1}
        for run in trials:
            steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
            assert sorted(steps) == list(range(1, EPOCHS + 1))


def hold_the_lock_while_both_write(
    db: Path, masters: dict[str, subprocess.Popen], logs: dict[str, tuple[Path, Path]]
) -> None:
    """Once both campaigns have trial runs, takes SQLite's exclusive lock for ``LOCK_S``."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        for name, master in masters.items():
            if master.poll() is not None:
                pytest.fail(f"{name} ended before the lock was taken:\n{logs[name][1].read_text()}")
        try:
            with sqlite3.connect(db, timeout=1) as con:
                writers = con.execute(
                    "SELECT count(DISTINCT experiment_id) FROM runs WHERE run_uuid IN "
                    "(SELECT run_uuid FROM tags WHERE key = 'sweepforge.kind' AND value = 'trial')"
                ).fetchone()[0]
        except sqlite3.Error:  # tables not created yet, or busy
            writers = 0
        if writers == 2:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the two campaigns never both wrote a trial run")
    con = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        con.execute("BEGIN EXCLUSIVE")
        time.sleep(LOCK_S)
        con.execute("COMMIT")
    finally:
        con.close()


def test_a_fresh_store_is_opened_by_one_master_at_a_time(tmp_path):
    """While one master holds the setup lock of a fresh SQLite file (MLflow creating its
    tables), a second one waits for it instead of creating the same tables at once (which
    failed with "table ... already exists")."""
    import threading

    from sweepforge.search.tracking.tracker import Tracker, _store_setup_lock

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    opened = threading.Event()

    def second_master() -> None:
        Tracker(store, "second", spool=tmp_path / "spool.jsonl")
        opened.set()

    with _store_setup_lock(store):  # the first master, in the middle of creating the tables
        waiting = threading.Thread(target=second_master, daemon=True)
        waiting.start()
        assert not opened.wait(2.0), "the second master opened the store while the first held it"
        assert not (tmp_path / "mlflow.db").exists()
    waiting.join(timeout=60)
    assert opened.is_set()  # ... and goes on once the first is done
    assert MlflowClient(store).get_experiment_by_name("second") is not None


def test_database_is_locked_is_retried_until_the_lock_is_gone():
    """SQLite's "database is locked" (past its busy timeout) is retried with backoff; any other
    error of the store is raised at once. The store's answers are injected here; the campaign
    test above meets the real lock."""
    from mlflow.exceptions import MlflowException

    from sweepforge.search.tracking.tracker import _with_lock_retry

    answers = [MlflowException("(sqlite3.OperationalError) database is locked")] * 3 + ["written"]
    calls = []

    def write() -> str:
        calls.append(time.monotonic())
        answer = answers[len(calls) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert _with_lock_retry(write) == "written" and len(calls) == 4
    assert all(later > earlier for earlier, later in zip(calls, calls[1:]))  # it waited between

    def refused() -> None:
        calls.append(0.0)
        raise MlflowException("RESOURCE_DOES_NOT_EXIST: no such run")

    calls.clear()
    with pytest.raises(MlflowException, match="no such run"):
        _with_lock_retry(refused)
    assert len(calls) == 1
