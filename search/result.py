"""What a campaign run produced: every trial, and one comparison row per strategy.

Example:
    >>> result = Campaign.from_yaml("examples/quickstart.yaml").run()   # doctest: +SKIP
    >>> result.summary[["strategy", "trials", "pruned", "best_value"]]  # doctest: +SKIP
    >>> result.best_config()                                            # doctest: +SKIP
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .config import CampaignError
from .schema import TrialStateName
from .strategies.objectives import Objectives
from .strategies.pareto import hypervolume, pareto_mask
from .tracking.fronts import objective_points, pareto_flags
from .tracking.trial_logger import TrialRecord
from .tune.refit import REFIT

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
    objectives: dict[str, str] = field(default_factory=dict)
    """Every objective and its direction (one: ``{metric: mode}``)."""
    reference: list[float] | None = None
    """With several objectives: the hypervolume's reference point, one value per objective."""

    def best_config(self, strategy: str | None = None) -> dict[str, Any]:
        """The best config found (by one strategy, or by any; the final refit's row, strategy
        ``final``, found nothing and is left out). With several objectives: the best by the
        first one among the trials on the front (see :meth:`front` and :meth:`pick`)."""
        done = self.trials[self.trials["state"].isin(_DONE)]
        if "feasible" in done:
            done = done[done["feasible"].astype(bool)]
        if strategy is not None:
            done = done[done["strategy"] == strategy]
        else:
            done = done[done["strategy"] != REFIT]
        if done.empty:
            raise CampaignError(f"no completed trial{' for ' + strategy if strategy else ''}.")
        best = done["value"].idxmax() if self.mode == "max" else done["value"].idxmin()
        return dict(done.loc[best, "config"])

    def front(self, strategy: str | None = None) -> pd.DataFrame:
        """The trials on the Pareto front: of the whole campaign, or of one ``strategy``'s
        trials; sorted by the first objective, best first. Columns: strategy, trial_id, each
        objective, config (and the rest of :attr:`trials`).

        Raises:
            CampaignError: the campaign has one objective.
        """
        self._need_objectives("front")
        column = "pareto" if strategy is None else "on_front"
        own = self.trials if strategy is None else self.trials[self.trials.strategy == strategy]
        first, direction = next(iter(self.objectives.items()))
        front = own[own[column].astype(bool)]
        return front.sort_values(first, ascending=direction == "min", kind="stable")

    def pick(self, rules: str | Sequence[str], strategy: str | None = None) -> pd.Series:
        """The trial on the front that keeps every rule and is best by the first objective:
        ``result.pick("n_params<=50000")`` (rules: ``METRIC OP NUMBER``, ``OP`` one of
        ``<= < >= > ==``; several in a list or separated by commas).

        Raises:
            CampaignError: a rule that does not parse or names no objective, or no trial on the
                front keeps them all.
        """
        front = self.front(strategy)
        kept = front[select(front, rules, self.objectives)]
        if kept.empty:
            raise CampaignError(f"--pick: no trial on the front keeps {_shown(rules)}; "
                                f"{len(front)} trial(s) are on it.")
        return kept.iloc[0]

    def _need_objectives(self, what: str) -> None:
        if len(self.objectives) < 2:
            raise CampaignError(f"{what}: campaign {self.name!r} has one objective "
                                f"({self.metric}); use best_config().")


_RULE = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|<|>)\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*")
_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
        "==": operator.eq}


def select(trials: pd.DataFrame, rules: str | Sequence[str], objectives: dict[str, str]) -> pd.Series:
    """Which rows of ``trials`` keep every rule (see :meth:`CampaignResult.pick`).

    Example:
        >>> frame = pd.DataFrame({"acc": [0.9, 0.95], "n_params": [40_000, 90_000]})
        >>> select(frame, "n_params<=50000, acc>0.5", {"acc": "max", "n_params": "min"}).tolist()
        [True, False]
    """
    parts = [rules] if isinstance(rules, str) else list(rules)
    keep = pd.Series(True, index=trials.index)
    for rule in (p for part in parts for p in part.split(",") if p.strip()):
        match = _RULE.fullmatch(rule)
        if match is None:
            raise CampaignError(f"--pick: {rule.strip()!r} is not a rule; write METRIC OP NUMBER, "
                                "e.g. n_params<=50000 (OP: <= < >= > ==)")
        name, op, number = match.groups()
        if name not in objectives or name not in trials:
            raise CampaignError(f"--pick: {name!r} is not an objective of this campaign; it has: "
                                f"{', '.join(objectives)}")
        keep &= _OPS[op](trials[name].astype(float), float(number))
    return keep


