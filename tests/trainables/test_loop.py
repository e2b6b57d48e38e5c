"""The shared loop: scaled tensors, epochs, reports and divergence, for any objective."""

import math

import pytest
import torch
from torch import nn

from sweepforge.trainables import ConfigError, load_dataset
from sweepforge.trainables._loop import (
    CLASSIFIER_METRICS,
    REGRESSOR_METRICS,
    TensorSplits,
    classification,
    evaluate,
    fit,
    regression,
)
from tests.trainables.cost_metrics import reports_without_costs


@pytest.mark.parametrize("scaling", ["standard", "minmax", "none"])
def test_tensor_splits_scale_with_training_statistics(scaling):
    data = load_dataset("wine")
    splits = TensorSplits.from_dataset(data, torch.device("cpu"), scaling=scaling)
    assert splits.x_train.dtype == torch.float32 and splits.y_train.dtype == torch.int64
    assert len(splits.y_val) == len(data.y_val)
    if scaling == "standard":
        assert splits.x_train.mean(0).abs().max() < 1e-4
    elif scaling == "minmax":
        assert (splits.x_train.min(), splits.x_train.max()) == (0.0, 1.0)
    else:
        assert torch.equal(splits.x_train, torch.from_numpy(data.X_train))


def test_unknown_scaling():
    with pytest.raises(ConfigError, match="scaling='robust' is not allowed"):
        TensorSplits.from_dataset(load_dataset("iris"), torch.device("cpu"), scaling="robust")


def _fit(model, lr, epochs, reports):
    splits = TensorSplits.from_dataset(load_dataset("iris"), torch.device("cpu"))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return fit(
        model, optimizer, splits, classification(), epochs=epochs, batch_size=16,
        generator=torch.Generator().manual_seed(0), report=reports.append,
    )


def test_fit_lowers_the_loss_and_reports_every_epoch():
    torch.manual_seed(0)
    reports = []
    result = _fit(nn.Linear(4, 3), lr=0.1, epochs=5, reports=reports)
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4, 5]
    assert reports[-1]["train_loss"] < reports[0]["train_loss"]
    assert result["test_accuracy"] > 0.7


def test_fit_stops_on_a_non_finite_loss():
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.fill_(math.inf)
    reports = []
    result = _fit(model, lr=0.1, epochs=5, reports=reports)
    assert len(reports) == 1 and result["epoch"] == 1
    assert all(math.isnan(v) for k, v in result.items() if k != "epoch")


def test_evaluate_counts_correct_rows():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    metrics = evaluate(model, x, torch.tensor([0, 1, 1, 1]), classification())
    assert metrics["accuracy"] == 0.75 and metrics["loss"] > 0


def test_metric_sets_are_what_the_objectives_report():
    assert classification().report_names() == CLASSIFIER_METRICS
    assert regression().report_names() == REGRESSOR_METRICS


def test_target_scaling_standardizes_a_regression_target_with_training_statistics():
    data = load_dataset("diabetes")
    splits = TensorSplits.from_dataset(data, torch.device("cpu"), target_scaling="standard")
    assert splits.y_train.dtype == torch.float32
    assert abs(float(splits.y_train.mean())) < 1e-4 and abs(float(splits.y_train.std()) - 1) < 0.01
    assert splits.y_offset == pytest.approx(float(data.y_train.mean()), rel=1e-5)
    restored = splits.y_test.numpy() * splits.y_scale + splits.y_offset
    assert restored == pytest.approx(data.y_test, rel=1e-5)
    plain = TensorSplits.from_dataset(data, torch.device("cpu"))
    assert (plain.y_offset, plain.y_scale) == (0.0, 1.0)
    assert torch.equal(plain.y_train, torch.from_numpy(data.y_train))


def test_target_scaling_is_for_regression_only():
    with pytest.raises(ConfigError, match="target_scaling='standard' needs a regression") as err:
        TensorSplits.from_dataset(
            load_dataset("iris"), torch.device("cpu"), target_scaling="standard"
        )
    assert err.value.field == "target_scaling"


def _fit_regression(model, epochs, reports, *, lr=0.05, penalty=None):
    splits = TensorSplits.from_dataset(
        load_dataset("diabetes"), torch.device("cpu"), target_scaling="standard"
    )
    return fit(
        model, torch.optim.SGD(model.parameters(), lr=lr), splits,
        regression(splits.y_offset, splits.y_scale), epochs=epochs, batch_size=32,
        generator=torch.Generator().manual_seed(0), report=reports.append, penalty=penalty,
    )


def test_fit_with_a_regression_objective_reports_its_metrics_in_original_units():
    torch.manual_seed(0)
    reports = []
    result = _fit_regression(nn.Linear(10, 1), 5, reports)
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4, 5]
    assert set(reports[0]) == {"epoch", "train_loss", "val_loss", "val_r2", "val_mae"}
    assert set(result) == REGRESSOR_METRICS
    assert result["val_r2"] > 0.3
    # train_loss is rescaled to the target's units, like val_loss (MSE of y in 25..346).
    assert 1000 < result["train_loss"] < 10000 and 1000 < result["val_loss"] < 10000


def test_a_penalty_is_minimised_but_not_reported_in_train_loss():
    torch.manual_seed(0)
    model = nn.Linear(10, 1)
    _fit_regression(model, 5, [], lr=0.02, penalty=lambda: 20.0 * model.weight.square().sum())
    assert float(model.weight.detach().abs().max()) < 0.05  # the penalty won over the data
    plain, constant = [], []
    for reports, penalty in ((plain, None), (constant, lambda: torch.tensor(1e6))):
        torch.manual_seed(0)
        _fit_regression(nn.Linear(10, 1), 3, reports, penalty=penalty)
    # a penalty's value never enters train_loss
    assert reports_without_costs(constant) == reports_without_costs(plain)


def test_fit_stops_a_diverging_regression_with_nan_regression_metrics():
    torch.manual_seed(0)
    reports = []
    result = _fit_regression(nn.Linear(10, 1), 5, reports, lr=1e3)
    assert set(result) == REGRESSOR_METRICS and result["epoch"] == len(reports) < 5
    assert all(math.isnan(v) for k, v in result.items() if k != "epoch")


def test_fit_rejects_zero_epochs():
    with pytest.raises(ValueError, match="epochs=0 is out of range"):
        _fit_regression(nn.Linear(10, 1), 0, [])
