"""``auto``: the strategy that picks Optuna's model for the space and the budget.

Plain Optuna asks a user to choose a sampler; the right one depends on the space. On LCBench
(BENCHMARKS.md) Optuna's Gaussian-process sampler reaches in 25 evaluations what default TPE
needs about 100 for, on a low-dimensional, mostly continuous space, while TPE stays the better
model for wide, categorical or conditional spaces and for long campaigns, where a GP's ask
grows too slow. ``auto`` chooses per trial, by rules that depend on the space, the trial's
number and the trials told so far (so a seed and a tell order give the same asks, and a resume
replays them):

1. **Initial design**: the first ``n_initial`` trials (default ``min(10, budget // 4)``, at
   least 2 when the budget allows) come from a scrambled Sobol sequence (Optuna's
   ``QMCSampler``), which covers the box more evenly than independent random draws.
2. **Model**: a GP (Optuna's ``GPSampler``) when the space has at most ``gp_max_params``
   parameters, at least half of them numeric, no conditional parameter and one objective; else
   multivariate TPE (``group=True``, ``constant_liar=True``, as the ``optuna`` strategy).
3. **Switch**: after ``gp_max_trials`` trials the GP hands over to TPE, before its ask time
   (cubic in the trials it has seen) holds workers idle.
4. **No repeat of a config that ended without a value**: a model's proposal within
   ``repeat_tolerance`` (1 % of every numeric parameter's range, on its log scale where it has
   one, and the same value of every categorical one) of a trial that was stopped by a scheduler
   or failed is replaced by the next design point. A model learns from finished trials only:
   with ASHA at grace period 1 on LCBench, a GP started with one finished trial proposed one
   corner of the box about 90 times, each stopped after one epoch and so never seen by it
   (BENCHMARKS.md, "`auto` with a scheduler"). Trials still running are no such trap: the GP
   and TPE see them (q-batch expected improvement, constant liar) and will see their results.
5. **Wait for data** (opt-in, ``min_complete``): while fewer than ``min_complete`` trials have
   finished and some have ended without a value, the design goes on instead of the model. The
   first mend of the loop above. On LCBench rule 4 alone is faster with both schedulers, by
   the median and the geometric mean, than this rule alone or both together (BENCHMARKS.md),
   so the default is 0: off.

Rules 4 and 5 read the tell order, which a resume replays.

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

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from sweepforge.spaces import Categorical, Space

from .base import Mode, StrategyError, check_int
from .optuna_study import OptunaStrategy

WIDE_INT = 16
"""The default of ``relax_ints_wider_than`` (``auto`` and ``bohb``): with the GP in play, ints
with more values than this are asked as floats and rounded (``Space.suggest``). On LCBench's
space it makes the GP's asks several times cheaper at no cost in regret (BENCHMARKS.md)."""
REPEAT_TOLERANCE = 0.01
"""The default of ``repeat_tolerance``: a proposal within 1 % of every numeric parameter's range
(on its log scale where it has one), and equal in every categorical one, to a trial that ended
without a value is a repeat of it."""


@dataclass(frozen=True)
class Decision:
    """From trial ``first`` on, ``model`` proposes, because ``why``."""

    first: int
    model: str
    why: str


class AutoSampler(optuna.samplers.BaseSampler):
    """Hands each trial to one of several Optuna samplers: ``plan`` is a list of
    ``(first trial, sampler)``, sorted by first trial, and the first is the design.

    Two rules send a trial the plan gives a model to the design instead (pruned trials are told
    to the study as failed, so "failed" here means "ended without a value"):

    * when the model proposes a config within ``repeat_tolerance`` of a failed trial's
      (``replaced`` records those trials' numbers; ``None``: never);
    * while fewer than ``min_complete`` trials of the study have finished and some have failed
      (``held`` records those trials' numbers).
    """

    def __init__(self, plan: Sequence[tuple[int, optuna.samplers.BaseSampler]], *,
                 min_complete: int = 0, repeat_tolerance: float | None = None):
        self.plan = list(plan)
        self.min_complete = min_complete
        self.repeat_tolerance = repeat_tolerance
        self.held: list[int] = []
        self.replaced: list[int] = []
        self._chosen: dict[int, optuna.samplers.BaseSampler] = {}
        self._released = not min_complete
        self._failed: list[dict[str, Any]] = []  # the params of every trial told as failed

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
        sampler = self._for(study, trial.number)
        params = sampler.sample_relative(study, trial, search_space)
        design = self.plan[0][1]
        if sampler is not design and params and self._repeats_a_failure(params, search_space):
            self.replaced.append(trial.number)
            self._chosen[trial.number] = design
            return design.sample_relative(study, trial, search_space)
        return params

    def _repeats_a_failure(self, params: dict[str, Any],
                           search_space: dict[str, BaseDistribution]) -> bool:
        if self.repeat_tolerance is None:
            return False
        return repeats_one_of(params, self._failed, search_space, self.repeat_tolerance)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._for(study, trial.number).sample_independent(study, trial, param_name,
                                                                 param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._for(study, trial.number).before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: Any,
                    values: Sequence[float] | None) -> None:
        if state == TrialState.FAIL:
            self._failed.append(dict(trial.params))
        self._chosen.pop(trial.number, self._planned(trial.number)).after_trial(
            study, trial, state, values)

    def reseed_rng(self) -> None:
        for _, sampler in self.plan:
            sampler.reseed_rng()


