"""How it is searched and run: strategies (ask/tell), the campaign runner, MLflow tracking, CLI.

Example:
    >>> from sweepforge.search import Campaign
    >>> result = Campaign.from_yaml("examples/quickstart.yaml").run()  # doctest: +SKIP
    >>> result.summary                                                # doctest: +SKIP
"""

from typing import TYPE_CHECKING, Any

# Every name is imported when first used (PEP 562): a Ray worker imports this package to reach
# ``tune.worker`` and should not pay for Optuna, DEAP, pydantic or MLflow, which only the master uses.
_MODULE_OF = {
    "Strategy": "strategies.base", "StrategyError": "strategies.base",
    "TrialResult": "strategies.base", "TrialSpec": "strategies.base",
    "TrialState": "strategies.base",
    "CampaignConfig": "config", "CampaignError": "config", "load_campaign_config": "config",
    "STRATEGIES": "strategies.registry", "make_strategy": "strategies.registry",
    "register_strategy": "strategies.registry",
    "Campaign": "campaign", "CampaignResult": "campaign",
}

if TYPE_CHECKING:
    from .campaign import Campaign, CampaignResult
    from .config import CampaignConfig, CampaignError, load_campaign_config
    from .strategies.base import Strategy, StrategyError, TrialResult, TrialSpec, TrialState
    from .strategies.registry import STRATEGIES, make_strategy, register_strategy


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
    "register_strategy",
]
