"""BestCheckpoints: the last checkpoint of each strategy's best trial, kept in real temporary
folders from the records a session offers it (real TrialRecord objects, checkpoint folders
written here as Ray Tune leaves them)."""

from __future__ import annotations

import doctest
import json
import shutil
from pathlib import Path

import pytest

from sweepforge.search.state import best_checkpoints
from sweepforge.search.state.best_checkpoints import POINTER, BestCheckpoints, safe_folder_name
from sweepforge.search.tracking.trial_logger import TrialRecord


def record(trial_id: int, value: float | None, *, strategy: str = "random",
           state: str = "COMPLETE", epochs: int = 3) -> TrialRecord:
    return TrialRecord(strategy=strategy, trial_id=trial_id, state=state, value=value,
                       test_value=None, epochs=epochs, duration_s=1.0, started_at=1.7e9,
                       config={"lr": 0.01 * (trial_id + 1), "width": 16}, run_id=f"run-{trial_id}")


@pytest.fixture
def checkpoint(tmp_path: Path):
    """``checkpoint(trial_id)``: a checkpoint folder as Tune leaves one (a file naming it)."""

    def make(trial_id: int) -> Path:
        folder = tmp_path / "tune" / f"trial-{trial_id}" / "checkpoint_000002"
        folder.mkdir(parents=True)
        (folder / "checkpoint.pt").write_text(f"weights of trial {trial_id}")
        return folder

    return make


def kept_ids(best: BestCheckpoints, strategy: str = "random") -> int | None:
    kept = best.kept(strategy)
    return None if kept is None else kept.trial_id


def home_of(best: BestCheckpoints, strategy: str = "random") -> list[str]:
    """What the strategy's folder holds."""
    return sorted(p.name for p in (best.root / safe_folder_name(strategy)).iterdir())


@pytest.mark.parametrize(
    ("mode", "values", "kept_after_each"),
    [
        ("max", [0.5, 0.7, 0.6, 0.9], [0, 1, 1, 3]),
        ("min", [0.5, 0.7, 0.3, 0.4], [0, 0, 2, 2]),
    ],
)
def test_keeps_the_better_trial(tmp_path, checkpoint, mode, values, kept_after_each):
    best = BestCheckpoints(tmp_path / "best", mode)
    for trial_id, (value, expected) in enumerate(zip(values, kept_after_each)):
        assert best.offer(record(trial_id, value), checkpoint(trial_id)) == (trial_id == expected)
        assert kept_ids(best) == expected
    kept = best.kept("random")
    assert kept.value == values[expected]
    assert (kept.folder / "checkpoint.pt").read_text() == f"weights of trial {expected}"


def test_a_tie_keeps_the_first(tmp_path, checkpoint):
    best = BestCheckpoints(tmp_path / "best", "max")
    assert best.offer(record(0, 0.8), checkpoint(0))
    assert not best.offer(record(1, 0.8), checkpoint(1))
    assert kept_ids(best) == 0
    assert home_of(best) == [POINTER, "trial-0"]


def test_what_is_kept_says_the_trial(tmp_path, checkpoint):
    best = BestCheckpoints(tmp_path / "best", "max")
    best.offer(record(4, 0.75, state="PRUNED", epochs=2), checkpoint(4))
    kept = best.kept("random")
    assert (kept.strategy, kept.trial_id, kept.value, kept.epochs, kept.state) == (
        "random", 4, 0.75, 2, "PRUNED")
    assert kept.config == {"lr": 0.05, "width": 16}
    assert kept.folder == tmp_path / "best" / "random" / "trial-4"


@pytest.mark.parametrize(
    ("offered", "with_checkpoint"),
    [
        (record(0, 0.99, state="FAILED"), True),
        (record(0, 0.99, state="RUNNING"), True),
        (record(0, None), True),
        (record(0, 0.99), None),  # no checkpoint
        (record(0, 0.99), "missing"),  # a folder Tune already deleted
        (record(0, 0.99), "file"),  # not a folder
    ],
    ids=["failed", "not-ended", "no-value", "no-checkpoint", "checkpoint-gone", "checkpoint-file"],
)
def test_never_keeps_a_trial_without_a_value_and_a_checkpoint(tmp_path, checkpoint, offered,
                                                              with_checkpoint):
    best = BestCheckpoints(tmp_path / "best", "max")
    folder: Path | None = checkpoint(0)
    if with_checkpoint is None:
        folder = None
    elif with_checkpoint == "missing":
        shutil.rmtree(folder)
    elif with_checkpoint == "file":
        folder = folder / "checkpoint.pt"
    assert best.offer(offered, folder) is False
    assert best.kept("random") is None
    assert not (tmp_path / "best").exists()  # nothing written


def test_a_failed_trial_never_replaces_the_best(tmp_path, checkpoint):
    best = BestCheckpoints(tmp_path / "best", "min")
    best.offer(record(0, 0.5), checkpoint(0))
    assert not best.offer(record(1, 0.1, state="FAILED"), checkpoint(1))
    assert kept_ids(best) == 0


def test_the_previous_best_is_deleted(tmp_path, checkpoint):
    best = BestCheckpoints(tmp_path / "best", "max")
    best.offer(record(0, 0.5), checkpoint(0))
    first = best.kept("random").folder
    best.offer(record(1, 0.6), checkpoint(1))
    assert not first.exists()
    assert home_of(best) == [POINTER, "trial-1"]
    assert json.loads((tmp_path / "best" / "random" / POINTER).read_text())["folder"] == "trial-1"


