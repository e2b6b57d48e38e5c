"""MLPConfig: documented defaults, coercion of loose values, one clear error per bad value."""

import dataclasses
import re

import numpy as np
import pytest

from sweepforge.trainables import ConfigError, MLPConfig, get_trainable

OPTIMIZER_LIST = "sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam, adamw"
INIT_LIST = "xavier_uniform, xavier_normal, he_uniform, he_normal, lecun_uniform, lecun_normal, "
ACTIVATION_LIST = "sigmoid, tanh, relu, leaky_relu, prelu, elu, softplus, identity"


def test_defaults():
    assert dataclasses.asdict(MLPConfig()) == {
        "lr": 1e-3,
        "batch_size": 64,
        "optimizer": "adam",
        "momentum": 0.9,
        "dropout": 0.0,
        "init": "he_uniform",
        "depth": 2,
        "width": 128,
        "activation": "relu",
        "weight_decay": 0.0,
        "epochs": 20,
        "amp": False,
        "grad_clip": 0.0,
        "batch_norm": False,
    }


def test_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        MLPConfig().lr = 0.1  # type: ignore[misc]


def test_loose_values_are_coerced():
    config = MLPConfig(
        lr="1e-3", batch_size="32", momentum=0, depth=3.0, width=np.int64(16), epochs="5"
    )
    expected = (0.001, 32, "adam", 0.0, 0.0, "he_uniform", 3, 16, "relu", 0.0, 5, False, 0.0, False)
    assert dataclasses.astuple(config) == expected
    assert type(config.lr) is float and type(config.momentum) is float
    assert type(config.width) is int and type(config.depth) is int


def test_numeric_strings_through_the_spec():
    values = {"lr": "1e-3", "weight_decay": "5e-4", "batch_size": "128"}
    config = get_trainable("mlp").make_config(values)
    assert (config.lr, config.weight_decay, config.batch_size) == (0.001, 0.0005, 128)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lr", 0, "lr=0.0 is out of range; it must satisfy lr > 0"),
        ("lr", -1e-3, "lr=-0.001 is out of range; it must satisfy lr > 0"),
        ("lr", "nan", "lr=nan is not a finite number; it must satisfy lr > 0"),
        ("lr", "fast", "lr='fast' is not a number"),
        ("batch_size", 0, "batch_size=0 is out of range; it must satisfy batch_size >= 1"),
        ("batch_size", 64.5, "batch_size=64.5 is not an integer"),
        (
            "optimizer",
            "adamx",
            (
                f"optimizer='adamx' is not allowed; choose one of: {OPTIMIZER_LIST} "
                "(did you mean 'adam' or 'adamw'?)"
            ),
        ),
        ("momentum", 1.0, "momentum=1.0 is out of range; it must satisfy 0 <= momentum < 1"),
        ("momentum", -0.1, "momentum=-0.1 is out of range; it must satisfy 0 <= momentum < 1"),
        ("dropout", 1.2, "dropout=1.2 is out of range; it must satisfy 0 <= dropout < 1"),
        ("dropout", 1, "dropout=1.0 is out of range; it must satisfy 0 <= dropout < 1"),
        (
            "init",
            "glorot",
            f"init='glorot' is not allowed; choose one of: {INIT_LIST}normal, zeros",
        ),
        ("depth", 0, "depth=0 is out of range; it must satisfy 1 <= depth <= 16"),
        ("depth", 17, "depth=17 is out of range; it must satisfy 1 <= depth <= 16"),
        ("width", 0, "width=0 is out of range; it must satisfy width >= 1"),
        (
            "activation",
            "Relu",
            (
                f"activation='Relu' is not allowed; choose one of: {ACTIVATION_LIST} "
                "(did you mean 'relu'?)"
            ),
        ),
        (
            "weight_decay",
            -0.1,
            "weight_decay=-0.1 is out of range; it must satisfy weight_decay >= 0",
        ),
        ("epochs", 0, "epochs=0 is out of range; it must satisfy epochs >= 1"),
        ("epochs", True, "epochs=True is not an integer"),
    ],
)
def test_each_bad_value_names_field_value_and_rule(field, value, message):
    with pytest.raises(ConfigError) as err:
        MLPConfig(**{field: value})
    assert (str(err.value), err.value.field) == (message, field)
    with pytest.raises(ConfigError, match=re.escape(message)):
        get_trainable("mlp").make_config({field: value})


def test_nesterov_needs_momentum_but_plain_sgd_does_not():
    with pytest.raises(ConfigError) as err:
        MLPConfig(optimizer="nesterov", momentum=0)
    assert str(err.value) == (
        "momentum=0.0 is out of range for optimizer='nesterov'; it must satisfy 0 < momentum < 1"
    )
    assert MLPConfig(optimizer="sgd", momentum=0).momentum == 0.0


def test_boundary_values_are_allowed():
    MLPConfig(dropout=0.0, momentum=0.0, depth=1, width=1, batch_size=1, epochs=1, weight_decay=0)
    MLPConfig(dropout=0.99, momentum=0.999, depth=16)
