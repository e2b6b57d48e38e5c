"""``auto``: the strategy that picks Optuna's model for the space and the budget.

Plain Optuna asks a user to choose a sampler; the right one depends on the space. On LCBench
(BENCHMARKS.md) Optuna's Gaussian-process sampler reaches in 25 evaluations what default TPE
needs about 100 for, on a low-dimensional, mostly continuous space, while TPE stays the better
model for wide, categorical or conditional spaces and for long campaigns, where a GP's ask
grows too slow. ``auto`` chooses per trial, by rules that depend only on the space and the
trial's number (so a seed and a tell order give the same asks, and a resume replays them):

1. **Initial design**: the first ``n_initial`` trials (default ``min(10, budget // 4)``, at
   least 2 when the budget allows) come from a scrambled Sobol sequence (Optuna's
   ``QMCSampler``), which covers the box more evenly than independent random draws.
2. **Model**: a GP (Optuna's ``GPSampler``) when the space has at most ``gp_max_params``
   parameters, at least half of them numeric, no conditional parameter and one objective; else
   multivariate TPE (``group=True``, ``constant_liar=True``, as the ``optuna`` strategy).
3. **Switch**: after ``gp_max_trials`` trials the GP hands over to TPE, before its ask time
   (cubic in the trials it has seen) holds workers idle.
4. **Wait for data**: while fewer than ``min_complete`` trials (default: half the design) have
   finished and some have ended without a value (stopped by a scheduler, or failed), the
   design goes on instead of the model. A model learns from finished trials only: with ASHA at
   grace period 1 on LCBench, a GP started with one finished trial proposed one corner of the
   box about 90 times, each stopped after one epoch and so never seen by it (BENCHMARKS.md,
   "Early stopping"). Trials still running do not hold the model back: the GP and TPE see
   them (q-batch expected improvement, constant liar) and will see their results. The rule
   depends on the tell order, which a resume replays.

When the plan holds a GP, ints with more than ``relax_ints_wider_than`` values (16) are asked
as floats on ``[low - step/2, high + step/2]`` and rounded (``Space.suggest``), by every model
of the study, the design included (a parameter whose distribution changes between trials drops
out of a sampler's search space). The GP's acquisition optimiser then follows their gradient
instead of stepping through hundreds of values one by one: on LCBench's space an ask costs
several times less, at no cost in regret (BENCHMARKS.md, "The `auto` strategy").

Every decision is kept in :attr:`AutoStrategy.decisions` (from which trial, which model, why);
the campaign logs them on the strategy run.

The delegation is Optuna's documented extension point, a :class:`optuna.samplers.BaseSampler`
subclass; Optuna itself has no sampler that switches models (OptunaHub's ``AutoSampler`` is a
separate package, and not seeded per study the way a resume needs).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from sweepforge.spaces import Categorical, Space

from .base import Mode, check_int
from .optuna_study import OptunaStrategy

WIDE_INT = 16
"""The default of ``relax_ints_wider_than`` (``auto`` and ``bohb``): with the GP in play, ints
with more values than this are asked as floats and rounded (``Space.suggest``). On LCBench's
space it makes the GP's asks several times cheaper at no cost in regret (BENCHMARKS.md)."""

@dataclass(frozen=True)
class Decision:
    """From trial ``first`` on, ``model`` proposes, because ``why``."""

    first: int
    model: str
    why: str