def _shown(rules: str | Sequence[str]) -> str:
    return rules if isinstance(rules, str) else ", ".join(rules)


def best_record(records: list[TrialRecord], mode: str) -> TrialRecord | None:
    """The best of ``records`` by value among COMPLETE and PRUNED trials (a pruned trial's value
    is from the epoch it reached) that keep the hard limits; the first of equals; ``None`` when
    none has a value. With several objectives, ``value`` is the first objective's."""
    done = [r for r in records if r.state in _DONE and r.value is not None and r.feasible]
    pick = max if mode == "max" else min
    return pick(done, key=lambda r: r.value) if done else None  # type: ignore[arg-type, return-value]


def summarise(name: str, records: list[TrialRecord], mode: str,
              objectives: Objectives | None = None,
              reference: Sequence[float] | None = None) -> dict[str, Any]:
    """One row of the comparison table. The best value is the best of the strategy's COMPLETE
    and PRUNED trials (a pruned trial's value is from the epoch it reached). ``epochs`` adds up
    the epochs its trials trained; ``wall_time_s`` spans its first trial start to its last trial
    end; ``compute_s`` adds up its trials' durations. With several ``objectives``: also
    ``front_size`` (its trials on its own Pareto front) and ``hypervolume`` (of that front,
    against ``reference``)."""
    own = [r for r in records if r.strategy == name]
    best = best_record(own, mode)
    wall = max(r.ended_at for r in own) - min(r.started_at for r in own) if own else 0.0
    pareto = {}
    if objectives is not None and objectives.multi:
        points = objective_points(own, objectives)
        pareto = {"front_size": int(pareto_mask(points, objectives.directions).sum()),
                  "hypervolume": (hypervolume(points, objectives.directions, reference)
                                  if reference is not None else None)}
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
        **pareto,
    }


def trials_frame(records: list[TrialRecord], objectives: Objectives | None = None) -> pd.DataFrame:
    """One row per trial, sorted by strategy and trial id; the config's knobs as ``config.*``.
    ``started_at`` and ``ended_at`` are unix times; ``duration_s`` is the time the trial ran,
    which under PBT leaves out the time it waited paused. With several objectives or hard limits, also each objective's (and limited metric's)
    column, ``feasible``, and with several objectives ``pareto`` (on the campaign's front) and
    ``on_front`` (on its strategy's)."""
    columns = ["strategy", "trial_id", "state", "value", "test_value", "epochs", "duration_s",
               "started_at", "ended_at", "config", "run_id", "error"]
    records = sorted(records, key=lambda r: (r.strategy, r.trial_id))
    rows = [{c: getattr(r, c) for c in columns} for r in records]
    if objectives is not None and (objectives.multi or objectives.limits):
        flags = pareto_flags(records, objectives) if objectives.multi else {}
        for row, record in zip(rows, records, strict=True):
            extra = {name: record.metrics.get(name) for name in objectives.metrics}
            extra["feasible"] = record.feasible
            if objectives.multi:
                extra["pareto"], extra["on_front"] = flags.get(record.run_id, (False, False))
            row.update({k: v for k, v in extra.items() if k not in row})
        columns += [c for c in rows[0] if c not in columns] if rows else []
    frame = pd.DataFrame(rows, columns=columns)
    params = pd.json_normalize([r.config for r in records]) if records else pd.DataFrame()
    return pd.concat([frame, params.add_prefix("config.")], axis=1)
