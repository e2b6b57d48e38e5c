"""The reuse examples run as documented: a trainable from plain Python, a plain Optuna
objective and a plain Ray Tune Tuner, with none of sweepforge's search machinery."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REUSE = Path(__file__).parent.parent / "examples" / "reuse"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"reuse_{name}", REUSE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_trainables_import_no_search_or_tracking_library():
    code = ("import sys, sweepforge.trainables; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'optuna', 'mlflow', 'deap'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plain_python_resumes_where_it_stopped(tmp_path, capsys):
    example = _load("plain_python")
    first = example.main(epochs=3, checkpoint_dir=str(tmp_path))
    assert first["epoch"] == 3
    capsys.readouterr()
    second = example.main(epochs=5, checkpoint_dir=str(tmp_path))
    printed = capsys.readouterr().out
    assert "epoch  3" not in printed and "epoch  4" in printed  # only epochs 4 and 5 ran
    assert second["epoch"] == 5 and second["test_accuracy"] > 0.9


def test_optuna_objective_finds_a_good_mlp_and_prunes():
    import optuna

    study = _load("optuna_objective").main(n_trials=8, epochs=5)
    states = [trial.state for trial in study.trials]
    assert study.best_value > 0.9
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 3
    assert all(len(t.intermediate_values) >= 1 for t in study.trials)  # reported every epoch


@pytest.mark.slow
def test_ray_tune_tuner_reports_checkpoints(ray_local, tmp_path):
    from sweepforge.trainables.checkpoint import CHECKPOINT_FILE, load_state_file

    results = _load("ray_tune_tuner").main(num_samples=3, epochs=3, storage=str(tmp_path))
    assert not results.errors
    best = results.get_best_result()
    assert best.metrics["val_accuracy"] > 0.85
    with best.checkpoint.as_directory() as folder:
        state = load_state_file(Path(folder) / CHECKPOINT_FILE)
    assert state["epoch"] == best.metrics["epoch"]