def test_the_copy_outlives_the_trials_checkpoint(tmp_path, checkpoint):
    """Tune deletes an ended trial's checkpoints; the kept copy is the best's own."""
    best = BestCheckpoints(tmp_path / "best", "max")
    source = checkpoint(0)
    best.offer(record(0, 0.5), source)
    shutil.rmtree(tmp_path / "tune")
    assert (best.kept("random").folder / "checkpoint.pt").read_text() == "weights of trial 0"


def test_strategies_are_kept_apart(tmp_path, checkpoint):
    best = BestCheckpoints(tmp_path / "best", "max")
    best.offer(record(0, 0.9, strategy="random"), checkpoint(0))
    assert best.offer(record(1, 0.2, strategy="optuna"), checkpoint(1))  # its own first
    assert (kept_ids(best, "random"), kept_ids(best, "optuna")) == (0, 1)
    assert best.kept("grid") is None


def test_a_half_made_copy_does_not_count_and_is_cleaned(tmp_path, checkpoint):
    """A master killed mid-copy leaves ``trial-<id>.partial`` (or a whole copy that best.json
    does not name yet): the best stays the one best.json names, and the leftovers go with the
    next copy."""
    best = BestCheckpoints(tmp_path / "best", "max")
    best.offer(record(0, 0.5), checkpoint(0))
    home = tmp_path / "best" / "random"
    (home / "trial-7.partial").mkdir()
    (home / "trial-7.partial" / "checkpoint.pt").write_text("half")
    shutil.copytree(checkpoint(8), home / "trial-8")  # copied, not yet named in best.json
    (home / "best.partial").write_text('{"trial_id": 8')  # best.json being replaced

    again = BestCheckpoints(tmp_path / "best", "max")  # the resumed master's
    assert kept_ids(again) == 0
    assert not again.offer(record(3, 0.4), checkpoint(3))  # worse than the kept 0.5
    assert again.offer(record(9, 0.6), checkpoint(9))
    assert home_of(again) == [POINTER, "trial-9"]


def test_a_half_made_copy_of_the_same_trial_is_replaced(tmp_path, checkpoint):
    best = BestCheckpoints(tmp_path / "best", "max")
    home = tmp_path / "best" / "random"
    (home / "trial-2.partial").mkdir(parents=True)
    (home / "trial-2.partial" / "stale.pt").write_text("half")
    assert best.offer(record(2, 0.5), checkpoint(2))
    assert sorted(p.name for p in best.kept("random").folder.iterdir()) == ["checkpoint.pt"]
    assert home_of(best) == [POINTER, "trial-2"]


def test_a_pointer_to_a_missing_copy_is_no_best(tmp_path, checkpoint):
    best = BestCheckpoints(tmp_path / "best", "max")
    best.offer(record(0, 0.5), checkpoint(0))
    shutil.rmtree(best.kept("random").folder)
    assert best.kept("random") is None
    assert best.offer(record(1, 0.1), checkpoint(1))  # anything is better than nothing kept


def test_best_json_survives_a_new_object(tmp_path, checkpoint):
    """A resumed session's BestCheckpoints goes on from what the killed one kept."""
    before = BestCheckpoints(tmp_path / "best", "min")
    before.offer(record(5, 0.25, epochs=4), checkpoint(5))
    after = BestCheckpoints(tmp_path / "best", "min")
    assert after.kept("random") == before.kept("random")
    assert not after.offer(record(6, 0.3), checkpoint(6))
    assert after.offer(record(7, 0.2), checkpoint(7))
    assert kept_ids(BestCheckpoints(tmp_path / "best", "min")) == 7


def test_drop_removes_the_folder(tmp_path, checkpoint):
    best = BestCheckpoints(tmp_path / "best", "max")
    best.offer(record(0, 0.5, strategy="random"), checkpoint(0))
    best.offer(record(1, 0.5, strategy="optuna"), checkpoint(1))
    best.drop("random")
    assert not (tmp_path / "best" / "random").exists()
    assert best.kept("random") is None and kept_ids(best, "optuna") == 1
    best.drop("optuna")
    assert not (tmp_path / "best").exists()  # every model logged: nothing left
    best.drop("optuna")  # twice (a resumed delivery) is fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tune"]


def test_a_strange_strategy_name_stays_inside_the_folder(tmp_path, checkpoint):
    best = BestCheckpoints(tmp_path / "best", "max")
    for trial_id, name in enumerate(["..", "../../escape", "a/b", "."]):
        assert best.offer(record(trial_id, 0.5, strategy=name), checkpoint(trial_id))
        assert kept_ids(best, name) == trial_id
        assert best.kept(name).folder.resolve().is_relative_to((tmp_path / "best").resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best", "tune"]
    assert sorted(p.name for p in (tmp_path / "best").iterdir()) == sorted(
        ["_..", ".._.._escape", "a_b", "_."])


def test_mode_must_be_max_or_min(tmp_path):
    with pytest.raises(ValueError, match="mode='maximize' must be 'max' or 'min'"):
        BestCheckpoints(tmp_path, "maximize")


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("../tpe gp", ".._tpe_gp"),  # the docstring's cases
        ("..", "_.."),
        (".", "_."),
        ("...", "_..."),
        ("", "_"),
        ("random", "random"),
        ("tpe-2_b.v1", "tpe-2_b.v1"),
        ("a/b\\c d", "a_b_c_d"),
        ("é", "_"),
    ],
)
def test_safe_folder_name(name, folder):
    assert safe_folder_name(name) == folder


def test_safe_folder_name_docstring_examples_hold():
    finder = doctest.DocTestFinder()
    (test,) = finder.find(best_checkpoints.safe_folder_name, "safe_folder_name",
                          globs={"safe_folder_name": safe_folder_name})
    assert test.examples, "safe_folder_name lost its examples"
    result = doctest.DocTestRunner().run(test)
    assert result.failed == 0
