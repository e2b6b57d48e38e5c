"""Every bundled trainable honours the same contract; a new family is tested for free.

Test doubles registered by other test modules (trainables that fail on purpose, sleep, ...) are
left out: only the families of ``sweepforge.trainables`` are listed here, whatever was imported.
"""

import dataclasses
import math

import pytest

from sweepforge.trainables import (
    MemoryCheckpointer,
    get_trainable,
    list_datasets,
    list_trainables,
    load_dataset,
)
from tests.trainables.cost_metrics import without_costs

BUNDLED = [name for name in list_trainables()
           if get_trainable(name).train_fn.__module__.startswith("sweepforge.trainables.")]
CASES = [(name, dataset) for name in BUNDLED for dataset in get_trainable(name).datasets]


def test_every_bundled_family_is_covered():
    assert len(BUNDLED) == 11 and {"mlp", "cnn", "unet", "word2vec"} <= set(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_declaration_is_consistent(name):
    spec = get_trainable(name)
    assert dataclasses.is_dataclass(spec.config_cls)
    assert "epoch" in spec.metrics
    assert set(spec.datasets) <= set(list_datasets())
    assert spec.field_names() == tuple(f.name for f in dataclasses.fields(spec.config_cls))
    assert "epochs" in spec.field_names()
    spec.make_config({})  # the defaults are valid


@pytest.mark.parametrize(("name", "dataset"), CASES)
def test_one_epoch_reports_finite_declared_metrics(name, dataset):
    spec = get_trainable(name)
    reports = []
    result = spec.train({"epochs": 1}, load_dataset(dataset, seed=0), reports.append, seed=0)
    assert len(reports) == 1 and reports[0] == result
    assert set(result) <= spec.metrics
    assert result["epoch"] == 1
    assert all(math.isfinite(value) for value in result.values())


@pytest.mark.parametrize("name", BUNDLED)
def test_same_seed_same_result(name):
    spec = get_trainable(name)
    data = load_dataset(spec.datasets[0], seed=0)
    first = spec.train({"epochs": 1}, data, seed=1)
    second = spec.train({"epochs": 1}, data, seed=1)
    assert without_costs(first) == without_costs(second)


@pytest.mark.parametrize("name", BUNDLED)
def test_resuming_from_a_checkpoint_matches_training_straight_through(name):
    spec = get_trainable(name)
    assert spec.supports_checkpoint
    data = load_dataset(spec.datasets[0], seed=0)
    straight = spec.train({"epochs": 2}, data, seed=3)
    keeper = MemoryCheckpointer()
    spec.train({"epochs": 1}, data, seed=3, checkpoint=keeper)
    assert keeper.state["epoch"] == 1
    reports = []
    resumed = spec.train({"epochs": 2}, data, reports.append, seed=3, checkpoint=keeper)
    assert [report["epoch"] for report in reports] == [2]  # epoch 1 was not run again
    assert without_costs(resumed) == without_costs(straight)
