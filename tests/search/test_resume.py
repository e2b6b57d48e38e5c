"""A killed master resumes: the journal replays every strategy, MLflow keeps one run per trial.

The slow tests run the master as a real subprocess (the `sweepforge` command line, with the test
trainable `mlp_slow` registered first), kill it with SIGKILL or SIGINT mid-campaign, resume it,
and check the outcome by querying MLflow.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from sweepforge.search import TrialResult
from sweepforge.search.cli import app
from sweepforge.search.config import parse_campaign_config
from sweepforge.search.plan import plan_campaign
from sweepforge.search.state.journal import (
    JOURNAL_FILE,
    Journal,
    JournalError,
    is_running,
    read_journal,
    replay,
)
from tests.conftest import small_campaign
from tests.search import resume_trainables  # noqa: F401  (registers mlp_slow here too)

REPO = Path(__file__).resolve().parents[2]
DRIVER = "import tests.search.resume_trainables; from sweepforge.search.cli import main; main()"
STRATEGIES = {"grid": {}, "random": {}, "optuna": {"sampler": "tpe", "n_startup_trials": 2},
              "evolutionary": {"population_size": 2}}


# --- the journal on its own (no Ray) --------------------------------------------------------
def _plan(**overrides):
    return plan_campaign(parse_campaign_config(small_campaign(**overrides)))


def _drive(plan, journal, asks: int, tell_upto: int) -> dict:
    """Asks ``asks`` trials of every strategy, tells the first ``tell_upto`` of each (values
    made up from the config), journaling everything; returns the live strategies."""
    live = {name: plan.new_strategy(name) for name in plan.strategies}
    for round_ in range(asks):
        for name, strategy in live.items():
            spec = strategy.ask()
            journal.ask(name, spec.trial_id, spec.config, f"t{name}{spec.trial_id}", 1)
            if round_ >= 1 and round_ - 1 < tell_upto:
                told = round_ - 1
                value = strategy._pending[told]["lr"] * 10
                strategy.tell(told, TrialResult(value))
                journal.tell(name, told, TrialResult(value))
    return live


def test_replay_gives_back_every_strategy_state(tmp_path):
    plan = _plan(budget={"trials": 12, "max_epochs": 2}, strategies=STRATEGIES)
    journal = Journal.create(tmp_path, campaign_id="0123456789ab", name="demo", config={},
                             strategies=list(plan.strategies))
    live = _drive(plan, journal, asks=8, tell_upto=6)
    journal.close()

    _, events = read_journal(tmp_path)
    again = {name: plan.new_strategy(name) for name in plan.strategies}
    in_flight = replay(events, again)

    assert sorted(in_flight) == sorted((n, t) for n in plan.strategies for t in (6, 7))
    for name in plan.strategies:  # same pending trials, same best, same next ask
        assert again[name].n_asked == live[name].n_asked == 8
        assert again[name].best_config == live[name].best_config
        assert again[name].ask().config == live[name].ask().config


def test_a_tampered_journal_is_refused_with_the_line(tmp_path):
    plan = _plan(budget={"trials": 6, "max_epochs": 2}, strategies=STRATEGIES)
    journal = Journal.create(tmp_path, campaign_id="0123456789ab", name="demo", config={},
                             strategies=list(plan.strategies))
    _drive(plan, journal, asks=4, tell_upto=2)
    journal.close()
    path = tmp_path / JOURNAL_FILE
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if '"optuna"' in line and '"ask"' in line
                  and '"trial":3' in line)
    record = json.loads(lines[number])
    record["config"]["lr"] = 0.0123  # a config the seeded strategy never proposes
    lines[number] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")

    _, events = read_journal(tmp_path)
    with pytest.raises(JournalError, match=rf"journal line {number + 1}: strategy 'optuna' "
                                           r"replays trial 3 as .*refusing to resume"):
        replay(events, {name: plan.new_strategy(name) for name in plan.strategies})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"\x80\x04\x95 pickled bytes\n", "is not JSON"),
        (b'{"type": "tell", "strategy": "random", "trial": 0, "state": "DONE", "value": 1}\n',
         "state must be one of"),
        ((b'{"type": "ask", "strategy": "random", "trial": "0", "config": {}, "tune_id": "", '
          b'"session": 1}\n'), "needs 'trial' as int"),
        (b'{"type": "exec", "code": "import os"}\n', "unknown record type 'exec'"),
        (b'{"type": "end", "status": "FINISHED", "also": 1}\n', "unknown keys ['also']"),
    ],
)
def test_a_malformed_line_is_refused(tmp_path, line, message):
    journal = Journal.create(tmp_path, campaign_id="0123456789ab", name="demo", config={},
                             strategies=["random"])
    journal.close()
    with (tmp_path / JOURNAL_FILE).open("ab") as file:
        file.write(line)
    with pytest.raises(JournalError, match="line 2") as caught:
        read_journal(tmp_path)
    assert message in str(caught.value)


def test_a_line_cut_off_by_a_crash_is_dropped(tmp_path):
    plan = _plan(budget={"trials": 4, "max_epochs": 2}, strategies={"random": {}})
    journal = Journal.create(tmp_path, campaign_id="0123456789ab", name="demo", config={},
                             strategies=["random"])
    _drive(plan, journal, asks=2, tell_upto=1)
    journal.close()
    with (tmp_path / JOURNAL_FILE).open("ab") as file:
        file.write(b'{"type": "ask", "strategy": "ran')  # the process died mid-write
    _, events = read_journal(tmp_path)
    assert len(events) == 3
    Journal.reopen(tmp_path).close()  # reopening removes the torn line
    assert (tmp_path / JOURNAL_FILE).read_bytes().endswith(b"}\n")


def test_a_trial_left_running_keeps_the_time_and_epochs_it_ran_before_the_kill(tmp_path):
    """A trial resumed from its checkpoint goes on in the run the killed master left open; its
    ``duration_s`` counts what it ran before the kill (up to the last epoch it logged) too, and
    its ``epochs_run`` the epochs it trained before (its checkpoint's, when MLflow has fewer)."""
    from sweepforge.search.tracking.trial_logger import LeftOpen

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("left-open"), start_time=1_000_000,
                            tags={"sweepforge.attempts": "2"})
    for epoch, at in ((1, 1_004_000), (2, 1_010_500)):  # ms: epochs logged 4 s and 10.5 s in
        client.log_metric(run.info.run_id, "val_accuracy", 0.5, timestamp=at, step=epoch)
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    left = LeftOpen.of(client.get_run(run.info.run_id), history)
    assert left == LeftOpen(run.info.run_id, last_epoch=2, started_at=1000.0, attempts=2,
                            ran_s=10.5, trained=2)
    # a checkpoint written after epochs that MLflow had not been sent yet: they were trained
    assert LeftOpen.of(client.get_run(run.info.run_id), history, checkpointed=4).trained == 4
    fresh = client.create_run(client.get_experiment_by_name("left-open").experiment_id)
    assert LeftOpen.of(fresh, []).ran_s == 0.0 and LeftOpen.of(fresh, []).last_epoch == 0


