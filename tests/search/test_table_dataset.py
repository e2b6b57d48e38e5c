"""A campaign on the user's own table: `dataset: {path, target, categorical, task}`.

The file is read and checked while planning (bad tables exit 2 naming `dataset.<key>`); the
end-to-end test runs a real campaign on a CSV with a real Ray and a real SQLite MLflow store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from sweepforge.search import Campaign
from sweepforge.search.cli import app
from sweepforge.search.config import (
    CampaignError,
    TableSource,
    load_campaign_config,
    parse_campaign_config,
)
from sweepforge.search.plan import plan_campaign
from tests.conftest import small_campaign


def rooms_frame(rows: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    area = rng.uniform(20, 150, rows).round(1)
    district = rng.choice(["docks", "centre", "hills", "park"], rows)
    premium = pd.Series(district).map({"docks": 0.9, "centre": 1.4, "hills": 1.2, "park": 1.0})
    rent = (area * premium * rng.uniform(9, 11, rows)).round(0)
    return pd.DataFrame({"district": district, "area": area, "rent": rent})


def table_campaign(dataset, **overrides):
    campaign = small_campaign(
        name="table-campaign", trainable="entity_embedding", dataset=dataset, metric="val_mape",
        mode="min", budget={"trials": 2, "max_epochs": 2},
        space={"lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
               "encoding": ["embedding", "onehot"]},
        strategies={"random": {}, "optuna": {"sampler": "tpe"}},
        fixed={"batch_size": 32},
    )
    campaign.update(overrides)
    return campaign


@pytest.fixture
def table_yaml(tmp_path, write_campaign):
    """A campaign file whose dataset is `data/rooms.csv`, relative to the file's folder."""
    (tmp_path / "data").mkdir()
    rooms_frame().to_csv(tmp_path / "data" / "rooms.csv", index=False)

    def write(**dataset):
        source = {"path": "data/rooms.csv", "target": "rent", "categorical": ["district"],
                  **dataset}
        return write_campaign(table_campaign(source))

    return write


def test_a_relative_path_is_resolved_against_the_campaign_files_folder(tmp_path, table_yaml):
    config = load_campaign_config(table_yaml())
    assert isinstance(config.dataset, TableSource)
    assert config.dataset.path == str(tmp_path / "data" / "rooms.csv")
    assert str(config.dataset) == config.dataset.path  # what MLflow shows as `dataset`
    assert config.dataset.categorical == ("district",)


def test_a_table_plans_like_a_registered_dataset(table_yaml):
    plan = plan_campaign(load_campaign_config(table_yaml()))
    assert plan.data.name == "rooms"
    assert plan.data.task == "regression"
    assert dict(plan.data.categories) == {0: 4}
    assert plan.data.n_train == 144


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"path": "data/rooms.csv"}, "missing required key 'dataset.target'"),
        ({"path": "data/rooms.csv", "target": "rent", "columns": []},
         "unknown key 'dataset.columns'; allowed keys here: path, target, categorical, task"),
        ({"path": "data/rooms.csv", "target": "rent", "categorical": "district"},
         "dataset.categorical: must be a list of column names, e.g. [district]"),
        ({"path": "data/rooms.csv", "target": "rent", "task": "regresion"},
         "dataset.task: Input should be 'classification' or 'regression'"),
        (7, "dataset: must be a registered dataset's name or a mapping {path: ..., target: ..."),
    ],
)
def test_a_bad_dataset_mapping_is_a_schema_error(dataset, message):
    with pytest.raises(CampaignError) as info:
        parse_campaign_config(table_campaign(dataset))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"path": "data/flats.csv"}, r"dataset\.path: table file '.*flats\.csv' does not exist"),
        ({"path": "data/rooms.txt"}, r"dataset\.path: .*'\.txt'; allowed: \.csv, \.parquet"),
        ({"target": "rents"},
         (r"dataset\.target: target column 'rents' is not in .*did you mean 'rent'.*"
          r"its columns: district, area, rent")),
        ({"categorical": ["distrct"]},
         r"dataset\.categorical: categorical column 'distrct' .*did you mean 'district'"),
        ({"categorical": []}, r"dataset\.categorical: column 'district' .* is not numeric"),
        ({"task": "classification"}, r"dataset\.target: .*occur in one row only"),
    ],
)
def test_a_bad_table_stops_the_plan_naming_the_key(tmp_path, table_yaml, dataset, message):
    (tmp_path / "data" / "rooms.txt").write_text("district,area,rent\n")
    with pytest.raises(CampaignError, match=message):
        plan_campaign(load_campaign_config(table_yaml(**dataset)))


def test_a_table_must_fit_the_trainables_task(table_yaml, tmp_path):
    config = load_campaign_config(table_yaml())
    mlp = config.model_copy(update={"trainable": "mlp", "metric": "val_accuracy",
                                    "space": {"lr": [0.01]}})
    with pytest.raises(CampaignError, match=r"dataset\.task: table .* is regression data "
                                            r"\(target 'rent'\), but trainable 'mlp' trains on "
                                            r"classification data"):
        plan_campaign(mlp)


def test_the_metric_must_fit_the_tables_target(table_yaml):
    config = load_campaign_config(table_yaml())
    wrong = config.model_copy(update={"metric": "val_accuracy", "mode": "max"})
    with pytest.raises(CampaignError, match=r"metric: 'val_accuracy' needs classification data, "
                                            r"but dataset 'rooms' is regression data; .*val_mape"):
        plan_campaign(wrong)


def test_a_registered_dataset_a_trainable_does_not_list_points_to_tables():
    with pytest.raises(CampaignError, match=r"it accepts: store_sales, diamonds \(or your own "
                                            r"table: \{path: \.\.\., target: \.\.\.\}\)"):
        plan_campaign(parse_campaign_config(table_campaign("digits")))


def test_the_cli_exits_2_on_a_bad_table(tmp_path, table_yaml):
    result = CliRunner().invoke(app, ["run", str(table_yaml(target="rents")),
                                      "--tracking-uri", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 2
    assert "dataset.target" in result.output
    assert not (tmp_path / "x.db").exists()


@pytest.mark.slow
def test_a_campaign_runs_on_a_users_csv(ray_local, tmp_path, table_yaml):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = Campaign.from_yaml(table_yaml(), tracking_uri=store).run()
    assert list(result.summary["strategy"]) == ["random", "optuna"]
    assert len(result.trials) == 4
    assert set(result.trials["state"]) == {"COMPLETE"}
    assert (result.trials["value"] > 0).all() and (result.trials["value"] < 1).all()  # MAPE
    client = MlflowClient(store)
    campaign = client.get_run(result.campaign_run_id)
    assert campaign.data.params["dataset"] == str(tmp_path / "data" / "rooms.csv")
    trials = client.search_runs(
        [result.experiment_id], filter_string="tags.`sweepforge.kind` = 'trial'"
    )
    assert len(trials) == 4
    for trial in trials:
        assert {"val_mape", "val_r2", "test_mape"} <= set(trial.data.metrics)
        assert trial.data.params["encoding"] in ("embedding", "onehot")