def check_repeat_tolerance(strategy: str, value: Any) -> None:
    """Raises :class:`StrategyError` unless ``value`` is a number in [0, 1) or ``None``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not 0 <= value < 1):
        raise StrategyError(f"{strategy}: option `repeat_tolerance` must be a number in [0, 1) "
                            f"or null (never replace a repeat), but got "
                            f"repeat_tolerance={value!r}.")


def repeats_one_of(params: dict[str, Any], earlier: Sequence[dict[str, Any]],
                   search_space: dict[str, BaseDistribution], tolerance: float) -> bool:
    """Whether ``params`` lie within ``tolerance`` of one of the ``earlier`` params: within
    that share of every numeric parameter's range (on its log scale where it has one) and equal
    in every categorical one, over the parameters of ``search_space`` that ``params`` hold.
    Vectorised over ``earlier`` (rule 4 of ``auto``, and ``bohb``'s twin of it)."""
    if not earlier:
        return False
    near = np.ones(len(earlier), dtype=bool)
    for name, distribution in search_space.items():
        if name not in params:
            continue
        theirs = [other.get(name) for other in earlier]
        if isinstance(distribution, CategoricalDistribution):
            near &= np.array([value == params[name] for value in theirs])
        else:
            known = np.array([value is not None for value in theirs])
            values = np.array([value if value is not None else distribution.low
                               for value in theirs], dtype=float)
            near &= known & (np.abs(_unit(distribution, values)
                                    - _unit(distribution, params[name])) <= tolerance)
        if not near.any():
            return False
    return True


def _unit(distribution: BaseDistribution, value: Any) -> Any:
    """``value`` of a numeric ``distribution`` on [0, 1] of its range (its log, where it has
    one); works on arrays. Not :meth:`Space.encode`: rule 4 judges Optuna's params before a
    config exists, and there a relaxed int is still a float outside the space's ints."""
    low, high = distribution.low, distribution.high
    if getattr(distribution, "log", False):
        low, high, value = np.log(low), np.log(high), np.log(value)
    return (value - low) / (high - low) if high > low else value * 0.0


class AutoStrategy(OptunaStrategy):
    """Chooses an initial design and a model for the space and the budget (module docstring).

    Args:
        n_initial: trials of the Sobol initial design; ``None``: ``min(10, budget // 4)``, at
            least 2 when the budget is 2 or more.
        gp_max_params: the most parameters a space may have for the GP.
        gp_max_trials: trials after which the GP hands over to TPE.
        repeat_tolerance: a model's proposal within this share of every numeric parameter's
            range (and equal in every categorical one) to a trial that ended without a value
            is replaced by the next design point (rule 4); ``None``: never.
        min_complete: finished trials a model needs, once some trials have ended without a
            value, before it asks (rule 5); 0: it never waits.

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
        repeat_tolerance: float | None = REPEAT_TOLERANCE,
        min_complete: int = 0,
        relax_ints_wider_than: int | None = WIDE_INT,
    ):
        for option, value, low in (("gp_max_params", gp_max_params, 0),
                                   ("gp_max_trials", gp_max_trials, 0)):
            check_int("auto", option, value, low)
        if n_initial is None:
            n_initial = min(10, max(2, budget // 4)) if budget >= 2 else budget
        check_int("auto", "n_initial", n_initial, 0)
        check_int("auto", "min_complete", min_complete, 0)
        check_int("auto", "relax_ints_wider_than", relax_ints_wider_than, 0,
                  none_means="every int exactly")
        check_repeat_tolerance("auto", repeat_tolerance)
        self.min_complete = min_complete
        self._plan = _decide(space, budget, n_initial, gp_max_params, gp_max_trials,
                             multi=directions is not None and len(directions) > 1)
        self._auto = AutoSampler([(d.first, make_sampler(d.model, seed)) for d in self._plan],
                                 min_complete=min_complete if n_initial else 0,
                                 repeat_tolerance=repeat_tolerance)
        super().__init__(space, budget=budget, seed=seed, mode=mode, directions=directions,
                         n_constraints=n_constraints, sampler="random")
        self.sampler_name = "auto"
        self.study.sampler = self._auto
        if any(d.model == "gp" for d in self._plan):  # every trial of the study, or none
            self.relax_ints_wider_than = relax_ints_wider_than

    @property
    def decisions(self) -> list[Decision]:
        """The plan (rules 1 to 3), the first trial rule 4 gave to the design (with how many so
        far), and the trials rule 5 did, by first trial."""
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
        replaced = self._auto.replaced
        if replaced:
            decisions.append(Decision(
                replaced[0], "sobol", f"the next design point instead of the model's proposal, "
                                      f"which repeated a trial that ended without a value "
                                      f"(stopped early or failed): {len(replaced)} trial(s) so "
                                      f"far, the model's again after each"))
        return sorted(decisions, key=lambda d: d.first)

    def model_at(self, trial_id: int) -> str:
        """The model that proposes (or proposed) trial ``trial_id``."""
        if trial_id in self._auto.held or trial_id in self._auto.replaced:
            return "sobol"
        return self._planned_model(trial_id)

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