class AutoSampler(optuna.samplers.BaseSampler):
    """Hands each trial to one of several Optuna samplers: ``plan`` is a list of
    ``(first trial, sampler)``, sorted by first trial, and the first is the design. A trial the
    plan gives a model goes to the design instead while fewer than ``min_complete`` trials of
    the study have finished and some have failed (pruned trials are told as failed);
    ``held`` records those trials' numbers."""

    def __init__(self, plan: Sequence[tuple[int, optuna.samplers.BaseSampler]], *,
                 min_complete: int = 0):
        self.plan = list(plan)
        self.min_complete = min_complete
        self.held: list[int] = []
        self._chosen: dict[int, optuna.samplers.BaseSampler] = {}
        self._released = not min_complete

    def _planned(self, number: int) -> optuna.samplers.BaseSampler:
        chosen = self.plan[0][1]
        for first, sampler in self.plan:
            if number >= first:
                chosen = sampler
        return chosen

    def _choose(self, study: optuna.Study, number: int) -> optuna.samplers.BaseSampler:
        planned = self._planned(number)
        design = self.plan[0][1]
        if planned is design or self._released:
            return planned
        ended = Counter(t.state for t in study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)))
        if ended[TrialState.COMPLETE] < self.min_complete:
            if ended[TrialState.FAIL]:
                self.held.append(number)
                return design
        else:  # finished trials only grow in number: never held again
            self._released = True
        return planned

    def _for(self, study: optuna.Study, number: int) -> optuna.samplers.BaseSampler:
        # chosen once per trial, when Optuna first consults the sampler for it
        if number not in self._chosen:
            self._chosen[number] = self._choose(study, number)
        return self._chosen[number]

    def infer_relative_search_space(self, study: optuna.Study,
                                    trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._for(study, trial.number).infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self._for(study, trial.number).sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._for(study, trial.number).sample_independent(study, trial, param_name,
                                                                 param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._for(study, trial.number).before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: Any,
                    values: Sequence[float] | None) -> None:
        self._chosen.pop(trial.number, self._planned(trial.number)).after_trial(
            study, trial, state, values)

    def reseed_rng(self) -> None:
        for _, sampler in self.plan:
            sampler.reseed_rng()


class AutoStrategy(OptunaStrategy):
    """Chooses an initial design and a model for the space and the budget (module docstring).

    Args:
        n_initial: trials of the Sobol initial design; ``None``: ``min(10, budget // 4)``, at
            least 2 when the budget is 2 or more.
        gp_max_params: the most parameters a space may have for the GP.
        gp_max_trials: trials after which the GP hands over to TPE.
        min_complete: finished trials a model needs, once some trials have ended without a
            value, before it asks (rule 4); ``None``: half of ``n_initial``.

    Example:
        >>> from sweepforge.spaces import Space
        >>> space = Space.from_dict({"x": {"type": "float", "low": -1.0, "high": 1.0}})
        >>> strategy = AutoStrategy(space, budget=12, seed=0, mode="min")
        >>> [(d.first, d.model) for d in strategy.decisions]
        [(0, 'sobol'), (3, 'gp')]
    """

    name = "auto"
    handles_objectives = True

    def __init__(
        self,
        space: Space,
        *,
        budget: int,
        seed: int = 0,
        mode: Mode = "max",
        directions: Sequence[Mode] | None = None,
        n_constraints: int = 0,
        n_initial: int | None = None,
        gp_max_params: int = 12,
        gp_max_trials: int = 100,
        min_complete: int | None = None,
        relax_ints_wider_than: int | None = WIDE_INT,
    ):
        for option, value, low in (("gp_max_params", gp_max_params, 0),
                                   ("gp_max_trials", gp_max_trials, 0)):
            check_int("auto", option, value, low)
        if n_initial is None:
            n_initial = min(10, max(2, budget // 4)) if budget >= 2 else budget
        check_int("auto", "n_initial", n_initial, 0)
        if min_complete is None:
            min_complete = n_initial // 2
        check_int("auto", "min_complete", min_complete, 0)
        check_int("auto", "relax_ints_wider_than", relax_ints_wider_than, 0,
                  none_means="every int exactly")
        self.min_complete = min_complete
        self._plan = _decide(space, budget, n_initial, gp_max_params, gp_max_trials,
                             multi=directions is not None and len(directions) > 1)
        self._auto = AutoSampler([(d.first, make_sampler(d.model, seed)) for d in self._plan],
                                 min_complete=min_complete if n_initial else 0)
        super().__init__(space, budget=budget, seed=seed, mode=mode, directions=directions,
                         n_constraints=n_constraints, sampler="random")
        self.sampler_name = "auto"
        self.study.sampler = self._auto
        if any(d.model == "gp" for d in self._plan):  # every trial of the study, or none
            self.relax_ints_wider_than = relax_ints_wider_than

    @property
    def decisions(self) -> list[Decision]:
        """The plan (rules 1 to 3), and the trials rule 4 gave to the design, by first trial."""
        decisions = list(self._plan)
        held = self._auto.held  # one run: from a failure until min_complete have finished
        if held:
            decisions.append(Decision(
                held[0], "sobol", f"the design goes on: fewer than min_complete="
                                  f"{self.min_complete} trials have finished, and others "
                                  "ended without a value (stopped early or failed)"))
            if self.n_asked > held[-1] + 1:
                resumed = held[-1] + 1
                decisions.append(Decision(resumed, self._planned_model(resumed),
                                          f"{self.min_complete} trials have finished"))
        return sorted(decisions, key=lambda d: d.first)

    def model_at(self, trial_id: int) -> str:
        """The model that proposes (or proposed) trial ``trial_id``."""
        return "sobol" if trial_id in self._auto.held else self._planned_model(trial_id)

    def _planned_model(self, trial_id: int) -> str:
        return [d.model for d in self._plan if d.first <= trial_id][-1]


def _decide(space: Space, budget: int, n_initial: int, gp_max_params: int, gp_max_trials: int,
            *, multi: bool) -> list[Decision]:
    """The plan: which model from which trial, and why."""
    params = list(space)
    numeric = sum(not isinstance(p, Categorical) for p in params)
    decisions = [Decision(0, "sobol", f"initial design: {n_initial} scrambled Sobol points "
                                      "cover the box")] if n_initial else []
    reasons = gp_misfits(space, gp_max_params)
    if multi:
        reasons.append("several objectives")
    if reasons or gp_max_trials <= n_initial:
        why = "; ".join(reasons) or f"gp_max_trials={gp_max_trials}"
        decisions.append(Decision(n_initial, "tpe", f"multivariate TPE: {why}"))
        return decisions
    decisions.append(Decision(n_initial, "gp", f"GP: {len(params)} parameters, {numeric} "
                                               "numeric, none conditional"))
    if gp_max_trials < budget:
        decisions.append(Decision(gp_max_trials, "tpe", f"TPE after {gp_max_trials} trials: a "
                                                        "GP's ask grows with the trials seen"))
    return decisions


def gp_misfits(space: Space, gp_max_params: int) -> list[str]:
    """Why a GP is the wrong model for ``space`` (empty when it suits): more than
    ``gp_max_params`` parameters, mostly categorical ones, or conditional ones."""
    params = list(space)
    numeric = sum(not isinstance(p, Categorical) for p in params)
    conditional = [p.name for p in params if getattr(p, "when", None)]
    reasons = []
    if len(params) > gp_max_params:
        reasons.append(f"{len(params)} parameters (GP: at most {gp_max_params})")
    if numeric * 2 < len(params):
        reasons.append(f"{len(params) - numeric} of {len(params)} parameters are categorical")
    if conditional:
        reasons.append(f"conditional parameters ({', '.join(conditional)})")
    return reasons


def make_sampler(model: str, seed: int) -> optuna.samplers.BaseSampler:
    """The Optuna sampler of ``model`` (``sobol``, ``gp`` or ``tpe``), as ``auto`` uses it
    (each reads the trials' constraints, ``Trial.set_constraint``)."""
    with warnings.catch_warnings():  # (QMC, and TPE's group, are marked experimental)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if model == "sobol":
            return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed,
                                              warn_independent_sampling=False,
                                              warn_asynchronous_seeding=False)
        if model == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=0,
                                             warn_independent_sampling=False)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                          constant_liar=True, n_startup_trials=0)