def test_a_running_campaign_cannot_be_resumed_twice(tmp_path):
    running = Journal.create(tmp_path, campaign_id="0123456789ab", name="demo", config={},
                             strategies=["random"])
    assert is_running(tmp_path)
    with pytest.raises(JournalError, match="running in another process"):
        Journal.reopen(tmp_path)
    running.close()
    assert not is_running(tmp_path)
    Journal.reopen(tmp_path).close()


def test_resume_of_a_tampered_journal_exits_2_before_anything_runs(tmp_path):
    import ray

    raw = small_campaign(name="tampered", strategies={"random": {}, "optuna": {}})
    config = parse_campaign_config(raw)
    plan = plan_campaign(config)
    state_dir = tmp_path / "state"
    folder = state_dir / "campaigns" / "tampered" / "0123456789ab"
    journal = Journal.create(folder, campaign_id="0123456789ab", name="tampered",
                             config=config.model_dump(mode="json"), strategies=list(plan.strategies))
    _drive(plan, journal, asks=2, tell_upto=1)
    journal.close()
    text = (folder / JOURNAL_FILE).read_text()
    (folder / JOURNAL_FILE).write_text(text.replace('"trial":1,"config":{"lr":', '"trial":1,"config":{"lr":1', 1))
    db = tmp_path / "mlflow.db"

    result = CliRunner().invoke(app, ["resume", "tampered", "--state-dir", str(state_dir),
                                      "--tracking-uri", f"sqlite:///{db}"])
    assert result.exit_code == 2, result.output
    assert "refusing to resume" in result.output and "journal line" in result.output
    assert not db.exists() and not ray.is_initialized()

    unknown = CliRunner().invoke(app, ["resume", "no-such", "--state-dir", str(state_dir)])
    assert unknown.exit_code == 2 and "no unfinished campaign named 'no-such'" in unknown.output


