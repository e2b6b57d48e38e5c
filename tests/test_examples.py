"""Every campaign file in examples/ loads and passes every check a run makes before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweepforge.search.config import load_campaign_config
from sweepforge.search.plan import plan_campaign

EXAMPLES_DIR = Path(__file__).parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.rglob("*.yaml"))  # examples/own_model/*.yaml too


def test_there_are_examples():
    assert any(path.name == "quickstart.yaml" for path in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.relative_to(EXAMPLES_DIR).as_posix())
def test_example_plans(path):
    planned = plan_campaign(load_campaign_config(path))
    assert planned.config.budget.trials >= 1
    assert len(planned.strategies) >= 1
