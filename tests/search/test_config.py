"""The campaign file schema: what loads, and the errors for what does not."""

from __future__ import annotations

import re

import pytest

from sweepforge.search.config import CampaignError, load_campaign_config
from tests.conftest import small_campaign


def test_a_valid_file_loads_with_defaults(write_campaign):
    config = load_campaign_config(write_campaign(small_campaign()))
    assert config.budget.trials == 3
    assert config.resources.cpu == 1 and config.resources.gpu == 0
    assert config.max_concurrent_trials is None
    assert list(config.strategy_kinds()) == ["grid", "random", "optuna", "evolutionary"]


def test_a_strategy_can_name_its_kind(write_campaign):
    config = load_campaign_config(
        write_campaign(small_campaign(strategies={"optuna_gp": {"kind": "optuna", "sampler": "gp"}}))
    )
    assert config.strategy_kinds() == {"optuna_gp": ("optuna", {"sampler": "gp"})}


def test_missing_file(tmp_path):
    with pytest.raises(CampaignError, match="does not exist"):
        load_campaign_config(tmp_path / "nope.yaml")


def test_malformed_yaml(write_campaign):
    with pytest.raises(CampaignError, match="not valid YAML"):
        load_campaign_config(write_campaign("name: [unclosed\n  trainable: mlp"))


@pytest.mark.parametrize(("text", "where"), [
    ("name: a\nname: b\n", "key 'name' is given twice (lines 1 and 2)"),
    (("name: a\nspace:\n  lr: {type: float, low: 0.1, high: 1}\n"
      "  lr: {type: float, low: 0.001, high: 0.01}\n"), "key 'lr' is given twice (lines 3 and 4)"),
    ("name: a\nspace: {depth: [1, 2], depth: [3]}\n", "key 'depth' is given twice (lines 2 and 2)"),
])
def test_a_key_given_twice_is_refused_naming_it_and_both_lines(write_campaign, text, where):
    with pytest.raises(CampaignError, match=re.escape(where)):
        load_campaign_config(write_campaign(text))


def test_a_list_instead_of_a_mapping(write_campaign):
    with pytest.raises(CampaignError, match="must hold a mapping"):
        load_campaign_config(write_campaign("- a\n- b\n"))


def test_unknown_top_level_key_names_it_and_the_allowed_ones(write_campaign):
    with pytest.raises(CampaignError, match="unknown key 'epochz'.*allowed keys here: name, trainable"):
        load_campaign_config(write_campaign(small_campaign(epochz=3)))


def test_unknown_nested_key(write_campaign):
    with pytest.raises(CampaignError, match="unknown key 'budget.trails'.*trials, max_epochs"):
        load_campaign_config(write_campaign(small_campaign(budget={"trials": 2, "trails": 3})))


def test_missing_key(write_campaign):
    campaign = small_campaign()
    del campaign["metric"]
    with pytest.raises(CampaignError, match="missing required key 'metric'"):
        load_campaign_config(write_campaign(campaign))


def test_budget_of_zero_trials(write_campaign):
    with pytest.raises(CampaignError, match=r"budget\.trials: .*greater than or equal to 1.*got 0"):
        load_campaign_config(write_campaign(small_campaign(budget={"trials": 0})))


def test_bad_mode(write_campaign):
    with pytest.raises(CampaignError, match="mode: .*'max' or 'min'"):
        load_campaign_config(write_campaign(small_campaign(mode="maximise")))


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "x" * 101, "spaces here"])
def test_names_that_would_become_paths_are_refused(write_campaign, name):
    with pytest.raises(CampaignError, match="name: "):
        load_campaign_config(write_campaign(small_campaign(name=name)))


def test_no_strategies(write_campaign):
    with pytest.raises(CampaignError, match="at least one strategy"):
        load_campaign_config(write_campaign(small_campaign(strategies={})))


@pytest.mark.parametrize(
    "changes",
    [{"scheduler": "asha"}, {"scheduler": {"type": "hyperband", "brackets": 2}},
     {"scheduler": "median"}, {"scheduler": {"type": "pbt", "mutations": ["lr"]}},
     {"final": {"refit": "train+val"}}, {}],
    ids=["asha", "hyperband", "median", "pbt", "final", "plain"],
)
def test_a_dumped_config_reads_back_as_itself(changes):
    """What a journal's header holds (and `sweepforge resume` reads back), and the campaign.yaml
    logged to MLflow: every field, null where it does not apply. A scheduler's dump once held
    the other types' options as null, and every resume of a campaign with a scheduler exited 2."""
    import yaml

    from sweepforge.search.config import parse_campaign_config

    config = parse_campaign_config(small_campaign(**changes))
    assert parse_campaign_config(config.model_dump(mode="json")) == config
    logged = yaml.safe_load(yaml.safe_dump(config.model_dump(), sort_keys=False))
    assert parse_campaign_config(logged) == config
