"""The cnn trainable learns the MNIST subset with its defaults, reports every epoch, is
reproducible, and rejects knob values that do not fit the images."""

import math
import time

import pytest
import torch
from torch import nn

from sweepforge.trainables import (
    ACTIVATIONS,
    CNN,
    COST_METRICS,
    CNNConfig,
    ConfigError,
    get_trainable,
    load_dataset,
    train_cnn,
)
from tests.trainables.cost_metrics import reports_without_costs, without_costs

METRICS = {"epoch", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
           *COST_METRICS}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def default_mnist_run():
    """One run of the default config on MNIST (about 6 s on one thread), shared by two tests."""
    reports = []
    start = time.perf_counter()
    result = get_trainable("cnn").train({}, load_dataset("mnist", seed=0), reports.append, seed=0)
    return result, reports, time.perf_counter() - start


def test_default_config_reaches_95_percent_on_the_mnist_subset(default_mnist_run):
    result, _, seconds = default_mnist_run
    print(f"cnn default on mnist: test_accuracy={result['test_accuracy']:.3f} in {seconds:.1f} s")
    assert result["test_accuracy"] >= 0.95
    assert result["val_accuracy"] >= 0.95


def test_reports_once_per_epoch_and_the_last_report_is_the_result(default_mnist_run):
    result, reports, _ = default_mnist_run
    assert [r["epoch"] for r in reports] == list(range(1, CNNConfig().epochs + 1))
    per_epoch = METRICS - COST_METRICS - {"test_loss", "test_accuracy"}
    assert all(set(r) == per_epoch for r in reports[:-1])
    assert reports[-1] == result and set(result) == METRICS


def test_same_seed_same_reports_other_seed_other_result(digits):
    config = {"epochs": 2, "width": 4, "dropout": 0.3}
    first, second = [], []
    train_cnn(CNNConfig(**config), digits, first.append, seed=3)
    train_cnn(CNNConfig(**config), digits, second.append, seed=3)
    assert reports_without_costs(first) == reports_without_costs(second)
    assert without_costs(train_cnn(CNNConfig(**config), digits, seed=4)) != without_costs(first[-1])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_trains_with_and_without_batch_norm(activation, digits):
    for batch_norm in (True, False):
        config = CNNConfig(activation=activation, batch_norm=batch_norm, width=4, epochs=1)
        assert all(math.isfinite(v) for v in train_cnn(config, digits).values())


def test_blocks_double_their_channels_and_halve_the_image():
    model = CNN((1, 28, 28), 10, depth=3, width=8, activation="elu", dropout=0.5)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.padding, c.bias) for c in convs] == [
        (1, 8, (1, 1), None),
        (8, 16, (1, 1), None),
        (16, 32, (1, 1), None),
    ]
    kinds = [type(m).__name__ for m in model.features]
    assert kinds == ["Unflatten"] + ["Conv2d", "BatchNorm2d", "ELU", "MaxPool2d"] * 3
    assert [type(m).__name__ for m in model.head] == ["Flatten", "Dropout", "Linear"]
    assert model.head[-1].in_features == 32 * 3 * 3  # 28 -> 14 -> 7 -> 3
    plain = CNN((1, 8, 8), 10, depth=1, width=4, batch_norm=False, dropout=0.0)
    assert [type(m).__name__ for m in plain.features] == [
        "Unflatten",
        "Conv2d",
        "ReLU",
        "MaxPool2d",
    ]
    assert plain.features[1].bias is not None and len(plain.head) == 2
    assert plain(torch.zeros(3, 64)).shape == (3, 10)


def test_depth_too_large_for_the_images_names_depth(digits):
    with pytest.raises(
        ConfigError, match=r"depth=4 is too large for 8x8 images.*1 <= depth <= 3"
    ) as e:
        get_trainable("cnn").train({"depth": 4, "epochs": 1}, digits)
    assert e.value.field == "depth"
    assert CNN((1, 28, 28), 10, depth=4)(torch.zeros(2, 784)).shape == (2, 10)  # 28 allows 4


@pytest.mark.parametrize(
    ("values", "field", "match"),
    [
        ({"depth": 5}, "depth", r"depth=5 is out of range; it must satisfy 1 <= depth <= 4"),
        ({"width": 0}, "width", r"width=0 is out of range; it must satisfy width >= 1"),
        ({"batch_norm": "yes"}, "batch_norm", r"batch_norm='yes' is not a boolean"),
        ({"dropout": 1.0}, "dropout", r"dropout=1.0 is out of range"),
        ({"init": "kaiming"}, "init", r"init='kaiming' is not allowed; choose one of"),
        ({"widen": 2}, "widen", r"unknown field 'widen'.*valid fields: lr, batch_size"),
    ],
)
def test_bad_knob_values_are_config_errors_naming_the_field(values, field, match):
    with pytest.raises(ConfigError, match=match) as e:
        get_trainable("cnn").make_config(values)
    assert e.value.field == field


def test_tabular_data_is_refused_with_the_image_datasets_listed():
    with pytest.raises(ConfigError, match=r"dataset 'wine' has no image_shape.*: digits, mnist"):
        get_trainable("cnn").train({"epochs": 1}, load_dataset("wine"))


def test_too_deep_for_the_images_is_caught_before_training():
    from sweepforge.trainables import get_trainable, load_dataset

    spec = get_trainable("cnn")
    with pytest.raises(ConfigError, match=r"depth=4 is too large for 8x8 images.*1 <= depth <= 3"):
        spec.make_config({"depth": 4}, load_dataset("digits"))
    spec.make_config({"depth": 3}, load_dataset("digits"))