# --- a real master, killed and resumed ------------------------------------------------------
def _start(args: list[str], log: Path, state_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "SWEEPFORGE_STATE_DIR": str(state_dir), "PYTHONPATH": str(REPO)}
    with log.open("ab") as sink:
        return subprocess.Popen([sys.executable, "-c", DRIVER, *args], cwd=REPO, env=env,
                                stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _campaign_folder(state_dir: Path, name: str) -> Path | None:
    found = list((state_dir / "campaigns" / name).glob("*/" + JOURNAL_FILE))
    return found[0].parent if found else None


def _asked_not_told(folder: Path) -> dict[tuple[str, int], Any]:
    """(strategy, trial) -> its Ask event, for trials in flight as the journal on disk says."""
    try:
        _, events = read_journal(folder)
    except JournalError:  # (mid-write)
        return {}
    asked = {(e.strategy, e.trial): e for e in events if type(e).__name__ == "Ask"}
    for event in events:
        if type(event).__name__ == "Tell":
            asked.pop((event.strategy, event.trial), None)
    return asked


def _in_flight_with_checkpoint(folder: Path) -> dict[tuple[str, int], int]:
    """(strategy, trial) -> epochs checkpointed, for trials asked and not told, as on disk now."""
    out = {}
    for key, ask in _asked_not_told(folder).items():
        checkpoints = sorted((folder / "tune" / f"session-{ask.session}" / f"trial-{ask.tune_id}")
                             .glob("checkpoint_*"))
        if checkpoints:
            out[key] = int(checkpoints[-1].name.split("_")[-1]) + 1
    return out


def _trial_runs(client: MlflowClient, name: str):
    experiment = client.get_experiment_by_name(name)
    return client.search_runs([experiment.experiment_id], "tags.`sweepforge.kind` = 'trial'",
                              max_results=1000)


def _assert_complete(client: MlflowClient, name: str, strategies, budget: int, epochs: int):
    """Every strategy has its budget of trials, each exactly once and FINISHED, nothing left
    RUNNING or KILLED, and every epoch logged at most once."""
    experiment = client.get_experiment_by_name(name)
    every = client.search_runs([experiment.experiment_id], max_results=1000)
    assert {r.info.status for r in every} == {"FINISHED"}, Counter(
        (r.data.tags.get("sweepforge.kind"), r.info.status) for r in every)
    campaigns = {r.data.tags["sweepforge.campaign_id"] for r in every}
    assert len(campaigns) == 1
    trials = _trial_runs(client, name)
    keys = Counter((r.data.tags["sweepforge.campaign_id"], r.data.tags["sweepforge.strategy"],
                    int(r.data.tags["sweepforge.trial_id"])) for r in trials)
    assert max(keys.values()) == 1, keys  # no duplicates
    assert Counter(s for _, s, _ in keys) == dict.fromkeys(strategies, budget)
    for run in trials:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
        assert len(steps) == len(set(steps)), (run.info.run_name, steps)  # no epoch twice
        assert max(steps) == epochs and set(steps) <= set(range(1, epochs + 1))
    return trials


def _sigkill_once(proc: subprocess.Popen, log: Path, until, what: str, timeout: float = 150):
    """SIGKILLs the master ``proc`` as soon as ``until()`` holds; returns what it returned.
    Waits a second after, for the orphaned Ray to notice its driver is gone."""
    try:
        found = _wait(proc, log, until, what, timeout)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(1)
    return found


def _kill_mid_trial(proc: subprocess.Popen, log: Path, state_dir: Path, name: str, trial_runs,
                    finished: int) -> tuple[Path, dict[tuple[str, int], int]]:
    """SIGKILLs the master ``proc`` between epochs 1 and 2 of a trial, once ``finished`` trials
    of ``trial_runs()`` are FINISHED in MLflow; returns the campaign folder and the epochs each
    trial in flight had checkpointed."""
    def mid_trial():
        folder = _campaign_folder(state_dir, name)
        if folder is None:
            return None
        done = [r for r in trial_runs() if r.info.status == "FINISHED"]
        flights = _in_flight_with_checkpoint(folder)
        return folder if len(done) >= finished and any(e == 1 for e in flights.values()) else None

    folder = _sigkill_once(proc, log, mid_trial, f"a trial mid-way after {finished} finished")
    checkpointed = _in_flight_with_checkpoint(folder)
    assert checkpointed, "the kill came after the trial in flight had finished"
    return folder, checkpointed


def _wait(proc: subprocess.Popen, log: Path, until, what: str, timeout: float = 150):
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text()
        found = until()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s:\n{log.read_text()}"
        time.sleep(0.05)


LIMIT = 3000  # n_params, the limit of the multi-objective variant


def _told(run, several: bool) -> TrialResult:
    """What a strategy was told about a trial, from its MLflow run."""
    accuracy = run.data.metrics["val_accuracy"]
    if not several:
        return TrialResult(accuracy)
    size = run.data.metrics["n_params"]
    return TrialResult(accuracy, values=(accuracy, size), constraints=(size - LIMIT,))


@pytest.mark.slow
@pytest.mark.parametrize("several", [False, True], ids=["one-objective", "two-objectives"])
def test_sigkill_mid_campaign_then_resume(tmp_path, several):
    """One trial at a time, so each strategy's ask/tell order is fixed: the resumed strategies
    must ask exactly what an uninterrupted campaign asks for the same results (with two
    objectives and a limit: the same vectors and excesses, replayed from the journal)."""
    budget, epochs = 3, 3
    name = "killed"
    campaign = small_campaign(name=name, trainable="mlp_slow", strategies=STRATEGIES,
                              budget={"trials": budget, "max_epochs": epochs},
                              max_concurrent_trials=1)
    if several:
        del campaign["metric"], campaign["mode"]
        campaign.update(objectives={"val_accuracy": "max", "n_params": "min"},
                        constraints={"n_params": {"max": LIMIT}})
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign, sort_keys=False))  # (the objectives' order)
    uri, state_dir, log = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "state", tmp_path / "log.txt"
    client = MlflowClient(uri)
    proc = _start(["run", str(path), "--tracking-uri", uri, "--no-progress", "--no-report"], log, state_dir)
    folder, checkpointed = _kill_mid_trial(  # between epochs 1 and 2, once 4 trials are in MLflow
        proc, log, state_dir, name, finished=4,
        trial_runs=lambda: _trial_runs(client, name) if client.get_experiment_by_name(name) else [])
    before = {r.info.run_id: r.info.status for r in _trial_runs(client, name)}
    assert "RUNNING" in before.values()  # left by the killed master

    resumed = _start(["resume", name, "--no-progress", "--no-report"], log, state_dir)
    assert resumed.wait(timeout=240) == 0, log.read_text()

    trials = _assert_complete(client, name, STRATEGIES, budget, epochs)
    by_key = {(r.data.tags["sweepforge.strategy"], int(r.data.tags["sweepforge.trial_id"])): r
              for r in trials}
    assert set(before) <= {r.info.run_id for r in trials}  # the killed master's runs were reused
    for key, epochs_done in checkpointed.items():  # resumed from the checkpoint, not restarted
        tags = by_key[key].data.tags
        assert int(tags["sweepforge.resumed_at_epoch"]) == epochs_done + 1, tags
        assert tags["sweepforge.attempts"] == "2"

    # An uninterrupted campaign, driven by the same results, asks the same configs.
    plan = plan_campaign(parse_campaign_config(yaml.safe_load(path.read_text())))  # key order
    for strategy_name in STRATEGIES:
        fresh = plan.new_strategy(strategy_name)
        for trial_id in range(budget):
            spec = fresh.ask()
            run = by_key[(strategy_name, trial_id)]
            assert spec.config == json.loads(run.data.tags["sweepforge.config"]), (strategy_name, trial_id)
            fresh.tell(trial_id, _told(run, several))
    _, events = read_journal(folder)
    assert type(events[-1]).__name__ == "End" and not (folder / "tune").exists()


