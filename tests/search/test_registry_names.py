"""``final.register`` is checked before anything runs by sweepforge's own copy of the Model
Registry's name rules; this holds the copy to the real Registry (a SQLite store), so a change
in MLflow's rules fails here, naming the MLflow version."""

from __future__ import annotations

import mlflow
import pytest
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from sweepforge.search.config import CampaignError, parse_campaign_config
from tests.conftest import small_campaign

NAMES = ["digits-mlp", "x.y", "Model 1", "é-模型", "..x", "..", ".", "a/b", "a:b", "", " ",
         "./a", "a/", "-", "x" * 200]


def _sweepforge_takes(name: str) -> bool:
    try:
        parse_campaign_config({**small_campaign(), "final": {"register": name}})
    except CampaignError as err:
        assert "final.register" in str(err)
        return False
    return True


def test_the_campaign_file_takes_exactly_the_names_the_registry_takes(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for name in NAMES:
        try:
            client.create_registered_model(name)
            registry_takes = True
        except MlflowException:
            registry_takes = False
        assert _sweepforge_takes(name) == registry_takes, (
            f"MLflow {mlflow.__version__}'s Model Registry {'takes' if registry_takes else 'refuses'}"
            f" {name!r} but the campaign file's check (search/config.py, FinalModel) does not "
            "agree: update it")


@pytest.mark.parametrize("name", ["a/b", "..", ""])
def test_a_refused_name_exits_2_before_anything_is_written(tmp_path, monkeypatch, name):
    from typer.testing import CliRunner

    from sweepforge.search.cli import app

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**small_campaign(), "final": {"register": name}}))
    result = CliRunner().invoke(app, ["run", str(path), "--no-progress", "--no-report"])
    assert result.exit_code == 2, result.output
    assert "final.register" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]
