"""How it is searched and run: strategies (ask/tell), the campaign runner, MLflow tracking, CLI.

Example:
    >>> from sweepforge.search import Campaign
    >>> result = Campaign.from_yaml("examples/quickstart.yaml").run()  # doctest: +SKIP
    >>> result.summary                                                # doctest: +SKIP
"""

from typing import TYPE_CHECKING, Any

from ._strategy import Strategy, StrategyError, TrialResult, TrialSpec, TrialState
from .config import CampaignConfig, CampaignError, load_campaign_config
from .strategies import STRATEGIES, make_strategy

if TYPE_CHECKING:
    from .campaign import Campaign, CampaignResult


def __getattr__(name: str) -> Any:
    # The runner pulls in Ray, MLflow and torch (seconds to import); strategies alone do not.
    if name in ("Campaign", "CampaignResult"):
        from . import campaign

        return getattr(campaign, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "STRATEGIES",
    "Campaign",
    "CampaignConfig",
    "CampaignError",
    "CampaignResult",
    "Strategy",
    "StrategyError",
    "TrialResult",
    "TrialSpec",
    "TrialState",
    "load_campaign_config",
    "make_strategy",
]
