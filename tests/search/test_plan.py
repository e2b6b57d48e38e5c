"""Bad input is caught while planning: before Ray starts and before MLflow is touched.

Each case names the field, the value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sweepforge.search.config import CampaignError, parse_campaign_config
from sweepforge.search.plan import plan_campaign
from tests.conftest import small_campaign


def plan(**overrides):
    return plan_campaign(parse_campaign_config(small_campaign(**overrides)))


def with_param(name, spec):
    space = small_campaign()["space"]
    space[name] = spec
    return space


def test_a_good_campaign_plans():
    planned = plan()
    assert planned.fixed == {"epochs": 2}
    assert set(planned.space.names) >= {"lr", "batch_size", "optimizer", "dropout", "init", "depth"}
    assert planned.data.name == "digits"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"strategies": {"annealing": {}}}, r"strategies\.annealing: unknown strategy 'annealing'.*evolutionary.*grid.*optuna.*random"),
        ({"strategies": {"optuna": {"sampler": "bogus"}}}, r"strategies\.optuna: .*sampler.*tpe"),
        ({"strategies": {"grid": {"levelz": 3}}}, r"strategies\.grid: .*levelz.*levels"),
        ({"trainable": "mlpp"}, r"trainable: .*'mlpp'.*mlp"),
        ({"dataset": "cifar10"}, r"dataset: .*'cifar10'.*digits"),
        ({"metric": "val_acc"}, r"metric: .*'val_acc'.*val_accuracy"),
        ({"space": with_param("optimizer", ["momentum", "nesterov", "adamx"])}, r"space\.optimizer: .*'adamx'.*adamw"),
        ({"space": with_param("init", ["he_normal", "glorot"])}, r"space\.init: .*'glorot'.*xavier_uniform"),
        ({"space": with_param("lr", {"type": "float", "low": 0.1, "high": 0.01})},
         r"space: parameter 'lr': `low <= high` must hold, but got low=0.1, high=0.01"),
        ({"space": with_param("lr", {"type": "float", "low": 0.0, "high": 0.1, "log": True})},
         r"space: parameter 'lr': a log-scaled range needs `low > 0`"),
        ({"space": with_param("init", {"type": "categorical", "choices": []})},
         r"space: parameter 'init': `choices` must not be empty"),
        ({"space": with_param("momentum", {"type": "float", "low": 0.5, "high": 0.9,
                                           "when": {"optimiser": ["momentum"]}})},
         r"space: parameter 'momentum': `when` refers to unknown parameter 'optimiser'"),
        ({"space": with_param("momentum", {"type": "float", "low": 0.5, "high": 0.9,
                                           "when": {"optimizer": ["adagrad"]}})},
         r"space: parameter 'momentum': .*'adagrad'.*never takes"),
        ({"space": with_param("lr", {"type": "float", "lo": 0.1, "high": 0.2})},
         r"space: parameter 'lr': unknown key\(s\) \['lo'\]"),
        ({"space": with_param("colour", ["red"])}, r"space\.colour: .*no knob 'colour'.*lr, batch_size"),
        ({"space": with_param("batch_size", [64, 4096])},
         r"space\.batch_size: .*4096.*larger than the training split"),
        ({"space": with_param("dropout", {"type": "float", "low": 0.0, "high": 1.5})},
         r"space\.dropout: .*1.5"),
        ({"fixed": {"lr": 0.1}}, r"fixed: .*also in the space"),
        ({"fixed": {"activaton": "relu"}}, r"fixed\.activaton: .*no knob"),
    ],
)
def test_bad_input_is_named(overrides, message):
    with pytest.raises(CampaignError, match=message):
        plan(**overrides)


def test_gpu_on_a_machine_without_one_says_how_to_run_on_cpu():
    config = parse_campaign_config(small_campaign(resources={"cpu": 1, "gpu": 1}))
    with pytest.raises(CampaignError, match=r"resources\.gpu: .*no CUDA GPU.*gpu: 0"):
        plan_campaign(config, cuda_available=False)


def test_only_some_strategies():
    config = parse_campaign_config(small_campaign())
    assert list(plan_campaign(config, only=["optuna", "grid"]).strategies) == ["optuna", "grid"]
    with pytest.raises(CampaignError, match=r"--strategies: bayes not in this campaign; it has: grid"):
        plan_campaign(config, only=["bayes"])


def test_a_cnn_too_deep_for_digits_is_caught_while_planning():
    space = {"depth": {"type": "int", "low": 1, "high": 4}}
    with pytest.raises(CampaignError, match=r"space\.depth: depth=4 is too large for 8x8 images"):
        plan(trainable="cnn", space=space, strategies={"random": {}})


def test_a_bad_linear_backend_stops_the_campaign_before_any_trial(monkeypatch):
    # checked through the trainables' generic check_environment(), whatever this process chose
    monkeypatch.setenv("SWEEPFORGE_LINEAR_BACKEND", "mkl")
    with pytest.raises(CampaignError, match=r"SWEEPFORGE_LINEAR_BACKEND='mkl'.*auto, onednn, torch"):
        plan()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"fixed": {"epochs": 5}}, "fixed.epochs: 5 epochs exceeds budget.max_epochs=2; lower it, or raise budget.max_epochs."),
    ({"space": with_param("epochs", {"type": "int", "low": 1, "high": 4})},
     "space.epochs: 4 epochs exceeds budget.max_epochs=2"),
    ({"trainable": "tests.search.own_model_functions:closest_to_half", "metric": "val_score",
      "dataset": {"loader": "tests.search.own_model_functions:load_blobs"},
      "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}}, "fixed": {"epochs": 3}},
     "fixed.epochs: 3 epochs exceeds budget.max_epochs=2"),
])
def test_epochs_beyond_the_budgets_max_epochs_are_refused(overrides, message):
    """A trial longer than budget.max_epochs would outrun the schedulers' last rung and the
    epoch budget, which count whole trials by it; a user's own function included."""
    with pytest.raises(CampaignError) as err:
        plan(**overrides)
    assert str(err.value).startswith(message), err.value


