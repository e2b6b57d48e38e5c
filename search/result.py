"""What a campaign run produced: every trial, and one comparison row per strategy.

Example:
    >>> result = Campaign.from_yaml("examples/quickstart.yaml").run()   # doctest: +SKIP
    >>> result.summary[["strategy", "trials", "pruned", "best_value"]]  # doctest: +SKIP
    >>> result.best_config()                                            # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .config import CampaignError
from .schema import TrialStateName
from .tracking.trial_logger import TrialRecord

_DONE = (TrialStateName.COMPLETE.value, TrialStateName.PRUNED.value)


@dataclass
class CampaignResult:
    """What a campaign run produced; ``trials`` has one row per trial, ``summary`` one per strategy."""

    name: str
    campaign_id: str
    campaign_run_id: str
    experiment_id: str
    tracking_uri: str
    metric: str
    mode: str
    trials: pd.DataFrame
    summary: pd.DataFrame
    writes_waiting: int = 0
    """MLflow writes still in the spool (``spool_path``) when the campaign ended: MLflow was
    away past ``$SWEEPFORGE_MLFLOW_WAIT_S``; ``sweepforge resume NAME`` writes them."""
    spool_path: Path | None = None
    models: dict[str, str] = field(default_factory=dict)
    """Strategy -> the MLflow Model of its best trial, ``models:/<model id>``
    (``mlflow.pyfunc.load_model(uri)``); strategies without one are left out (their run's
    ``sweepforge.model_note`` tag says why)."""
    final_model: str | None = None
    """The campaign's model: the refit's with ``final.refit``, else the best strategy's best
    trial's."""
    registered: str | None = None
    """``<name>/<version>`` in the MLflow Model Registry, with ``final.register``."""

    def best_config(self, strategy: str | None = None) -> dict[str, Any]:
        """The best config found (by one strategy, or by any; the final refit's row, strategy
        ``final``, found nothing and is left out)."""
        done = self.trials[self.trials["state"].isin(_DONE)]
        if strategy is not None:
            done = done[done["strategy"] == strategy]
        else:
            done = done[done["strategy"] != "final"]
        if done.empty:
            raise CampaignError(f"no completed trial{' for ' + strategy if strategy else ''}.")
        best = done["value"].idxmax() if self.mode == "max" else done["value"].idxmin()
        return dict(done.loc[best, "config"])


def best_record(records: list[TrialRecord], mode: str) -> TrialRecord | None:
    """The best of ``records`` by value among COMPLETE and PRUNED trials (a pruned trial's value
    is from the epoch it reached); the first of equals; ``None`` when none has a value."""
    done = [r for r in records if r.state in _DONE and r.value is not None]
    pick = max if mode == "max" else min
    return pick(done, key=lambda r: r.value) if done else None  # type: ignore[arg-type, return-value]


def summarise(name: str, records: list[TrialRecord], mode: str) -> dict[str, Any]:
    """One row of the comparison table. The best value is the best of the strategy's COMPLETE
    and PRUNED trials (a pruned trial's value is from the epoch it reached). ``epochs`` adds up
    the epochs its trials trained; ``wall_time_s`` spans its first trial start to its last trial
    end; ``compute_s`` adds up its trials' durations."""
    own = [r for r in records if r.strategy == name]
    best = best_record(own, mode)
    wall = max(r.ended_at for r in own) - min(r.started_at for r in own) if own else 0.0
    return {
        "strategy": name,
        "trials": len(own),
        "finished": sum(r.state == TrialStateName.COMPLETE for r in own),
        "pruned": sum(r.state == TrialStateName.PRUNED for r in own),
        "failed": sum(r.state == TrialStateName.FAILED for r in own),
        "epochs": sum(r.epochs for r in own),
        "best_value": best.value if best else None,
        "test_value": best.test_value if best else None,
        "wall_time_s": round(wall, 2),
        "compute_s": round(sum(r.duration_s for r in own), 2),
        "best_trial": best.trial_id if best else None,
    }


def trials_frame(records: list[TrialRecord]) -> pd.DataFrame:
    """One row per trial, sorted by strategy and trial id; the config's knobs as ``config.*``."""
    columns = ["strategy", "trial_id", "state", "value", "test_value", "epochs", "duration_s",
               "started_at", "config", "run_id", "error"]
    records = sorted(records, key=lambda r: (r.strategy, r.trial_id))
    rows = [{c: getattr(r, c) for c in columns} for r in records]
    frame = pd.DataFrame(rows, columns=columns)
    params = pd.json_normalize([r.config for r in records]) if records else pd.DataFrame()
    return pd.concat([frame, params.add_prefix("config.")], axis=1)
