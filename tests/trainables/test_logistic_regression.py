"""logistic_regression: softmax regression reaches 90% test accuracy on the small tabular sets."""

import math
import re

import pytest

from sweepforge.trainables import (
    COST_METRICS,
    ConfigError,
    LogisticRegressionConfig,
    get_trainable,
    load_dataset,
    train_logistic_regression,
)
from tests.trainables.cost_metrics import reports_without_costs, without_costs

METRICS = {"epoch", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
           *COST_METRICS}


@pytest.fixture(scope="module")
def iris():
    return load_dataset("iris", seed=0)


def test_declaration_matches_the_mlp_metrics():
    spec = get_trainable("logistic_regression")
    assert (spec.config_cls, spec.task) == (LogisticRegressionConfig, "classification")
    assert spec.datasets == ("iris", "wine", "breast_cancer")
    assert spec.metrics == get_trainable("mlp").metrics == METRICS
    assert spec.field_names() == (
        "lr", "batch_size", "optimizer", "momentum", "weight_decay", "l1", "epochs", "init"
    )


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])  # breast_cancer: k = 2
def test_default_config_reaches_90_percent_on_test(name):
    result = get_trainable("logistic_regression").train({}, load_dataset(name, seed=0), seed=0)
    assert result["test_accuracy"] >= 0.9
    assert result["val_accuracy"] >= 0.9


def test_reports_once_per_epoch_and_the_last_report_carries_test_metrics(iris):
    reports = []
    result = train_logistic_regression(LogisticRegressionConfig(epochs=4), iris, reports.append)
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4]
    for r in reports[:-1]:
        assert set(r) == {"epoch", "train_loss", "val_loss", "val_accuracy"}
    assert reports[-1] == result and set(result) == METRICS
    assert reports[-1]["train_loss"] < reports[0]["train_loss"]


def test_same_seed_same_metrics_other_seed_other_metrics(iris):
    config = LogisticRegressionConfig(epochs=3, init="xavier_normal")
    first, second = [], []
    train_logistic_regression(config, iris, first.append, seed=5)
    train_logistic_regression(config, iris, second.append, seed=5)
    assert reports_without_costs(first) == reports_without_costs(second)
    other = train_logistic_regression(config, iris, seed=6)
    assert without_costs(other) != without_costs(first[-1])


def test_l1_penalty_shrinks_the_fit(iris):
    plain = train_logistic_regression(LogisticRegressionConfig(), iris)
    strong = train_logistic_regression(LogisticRegressionConfig(l1=1.0), iris)
    # Weights held near 0 give near-uniform class probabilities: a loss near log(3).
    assert strong["val_loss"] > plain["val_loss"] + 0.3
    assert all(math.isfinite(v) for v in strong.values())


def test_divergence_is_reported_as_nan_not_raised(iris):
    # Softmax cross-entropy grows only linearly in the weights; a step that multiplies them by
    # -lr * weight_decay overflows float32 within an epoch.
    config = LogisticRegressionConfig(lr=1e20, weight_decay=1e20)
    reports = []
    result = train_logistic_regression(config, iris, reports.append)
    assert set(result) == METRICS and result["epoch"] == len(reports) < config.epochs
    assert all(math.isnan(result[k]) for k in METRICS - {"epoch"})


def test_regression_data_is_rejected():
    with pytest.raises(ConfigError, match="dataset 'diabetes' is a regression dataset") as err:
        get_trainable("logistic_regression").train({}, load_dataset("diabetes"))
    assert err.value.field == "dataset"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("l1", -1, "l1=-1.0 is out of range; it must satisfy l1 >= 0"),
        ("lr", -0.1, "lr=-0.1 is out of range; it must satisfy lr > 0"),
        ("batch_size", 2.5, "batch_size=2.5 is not an integer"),
        ("optimizer", "Adam", "optimizer='Adam' is not allowed; choose one of: sgd, "),
        ("momentum", 1.5, "momentum=1.5 is out of range; it must satisfy 0 <= momentum < 1"),
        ("epochs", 0, "epochs=0 is out of range; it must satisfy epochs >= 1"),
    ],
)
def test_each_bad_value_names_field_value_and_rule(field, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        LogisticRegressionConfig(**{field: value})
    assert err.value.field == field
    with pytest.raises(ConfigError, match=re.escape(message)):
        get_trainable("logistic_regression").make_config({field: value})