HOUSES = {"path": str(Path(__file__).resolve().parents[2] / "examples" / "data" / "house_prices.csv"),
          "target": "price_k", "categorical": ["neighbourhood", "garden"]}


def test_a_searched_batch_size_replaces_a_default_too_large_for_a_small_table():
    """entity_embedding's default batch size (256) exceeds the 240 training rows of the bundled
    house-prices table; a campaign that searches batch_size never trains with the default."""
    planned = plan(trainable="entity_embedding", dataset=HOUSES, metric="val_mape", mode="min",
                   space={"batch_size": [16, 64]}, fixed={}, strategies={"random": {}})
    assert planned.data.n_train == 240


def test_a_default_that_does_not_fit_is_named_as_the_trainable_s_not_as_fixed():
    with pytest.raises(CampaignError) as caught:
        plan(trainable="entity_embedding", dataset=HOUSES, metric="val_mape", mode="min",
             space={"lr": {"type": "float", "low": 1e-3, "high": 1e-2}}, fixed={},
             strategies={"random": {}})
    assert str(caught.value).startswith(
        "batch_size (trainable 'entity_embedding''s default; the campaign does not set it): "
        "batch_size=256 is larger than the training split (240 rows)"), caught.value
    assert "set it under `fixed:` or search it in `space:`" in str(caught.value)


@pytest.mark.parametrize(("sampler", "message"), [
    ({"sampler": "optuna.samplers.BruteForceSampler"},
     "ValueError: FloatDistribution.step must be given for BruteForceSampler"),
    ({"sampler": "optuna.samplers.GridSampler", "options": {"search_space": {"lr": [0.01, 0.02]}}},
     "is not found in the given grid"),
], ids=["brute-force-float", "grid-missing-a-parameter"])
def test_a_sampler_that_refuses_the_space_at_its_first_proposal_is_named(sampler, message):
    """Such a sampler takes its options, then failed on the first ask of a running campaign
    (exit 1, a traceback, the other strategies stopped with it)."""
    with pytest.raises(CampaignError) as caught:
        plan(strategies={"random": {}, "picky": {"kind": "optuna", **sampler}})
    said = str(caught.value)
    assert said.startswith("strategies.picky: its first proposal failed (") and message in said, said