def _cloned_in_flight(folder: Path) -> dict[tuple[str, int], tuple[int, float, float]]:
    """(strategy, trial) -> (epoch checkpointed, lr asked, lr in its newest checkpoint), for
    trials asked and not told whose newest checkpoint holds another lr than was asked (PBT
    changed it), as on disk now."""
    out = {}
    for key, ask in _asked_not_told(folder).items():
        trial_dir = folder / "tune" / f"session-{ask.session}" / f"trial-{ask.tune_id}"
        for checkpoint in sorted(trial_dir.glob("checkpoint_*"))[-1:]:
            try:
                origin = json.loads((checkpoint / "sweepforge-origin.json").read_text())
            except (OSError, ValueError):
                continue
            if origin["config"]["lr"] != ask.config["lr"]:  # (under PBT a checkpoint's
                out[key] = (origin["epoch"], ask.config["lr"],  # number is not its epoch)
                            origin["config"]["lr"])
    return out


@pytest.mark.slow
def test_sigkill_of_a_pbt_campaign_then_resume_goes_on_with_what_pbt_changed(tmp_path, monkeypatch):
    """A trial whose learning rate PBT had changed resumes from its checkpoint with that
    learning rate, not with the one its strategy asked (the trainable writes what it uses)."""
    name, epochs = "killed-pbt", 8
    campaign = small_campaign(
        name=name, trainable="mlp_slow_lr", strategies={"random": {}},
        budget={"trials": 4, "max_epochs": epochs}, fixed={"epochs": epochs},
        scheduler={"type": "pbt", "perturbation_interval": 1, "quantile": 0.5,
                   "mutations": ["lr"]})
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign, sort_keys=False))
    uri, state_dir, log = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "state", tmp_path / "log.txt"
    started = tmp_path / "lr-log.txt"  # "EPOCH LR" each time a trial starts or resumes training
    monkeypatch.setenv("SWEEPFORGE_TEST_LR_LOG", str(started))
    proc = _start(["run", str(path), "--tracking-uri", uri, "--no-progress", "--no-report"],
                  log, state_dir)

    def cloned_mid_trial():
        folder = _campaign_folder(state_dir, name)
        found = _cloned_in_flight(folder) if folder is not None else {}
        return {k: v for k, v in found.items() if v[0] < epochs - 1} or None

    _sigkill_once(proc, log, cloned_mid_trial, "a trial in flight with an lr PBT changed")
    cloned = {k: v for k, v in _cloned_in_flight(_campaign_folder(state_dir, name)).items()
              if v[0] < epochs}
    assert cloned, "the trials PBT changed had ended before the kill"
    before = len(started.read_text().splitlines())

    resumed = _start(["resume", name, "--no-progress", "--no-report"], log, state_dir)
    assert resumed.wait(timeout=240) == 0, log.read_text()

    trials = _trial_runs(MlflowClient(uri), name)
    assert len(trials) == 4 and {r.info.status for r in trials} == {"FINISHED"}
    after = [line.split() for line in started.read_text().splitlines()[before:]]
    for key, (done, asked, changed) in cloned.items():
        restarts = [float(lr) for epoch, lr in after if int(epoch) == done + 1]
        assert any(lr == pytest.approx(changed) for lr in restarts), (key, asked, changed, after)
        assert not any(lr == pytest.approx(asked) for lr in restarts), (key, asked, changed, after)


