"""A trainable registered in the user's own file, outside any installed package and outside the
working directory, runs in Ray workers: the campaign tells them where its module lives."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from sweepforge.search import Campaign
from sweepforge.search.config import parse_campaign_config
from sweepforge.trainables.user_code import module_root

MODULE = textwrap.dedent('''
    from dataclasses import dataclass

    from sweepforge.trainables import register_trainable


    @dataclass(frozen=True)
    class Config:
        x: float = 0.5  # the score
        epochs: int = 2  # reports


    @register_trainable("user_file_trainable", config_cls=Config, metrics={"epoch", "val_score"},
                        datasets=("iris",), task="classification")
    def train(config, data, report=None, *, device="cpu", seed=0):
        for epoch in range(1, config.epochs + 1):
            metrics = {"epoch": epoch, "val_score": config.x * epoch}
            if report is not None:
                report(metrics)
        return metrics
''')


def test_module_root_is_the_folder_the_module_is_imported_from():
    import benchmarks.sleep_trainable  # noqa: F401
    import sweepforge.search.tune.worker  # noqa: F401

    repo = str(Path(__file__).resolve().parents[2])
    assert module_root("tests.search.test_user_trainable_module") == repo
    assert module_root("benchmarks.sleep_trainable") == repo
    assert module_root("sweepforge.search.tune.worker") is None  # installed: workers find it anyway
    assert module_root("__main__") is None


@pytest.mark.slow
def test_a_campaign_runs_a_trainable_from_a_folder_the_workers_do_not_know(
    ray_local, tmp_path, monkeypatch
):
    folder = tmp_path / "user code"
    (folder / "mypkg").mkdir(parents=True)
    (folder / "mypkg" / "__init__.py").write_text("")
    (folder / "mypkg" / "my_trainables.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(folder))  # the driver imports it; the workers cannot
    importlib.import_module("mypkg.my_trainables")
    assert module_root("mypkg.my_trainables") == str(folder)

    config = parse_campaign_config({
        "name": "user-module", "trainable": "user_file_trainable", "dataset": "iris",
        "metric": "val_score", "budget": {"trials": 3, "max_epochs": 2},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}}, "strategies": {"random": {}},
    })
    result = Campaign(config, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                      state_dir=tmp_path / "state").run()
    assert set(result.trials["state"]) == {"COMPLETE"}, result.trials["error"].tolist()
    assert len(result.trials) == 3 and (result.trials["epochs"] == 2).all()
    sys.modules.pop("mypkg.my_trainables", None)
