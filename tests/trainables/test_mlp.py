"""The mlp trainable trains for real on bundled data, reports every epoch, and is reproducible."""

import math

import pytest
import torch
from torch import nn

from sweepforge.trainables import (
    ACTIVATIONS,
    COST_METRICS,
    MLP,
    OPTIMIZERS,
    ConfigError,
    MemoryCheckpointer,
    MLPConfig,
    get_trainable,
    load_dataset,
    train_mlp,
)
from tests.trainables.cost_metrics import reports_without_costs, without_costs

METRICS = {"epoch", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
           *COST_METRICS}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def iris():
    return load_dataset("iris", seed=0)


def test_default_adam_config_learns_digits(digits):
    result = get_trainable("mlp").train({}, digits, seed=0)
    assert set(result) == METRICS and result["epoch"] == 20
    assert result["val_accuracy"] >= 0.95
    assert result["test_accuracy"] >= 0.93


def test_reports_once_per_epoch_and_the_last_report_carries_test_metrics(iris):
    reports = []
    result = train_mlp(MLPConfig(epochs=4), iris, reports.append)
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4]
    for r in reports[:-1]:
        assert set(r) == {"epoch", "train_loss", "val_loss", "val_accuracy"}
    assert reports[-1] == result and set(result) == METRICS
    assert all(0.0 <= r["val_accuracy"] <= 1.0 and r["train_loss"] > 0 for r in reports)


def test_same_seed_same_metrics_other_seed_other_metrics(iris):
    spec = get_trainable("mlp")
    config = {"epochs": 3, "dropout": 0.3}
    first, second = [], []
    spec.train(config, iris, first.append, seed=5)
    spec.train(config, iris, second.append, seed=5)
    assert reports_without_costs(first) == reports_without_costs(second)
    assert without_costs(spec.train(config, iris, seed=6)) != without_costs(first[-1])


def test_training_leaves_the_callers_rng_alone(iris):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_mlp(MLPConfig(epochs=1), iris)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("init", ["he_normal", "xavier_uniform"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains_one_epoch(optimizer, init, iris):
    result = train_mlp(MLPConfig(optimizer=optimizer, init=init, epochs=1, lr=0.01), iris)
    assert result["epoch"] == 1
    assert all(math.isfinite(v) for v in result.values())


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_trains_one_epoch_with_dropout(activation, iris):
    result = train_mlp(MLPConfig(activation=activation, dropout=0.2, epochs=1), iris)
    assert all(math.isfinite(v) for v in result.values())


def test_binary_classification(iris):
    result = get_trainable("mlp").train({"epochs": 5}, load_dataset("breast_cancer"))
    assert result["val_accuracy"] > 0.9


def test_divergence_is_reported_as_nan_not_raised(iris):
    reports = []
    result = train_mlp(MLPConfig(optimizer="sgd", lr=1e10, epochs=5), iris, reports.append)
    assert set(result) == set(reports[-1]) == METRICS
    assert all(math.isnan(result[k]) and math.isnan(reports[-1][k]) for k in METRICS - {"epoch"})
    assert result["epoch"] == reports[-1]["epoch"] == len(reports) < 5  # stopped early


def test_model_layout():
    model = MLP(64, 10, depth=3, width=32, activation="tanh", dropout=0.5)
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds == ["Dense", "Tanh", "Dropout"] * 3 + ["Dense"]
    assert [m.out_features for m in model.layers if isinstance(m, nn.Linear)] == [32, 32, 32, 10]
    assert "Dropout" not in [type(m).__name__ for m in MLP(4, 2, depth=1, dropout=0.0).layers]


def test_bad_device_and_seed(iris):
    with pytest.raises(ConfigError, match=r"device='gpu0' is not a valid torch device"):
        train_mlp(MLPConfig(epochs=1), iris, device="gpu0")
    with pytest.raises(ConfigError, match=r"seed=-1 is not allowed; it must be an int >= 0"):
        train_mlp(MLPConfig(epochs=1), iris, seed=-1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda(iris):
    result = train_mlp(MLPConfig(epochs=3), iris, device="cuda")
    assert all(math.isfinite(v) for v in result.values())
    assert result["val_accuracy"] > 0.5


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a CPU-only machine")
def test_cuda_on_a_cpu_only_machine_is_a_config_error(iris):
    with pytest.raises(ConfigError, match=r"device='cuda' is not available here"):
        train_mlp(MLPConfig(epochs=1), iris, device="cuda")


def test_grad_clip_keeps_a_huge_learning_rate_from_diverging(iris):
    """With lr=10 plain SGD on an MLP blows up; clipping each step's gradient to norm 1 holds it."""
    config = {"optimizer": "sgd", "lr": 10.0, "epochs": 3, "init": "he_normal"}
    wild = get_trainable("mlp").train(config, iris, seed=0)
    tamed = get_trainable("mlp").train({**config, "grad_clip": 1.0}, iris, seed=0)
    assert not math.isfinite(wild["val_loss"]) or wild["val_loss"] > 10 * tamed["val_loss"]
    assert math.isfinite(tamed["val_loss"])


def test_grad_clip_must_not_be_negative():
    with pytest.raises(ConfigError, match=r"grad_clip=-1.0 is out of range"):
        MLPConfig(grad_clip=-1.0)


def _one_row_last_batch(n_train: int) -> int:
    """A batch size that leaves a last training batch of one row."""
    return next(b for b in range(8, n_train) if n_train % b == 1)


def test_batch_norm_sits_between_each_hidden_linear_layer_and_its_activation():
    model = MLP(64, 10, depth=2, width=32, activation="tanh", dropout=0.5, batch_norm=True)
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds == ["Dense", "RowBatchNorm", "Tanh", "Dropout"] * 2 + ["Dense"]
    hidden = [m for m in model.layers if isinstance(m, nn.Linear)]
    assert [m.bias is None for m in hidden] == [True, True, False]  # the norm's shift is the bias
    assert [m.num_features for m in model.layers if isinstance(m, nn.BatchNorm1d)] == [32, 32]
    assert "RowBatchNorm" not in repr(MLP(4, 2))  # off by default
    assert MLPConfig(batch_norm=True).batch_norm and not MLPConfig().batch_norm


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_batch_norm_trains_one_epoch_to_finite_metrics(optimizer, iris):
    config = {"epochs": 1, "batch_norm": True, "optimizer": optimizer,
              "batch_size": _one_row_last_batch(iris.n_train)}
    result = get_trainable("mlp").train(config, iris, seed=0)
    assert set(result) == METRICS and all(math.isfinite(v) for v in result.values())
    plain = get_trainable("mlp").train({**config, "batch_norm": False}, iris, seed=0)
    assert without_costs(result) != without_costs(plain)
    amp = get_trainable("mlp").train({**config, "amp": True}, iris, seed=0)
    assert all(math.isfinite(v) for v in amp.values())


def test_batch_norm_resumes_exactly_from_a_checkpoint(digits):
    """The running statistics travel with the checkpoint, like the weights."""
    spec = get_trainable("mlp")
    values = {"epochs": 3, "batch_norm": True, "dropout": 0.2, "width": 32, "batch_size": 32}
    straight = spec.train(values, digits, seed=3)
    keeper = MemoryCheckpointer()
    spec.train({**values, "epochs": 1}, digits, seed=3, checkpoint=keeper)
    running = keeper.load()["model"]["layers.1.running_mean"]
    assert float(running.abs().sum()) > 0
    resumed = spec.train(values, digits, seed=3, checkpoint=keeper)
    assert without_costs(resumed) == without_costs(straight)
