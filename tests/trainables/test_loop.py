"""The shared classifier loop: devices, seeds, scaled tensors, epochs and divergence."""

import math

import pytest
import torch
from torch import nn

from sweepforge.trainables import ConfigError, load_dataset
from sweepforge.trainables._loop import (
    TensorSplits,
    check_seed,
    evaluate_classifier,
    fit_classifier,
    resolve_device,
    seeded,
)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ConfigError, match="is not a valid torch device") as err:
        resolve_device("tpu-ish")
    assert err.value.field == "device"


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_bad_seeds(seed):
    with pytest.raises(ConfigError, match="must be an int >= 0"):
        check_seed(seed)


def test_seeded_block_is_reproducible_and_restores_state():
    torch.manual_seed(1)
    outside = torch.random.get_rng_state()
    with seeded(7, torch.device("cpu")):
        a = torch.rand(2)
    with seeded(7, torch.device("cpu")):
        b = torch.rand(2)
    assert torch.equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), outside)


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
    return fit_classifier(
        model, optimizer, splits, epochs=epochs, batch_size=16,
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


def test_evaluate_classifier_counts_correct_rows():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    loss, accuracy = evaluate_classifier(model, x, torch.tensor([0, 1, 1, 1]))
    assert accuracy == 0.75 and loss > 0