@pytest.mark.slow
def test_sigkill_then_resume_counts_the_epochs_trained_before_the_kill(tmp_path):
    """``budget: {epochs: 10, max_epochs: 3}`` fits three trials of 3 epochs, not four. The
    master is killed while two trials are in flight with epochs checkpointed. On resume those
    epochs still count against the budget (they used to be forgotten, and a fourth trial ran),
    in ``epochs_run``, and in the curve each trial is told (the journal's tell)."""
    name, epochs = "killed-epochs", 3
    campaign = small_campaign(name=name, trainable="mlp_slow", strategies={"random": {}},
                              budget={"epochs": 10, "max_epochs": epochs}, fixed={"epochs": epochs})
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign, sort_keys=False))
    uri, state_dir, log = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "state", tmp_path / "log.txt"
    proc = _start(["run", str(path), "--tracking-uri", uri, "--no-progress", "--no-report"],
                  log, state_dir)

    def two_mid_trial():
        folder = _campaign_folder(state_dir, name)
        flights = _in_flight_with_checkpoint(folder) if folder is not None else {}
        return flights if len(flights) >= 2 and all(e < epochs for e in flights.values()) else None

    _sigkill_once(proc, log, two_mid_trial, "two trials in flight, each mid-way")
    resumed = _start(["resume", name, "--no-progress", "--no-report"], log, state_dir)
    assert resumed.wait(timeout=240) == 0, log.read_text()

    trials = _trial_runs(MlflowClient(uri), name)
    assert {r.info.status for r in trials} == {"FINISHED"}
    assert sorted(int(r.data.metrics["epochs_run"]) for r in trials) == [epochs] * 3
    _, events = read_journal(_campaign_folder(state_dir, name))
    tells = [e for e in events if type(e).__name__ == "Tell"]
    assert len(tells) == 3, tells
    for tell in tells:
        assert [epoch for epoch, _ in tell.curve] == list(range(1, epochs + 1)), tell


