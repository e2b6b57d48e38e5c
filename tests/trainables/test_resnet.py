"""The resnet trainable learns the MNIST subset with its defaults, reports every epoch, is
reproducible; blocks use identity or projection skips; widen multiplies the channels."""

import math
import time

import pytest
import torch
from torch import nn

from sweepforge.trainables import (
    COST_METRICS,
    ConfigError,
    ResNet,
    ResNetConfig,
    get_trainable,
    load_dataset,
    train_resnet,
)
from sweepforge.trainables.resnet import BasicBlock, stage_plan
from tests.trainables.cost_metrics import reports_without_costs, without_costs

METRICS = {"epoch", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
           *COST_METRICS}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def default_mnist_run():
    """One run of the default config on MNIST (about 10 s on one thread), shared by two tests."""
    reports = []
    start = time.perf_counter()
    result = get_trainable("resnet").train({}, load_dataset("mnist"), reports.append, seed=0)
    return result, reports, time.perf_counter() - start


def test_default_config_reaches_95_percent_on_the_mnist_subset(default_mnist_run):
    result, _, seconds = default_mnist_run
    print(
        f"resnet default on mnist: test_accuracy={result['test_accuracy']:.3f} in {seconds:.1f} s"
    )
    assert result["test_accuracy"] >= 0.95
    assert result["val_accuracy"] >= 0.95


def test_reports_once_per_epoch_and_the_last_report_is_the_result(default_mnist_run):
    result, reports, _ = default_mnist_run
    assert [r["epoch"] for r in reports] == list(range(1, ResNetConfig().epochs + 1))
    per_epoch = METRICS - COST_METRICS - {"test_loss", "test_accuracy"}
    assert all(set(r) == per_epoch for r in reports[:-1])
    assert reports[-1] == result and set(result) == METRICS


def test_same_seed_same_reports_other_seed_other_result(digits):
    config = ResNetConfig(epochs=2, depth=2, dropout=0.2)
    first, second = [], []
    train_resnet(config, digits, first.append, seed=3)
    train_resnet(config, digits, second.append, seed=3)
    assert reports_without_costs(first) == reports_without_costs(second)
    assert without_costs(train_resnet(config, digits, seed=4)) != without_costs(first[-1])


@pytest.mark.parametrize("activation", ["tanh", "prelu", "leaky_relu"])
@pytest.mark.parametrize("optimizer", ["nesterov", "adamw"])
def test_other_activations_and_optimizers_train(activation, optimizer, digits):
    config = ResNetConfig(activation=activation, optimizer=optimizer, lr=0.01, depth=1, epochs=1)
    assert all(math.isfinite(v) for v in train_resnet(config, digits).values())


def test_blocks_spread_over_three_stages_and_widen_multiplies_channels():
    assert stage_plan(1, 1) == [(16, 1)]
    assert stage_plan(3, 1) == [(16, 1), (32, 2), (64, 2)]
    assert stage_plan(6, 4) == [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1)]
    wide = ResNet((1, 28, 28), 10, depth=3, widen=2, dropout=0.5)
    blocks = [m for m in wide.features if isinstance(m, BasicBlock)]
    assert [b.residual[0].out_channels for b in blocks] == [32, 64, 128]
    assert [type(m).__name__ for m in wide.head] == [
        "AdaptiveAvgPool2d",
        "Flatten",
        "Dropout",
        "Linear",
    ]
    assert wide.head[-1].in_features == 128


def test_a_block_skips_by_identity_or_by_a_strided_projection():
    same = BasicBlock(16, 16)
    assert isinstance(same.skip, nn.Identity)
    x = torch.randn(2, 16, 7, 7)
    with torch.no_grad():
        for conv in (same.residual[0], same.residual[3]):
            conv.weight.zero_()
    same.eval()
    assert torch.allclose(same(x), torch.relu(x))  # a zeroed residual leaves act(x)
    down = BasicBlock(16, 32, stride=2)
    assert [type(m).__name__ for m in down.skip] == ["Conv2d", "BatchNorm2d"]
    assert down.skip[0].kernel_size == (1, 1) and down.skip[0].stride == (2, 2)
    assert down(x).shape == (2, 32, 4, 4)


def test_deep_nets_fit_small_images():
    assert ResNet((1, 8, 8), 10, depth=12, widen=1)(torch.zeros(2, 64)).shape == (2, 10)


@pytest.mark.parametrize(
    ("values", "field", "match"),
    [
        ({"depth": 13}, "depth", r"depth=13 is out of range; it must satisfy 1 <= depth <= 12"),
        ({"widen": 0}, "widen", r"widen=0 is out of range; it must satisfy 1 <= widen <= 8"),
        ({"widen": 1.5}, "widen", r"widen=1.5 is not an integer"),
        ({"momentum": 0.0, "optimizer": "nesterov"}, "momentum", r"optimizer='nesterov'"),
        ({"width": 16}, "width", r"unknown field 'width'.*valid fields: lr, batch_size"),
    ],
)
def test_bad_knob_values_are_config_errors_naming_the_field(values, field, match):
    with pytest.raises(ConfigError, match=match) as e:
        get_trainable("resnet").make_config(values)
    assert e.value.field == field


def test_tabular_data_is_refused_with_the_image_datasets_listed():
    with pytest.raises(ConfigError, match=r"dataset 'iris' has no image_shape.*: digits, mnist"):
        get_trainable("resnet").train({"epochs": 1}, load_dataset("iris"))
