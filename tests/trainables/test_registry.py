"""The trainable registry: lookup with close-match hints, config building, data checks."""

import dataclasses

import pytest

from sweepforge.trainables import (
    ConfigError,
    MLPConfig,
    TrainableSpec,
    get_trainable,
    list_trainables,
    load_dataset,
    register_trainable,
)
from sweepforge.trainables.registry import _REGISTRY
from tests.trainables.cost_metrics import without_costs

FIELDS = (
    "lr, batch_size, optimizer, momentum, dropout, init, depth, width, activation, "
    "weight_decay, epochs, amp, grad_clip, batch_norm"
)


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    epochs: int = 1
    lr: float = 0.1


TINY = {
    "config_cls": TinyConfig,
    "metrics": {"epoch"},
    "datasets": ["iris"],
    "task": "classification",
}


def test_mlp_is_registered_on_import():
    assert "mlp" in list_trainables()
    assert list_trainables() == sorted(list_trainables())


def test_spec_describes_the_mlp():
    spec = get_trainable("mlp")
    assert isinstance(spec, TrainableSpec)
    assert (spec.name, spec.config_cls, spec.task) == ("mlp", MLPConfig, "classification")
    assert spec.datasets == ("digits", "iris", "wine", "breast_cancer", "mnist")
    assert spec.metrics == {
        "epoch", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
        "n_params", "latency_ms", "train_s",
    }
    assert spec.field_names() == tuple(f.name for f in dataclasses.fields(MLPConfig))


@pytest.mark.parametrize("typo", ["mpl", "MLP", "ml"])
def test_unknown_trainable_suggests_close_matches(typo):
    with pytest.raises(ConfigError) as err:
        get_trainable(typo)
    assert str(err.value).startswith(f"unknown trainable '{typo}' (did you mean 'mlp'?); ")
    assert "known trainables: " in str(err.value) and "mlp" in str(err.value)


def test_unknown_trainable_without_close_match_still_lists_known():
    with pytest.raises(ConfigError, match=r"unknown trainable 'xgboost'; known trainables: .*mlp"):
        get_trainable("xgboost")


def test_make_config_overrides_defaults():
    config = get_trainable("mlp").make_config({"lr": "1e-2", "depth": 3})
    assert config == MLPConfig(lr=0.01, depth=3)


def test_make_config_rejects_unknown_fields_with_hints():
    spec = get_trainable("mlp")
    with pytest.raises(ConfigError) as err:
        spec.make_config({"lrr": 0.1})
    assert str(err.value) == (
        f"unknown field 'lrr' (did you mean 'lr'?) for trainable 'mlp'; valid fields: {FIELDS}"
    )
    assert err.value.field == "lrr"
    with pytest.raises(ConfigError, match=r"fields 'widht' \(did you mean 'width'\?\), 'colour' "):
        spec.make_config({"widht": 3, "colour": 1})


def test_make_config_checks_against_data():
    spec, digits = get_trainable("mlp"), load_dataset("digits")
    with pytest.raises(ConfigError) as err:
        spec.make_config({"batch_size": 2000}, digits)
    assert str(err.value) == (
        "batch_size=2000 is larger than the training split (1077 rows) of dataset 'digits'; "
        "it must satisfy 1 <= batch_size <= 1077"
    )
    assert err.value.field == "batch_size"
    assert spec.make_config({"batch_size": 1077}, digits).batch_size == 1077
    assert spec.make_config({"batch_size": 2000}).batch_size == 2000  # no data, no data check


def test_make_config_rejects_a_dataset_of_the_wrong_task():
    with pytest.raises(ConfigError) as err:
        get_trainable("mlp").make_config({}, load_dataset("diabetes"))
    assert str(err.value) == (
        "dataset 'diabetes' is a regression dataset but trainable 'mlp' trains on classification "
        "data; choose one of: digits, iris, wine, breast_cancer, mnist"
    )


def test_train_accepts_a_mapping_or_a_config_and_checks_both():
    spec, iris = get_trainable("mlp"), load_dataset("iris")
    from_mapping = spec.train({"epochs": 1}, iris)
    from_config = spec.train(MLPConfig(epochs=1), iris)
    assert without_costs(from_mapping) == without_costs(from_config)
    with pytest.raises(ConfigError, match="batch_size=500 is larger than the training split"):
        spec.train(MLPConfig(batch_size=500), iris)
    with pytest.raises(TypeError, match="config must be a MLPConfig or a mapping, got list"):
        spec.train([1], iris)
    with pytest.raises(TypeError, match="data must be a Dataset"):
        spec.train({}, "iris")


def test_register_a_new_trainable():
    calls = []

    def train_tiny(config, data, report=None, *, device="cpu", seed=0):
        calls.append((config, data.name, device, seed))
        return {"epoch": config.epochs}

    try:
        register_trainable("tiny", **TINY)(train_tiny)
        spec = get_trainable("tiny")
        assert (spec.datasets, spec.metrics) == (("iris",), {"epoch"})
        assert spec.field_names() == ("epochs", "lr")
        assert spec.train({"lr": "0.5"}, load_dataset("iris"), seed=3) == {"epoch": 1}
        assert calls == [(TinyConfig(lr=0.5), "iris", "cpu", 3)]
        register_trainable("tiny", **TINY)(train_tiny)  # the same function again: a reload
        with pytest.raises(ValueError, match="trainable 'tiny' is already registered by"):
            register_trainable("tiny", **TINY)(lambda *a, **k: {})
    finally:
        _REGISTRY.pop("tiny", None)


@pytest.mark.parametrize(
    ("override", "error", "match"),
    [
        ({"config_cls": dict}, TypeError, "config_cls must be a dataclass type"),
        ({"task": "ranking"}, ConfigError, "data task 'ranking' of trainable"),
        ({"datasets": ["diabetes"]}, ValueError, "lists regression dataset 'diabetes'"),
        ({"datasets": ["digitz"]}, ConfigError, "unknown dataset 'digitz'"),
    ],
)
def test_register_rejects_bad_declarations(override, error, match):
    with pytest.raises(error, match=match):
        register_trainable("bad", **{**TINY, **override})
    assert "bad" not in list_trainables()
