"""mlp_regressor: the mlp trainable's body with one linear output, trained with squared error."""

import dataclasses
import math
import re

import numpy as np
import pytest

from sweepforge.trainables import (
    COST_METRICS,
    ConfigError,
    MemoryCheckpointer,
    MLPConfig,
    MLPRegressorConfig,
    get_trainable,
    load_dataset,
    train_mlp_regressor,
)
from tests.trainables.cost_metrics import reports_without_costs, without_costs

METRICS = {
    "epoch", "train_loss", "val_loss", "val_r2", "val_mae", "test_loss", "test_r2", "test_mae",
    *COST_METRICS,
}


@pytest.fixture(scope="module")
def diabetes():
    return load_dataset("diabetes", seed=0)


def test_declaration_and_knobs_match_the_mlp():
    spec = get_trainable("mlp_regressor")
    assert (spec.config_cls, spec.task, spec.datasets) == (
        MLPRegressorConfig, "regression", ("diabetes",)
    )
    assert spec.metrics == get_trainable("linear_regression").metrics == METRICS
    assert spec.field_names() == get_trainable("mlp").field_names()


def test_defaults():
    assert dataclasses.asdict(MLPRegressorConfig()) == {
        "lr": 3e-3,
        "batch_size": 32,
        "optimizer": "adamw",
        "momentum": 0.9,
        "dropout": 0.0,
        "init": "he_uniform",
        "depth": 2,
        "width": 32,
        "activation": "relu",
        "weight_decay": 1.0,
        "epochs": 20,
        "amp": False,
        "grad_clip": 0.0,
        "batch_norm": False,
    }


def test_default_config_reaches_r2_of_0_4_on_test():
    # As for linear_regression, the bar is the mean over five splits (split 0 is the hardest).
    r2 = [train_mlp_regressor(MLPRegressorConfig(), load_dataset("diabetes", seed=s))["test_r2"]
          for s in range(5)]
    assert np.mean(r2) >= 0.4 and min(r2) >= 0.3


def test_reports_once_per_epoch_in_original_units(diabetes):
    reports = []
    result = train_mlp_regressor(MLPRegressorConfig(epochs=4), diabetes, reports.append)
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4]
    for r in reports[:-1]:
        assert set(r) == {"epoch", "train_loss", "val_loss", "val_r2", "val_mae"}
    assert reports[-1] == result and set(result) == METRICS
    var = diabetes.y_test.astype(np.float64).var()
    assert result["test_r2"] == pytest.approx(1 - result["test_loss"] / var, rel=1e-4)


def test_same_seed_same_metrics_other_seed_other_metrics(diabetes):
    config = MLPRegressorConfig(epochs=2, dropout=0.3)
    first, second = [], []
    train_mlp_regressor(config, diabetes, first.append, seed=5)
    train_mlp_regressor(config, diabetes, second.append, seed=5)
    assert reports_without_costs(first) == reports_without_costs(second)
    assert without_costs(train_mlp_regressor(config, diabetes, seed=6)) != without_costs(first[-1])


def test_divergence_is_reported_as_nan_not_raised(diabetes):
    reports = []
    config = MLPRegressorConfig(optimizer="sgd", lr=1e3, weight_decay=0.0, epochs=5)
    result = train_mlp_regressor(config, diabetes, reports.append)
    assert set(result) == METRICS and result["epoch"] == len(reports) < 5
    assert all(math.isnan(result[k]) for k in METRICS - {"epoch"})


@pytest.mark.parametrize(
    ("field", "value"),
    [("dropout", 1.2), ("depth", 17), ("width", 0), ("activation", "Relu"), ("lr", "fast")],
)
def test_bad_values_raise_exactly_as_for_the_mlp(field, value):
    with pytest.raises(ConfigError) as expected:
        MLPConfig(**{field: value})
    with pytest.raises(ConfigError, match=re.escape(str(expected.value))) as err:
        MLPRegressorConfig(**{field: value})
    assert err.value.field == field
    with pytest.raises(ConfigError, match=re.escape(str(expected.value))):
        get_trainable("mlp_regressor").make_config({field: value})


def test_batch_norm_trains_one_epoch_and_resumes_exactly(diabetes):
    spec = get_trainable("mlp_regressor")
    values = {"epochs": 2, "batch_norm": True, "dropout": 0.1}
    one = spec.train({**values, "epochs": 1}, diabetes, seed=1)
    assert set(one) == METRICS and all(math.isfinite(v) for v in one.values())
    straight = spec.train(values, diabetes, seed=1)
    plain = spec.train({**values, "batch_norm": False}, diabetes, seed=1)
    assert without_costs(straight) != without_costs(plain)
    keeper = MemoryCheckpointer()
    spec.train({**values, "epochs": 1}, diabetes, seed=1, checkpoint=keeper)
    assert "layers.1.running_mean" in keeper.state["model"]
    resumed = spec.train(values, diabetes, seed=1, checkpoint=keeper)
    assert without_costs(resumed) == without_costs(straight)