@pytest.mark.slow
def test_ctrl_c_then_run_again_resumes(tmp_path):
    """Two trials at once; Ctrl-C, then `sweepforge run FILE --resume` finishes the campaign."""
    budget, epochs = 2, 2
    name = "interrupted"
    strategies = {"random": {}, "optuna": {"n_startup_trials": 2}}
    campaign = small_campaign(name=name, trainable="mlp_slow", strategies=strategies,
                              budget={"trials": budget, "max_epochs": epochs})
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign))
    uri, state_dir, log = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "state", tmp_path / "log.txt"
    client = MlflowClient(uri)
    args = ["--tracking-uri", uri, "--no-progress", "--no-report"]
    proc = _start(["run", str(path), *args], log, state_dir)
    try:
        _wait(proc, log, lambda: client.get_experiment_by_name(name) and any(
            r.info.status == "FINISHED" for r in _trial_runs(client, name)), "a finished trial")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert f"sweepforge resume {name}" in log.read_text()
    statuses = Counter(r.info.status for r in _trial_runs(client, name))
    assert statuses["FINISHED"] >= 1 and "RUNNING" not in statuses
    experiment = client.get_experiment_by_name(name)
    closed = Counter((r.data.tags["sweepforge.kind"], r.info.status)  # the campaign ends KILLED
                     for r in client.search_runs([experiment.experiment_id], max_results=1000))
    assert closed[("campaign", "KILLED")] == 1 and sum(closed.values()) == sum(
        n for (kind, _), n in closed.items() if kind == "trial") + 1 + len(strategies), closed
    # a strategy cut off is KILLED (one that had run its whole budget may be FINISHED)
    assert closed[("strategy", "KILLED")] >= 1 and not [
        status for kind, status in closed if kind == "strategy" and status not in ("KILLED", "FINISHED")]

    again = _start(["run", str(path), "--resume", *args], log, state_dir)
    assert again.wait(timeout=240) == 0, log.read_text()
    _assert_complete(client, name, strategies, budget, epochs)
    assert "continues it" not in log.read_text().split("Comparison")[-1]


def test_run_again_offers_the_unfinished_campaign(tmp_path, write_campaign, capsys):
    """`run FILE` on a campaign whose last run did not finish: --resume takes it up, --new and
    (without a terminal) no flag start anew, the latter saying how to resume."""
    from sweepforge.search.campaign import Campaign
    from sweepforge.search.cli import _maybe_resume

    path = write_campaign(small_campaign(name="again", strategies={"random": {}}))
    state_dir = tmp_path / "state"
    campaign = Campaign.from_yaml(path, state_dir=state_dir)
    folder = state_dir / "campaigns" / "again" / "0123456789ab"
    Journal.create(folder, campaign_id="0123456789ab", name="again",
                   config=campaign.config.model_dump(mode="json"), strategies=["random"]).close()

    resumed = _maybe_resume(campaign, True, None, None)
    assert resumed is not campaign and resumed.resume_folder == folder
    assert _maybe_resume(campaign, False, None, None) is campaign
    assert _maybe_resume(campaign, None, None, None) is campaign  # stdin is not a terminal here
    assert "sweepforge resume again" in capsys.readouterr().err
