"""Optuna as a strategy: an in-memory study driven through ``study.ask()`` / ``study.tell()``."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import warnings
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import TrialState as OptunaState

from sweepforge.spaces import Space

from .base import Mode, Strategy, StrategyError, TrialResult, TrialState

#: Sampler names accepted by the ``sampler`` option.
SAMPLERS = ("tpe", "gp", "cmaes", "random", "nsga2", "nsga3")

#: Samplers that handle several objectives (Optuna's CMA-ES optimises one).
MULTI_OBJECTIVE_SAMPLERS = ("tpe", "gp", "random", "nsga2", "nsga3")



class OptunaStrategy(Strategy):
    """Asks an Optuna study for each config; every told result goes back into the study.

    The space is filled define-by-run (:meth:`Space.suggest`), so conditional parameters are
    only suggested when active. Samplers, all seeded with ``seed``:

    * ``"tpe"`` (default): multivariate TPE with ``group=True`` (it models each branch of a
      conditional space jointly) and ``constant_liar=True``, since several trials run at once.
      With several objectives it is Optuna's default univariate TPE (with ``constant_liar``):
      on the two-objective LCBench benchmark the multivariate one trailed it (hypervolume
      regret 0.099 against 0.065 after 100 evaluations; BENCHMARKS.md);
    * ``"gp"``: Gaussian-process Bayesian optimisation;
    * ``"cmaes"``: CMA-ES over the parameters every trial shares; categoricals and conditional
      parameters fall back to random sampling (needs the ``cmaes`` package);
    * ``"random"``: Optuna's random sampler (takes no ``n_startup_trials``);
    * ``"nsga2"`` / ``"nsga3"``: Optuna's genetic algorithms for several objectives
      (``NSGAIISampler`` / ``NSGAIIISampler`` with their defaults; no ``n_startup_trials``);
    * any Optuna sampler class by its full name, e.g. ``"optuna.samplers.QMCSampler"``, built
      with ``options`` as its keyword arguments and ``seed`` when it takes one. Only classes
      in Optuna's own modules are imported; an unknown class or option, or a value the class
      refuses, is a :class:`StrategyError` naming it.

    Several objectives (``directions``): the study is a multi-objective one, told every
    objective's value; ``tpe``, ``gp``, ``random``, ``nsga2`` and ``nsga3`` handle it, ``cmaes``
    is refused. With hard limits (``n_constraints > 0``), each told trial gets its constraint
    values with ``Trial.set_constraint`` (named ``c0``, ``c1``, ...: Optuna 5's replacement for
    ``constraints_func``), which every sampler here reads (feasible when every value is
    ``<= 0``; a trial without them, e.g. one pruned before its costs were measured, counts as
    infeasible).

    Results: COMPLETE with a finite value is told as COMPLETE; FAILED, and COMPLETE with a
    missing, NaN or infinite value, are told as FAIL (never dropped). PRUNED (a scheduler
    stopped the trial) is told as FAIL too, with the epoch it reached and its value there kept
    as the trial's user attributes ``pruned_at_epoch`` and ``pruned_value``: the model learns
    from trials that ran to their end, never from an early epoch's value as if it were a final
    one. Optuna's GP, CMA-ES and NSGA samplers ignore pruned trials anyway; TPE would rank them
    by their last value (below complete trials, later epochs first), and on LCBench that steers
    it towards configs that start fast. On LCBench at grace period 1 (median speed-up to a
    target against random search without stopping), TPE + ASHA went from 0.7x told the old way
    to 1.7x told this way (TPE alone: 1.6x), and TPE + Hyperband from 0.8x to 2.4x
    (BENCHMARKS.md, "Early stopping"). Plain Optuna with a pruner differs from this strategy
    there, and only there. The study is exposed
    as :attr:`study` (resume, dashboards).

    Args:
        sampler: one of ``"tpe"``, ``"gp"``, ``"cmaes"``, ``"random"``, ``"nsga2"``, ``"nsga3"``,
            or an Optuna sampler class's full name (``"optuna.samplers.QMCSampler"``).
        options: keyword arguments of a sampler named by class (not ``seed``: the campaign's).
        n_startup_trials: random trials before the model is used; ``None`` keeps Optuna's default
            (10 for TPE and GP, 1 for CMA-ES).

    Example:
        >>> from sweepforge.spaces import Space
        >>> space = Space.from_dict({"x": {"type": "float", "low": -1.0, "high": 1.0}})
        >>> strategy = OptunaStrategy(space, budget=4, seed=0, mode="min", sampler="tpe")
        >>> while (spec := strategy.ask()) is not None:
        ...     strategy.tell(spec.trial_id, TrialResult(value=spec.config["x"] ** 2))
        >>> len(strategy.study.trials)
        4
    """

    name = "optuna"
    handles_objectives = True
    relax_ints_wider_than: int | None = None
    """Ints with more values than this are asked as floats and rounded (``Space.suggest``);
    ``None`` here: every int exactly, as plain Optuna asks. ``auto`` sets it for its GP."""

    def __init__(
        self,
        space: Space,
        *,
        budget: int,
        seed: int = 0,
        mode: Mode = "max",
        directions: Sequence[Mode] | None = None,
        n_constraints: int = 0,
        sampler: str = "tpe",
        n_startup_trials: int | None = None,
        options: dict[str, Any] | None = None,
    ):
        super().__init__(space, budget=budget, seed=seed, mode=mode, directions=directions)
        if self.multi_objective and sampler in SAMPLERS and sampler not in MULTI_OBJECTIVE_SAMPLERS:
            raise StrategyError(
                f"optuna: sampler={sampler!r} optimises one objective, but the campaign has "
                f"{len(self.directions)}; use one of {list(MULTI_OBJECTIVE_SAMPLERS)}.")
        if not isinstance(n_constraints, int) or isinstance(n_constraints, bool) or n_constraints < 0:
            raise StrategyError(f"optuna: `n_constraints` must be an int >= 0, got {n_constraints!r}.")
        self.sampler_name = sampler
        self.n_constraints = n_constraints
        if n_constraints and sampler == "cmaes":
            raise StrategyError("optuna: sampler='cmaes' takes no constraints; use tpe, gp or "
                                "nsga2 with `constraints:`.")
        if isinstance(sampler, str) and "." in sampler:
            made = _named_sampler(sampler, options, seed, n_startup_trials, self.multi_objective)
        elif options is not None:
            raise StrategyError(
                f"optuna: option `options` applies to a sampler named by its class (e.g. "
                f"sampler: optuna.samplers.TPESampler); sampler={sampler!r} takes none.")
        else:
            made = _make_sampler(sampler, seed, n_startup_trials, self.multi_objective)
        self.study = optuna.create_study(
            directions=["maximize" if d == "max" else "minimize" for d in self.directions],
            sampler=made,
        )
        self._trials: dict[int, optuna.Trial] = {}

    def _propose(self, trial_id: int) -> dict[str, Any]:
        trial = self.study.ask()
        self._trials[trial_id] = trial
        return self.space.suggest(trial, relax_ints_wider_than=self.relax_ints_wider_than)

    def _observe(self, trial_id: int, config: dict[str, Any], result: TrialResult) -> None:
        trial = self._trials.pop(trial_id)
        state = result.effective_state
        if self.n_constraints:
            # unknown (missing, NaN): broken, infinitely
            given = [float("inf") if math.isnan(c) else float(c) for c in result.constraints]
            if len(given) != self.n_constraints:
                given = [float("inf")] * self.n_constraints
            for number, value in enumerate(given):
                trial.set_constraint(f"c{number}", value)
        if state is TrialState.COMPLETE:
            values = result.usable_values if self.multi_objective else result.usable_value
            self.study.tell(trial, values, state=OptunaState.COMPLETE)
        elif state is TrialState.PRUNED:  # not a result on the objective (class docstring)
            if result.step is not None:
                trial.set_user_attr("pruned_at_epoch", result.step)
            if result.usable_value is not None:
                trial.set_user_attr("pruned_value", result.usable_value)
            self.study.tell(trial, state=OptunaState.FAIL)
        else:
            self.study.tell(trial, state=OptunaState.FAIL)


def _named_sampler(name: str, options: dict[str, Any] | None, seed: int,
                   n_startup_trials: int | None, multi_objective: bool) -> optuna.samplers.BaseSampler:
    """Optuna's sampler class ``name`` (``optuna.samplers.QMCSampler``) built with ``options``
    and the campaign's ``seed``."""
    known = sorted(f"optuna.samplers.{n}" for n in optuna.samplers.__all__
                   if n.endswith("Sampler") and not n.startswith("Base"))
    module_name, _, class_name = name.rpartition(".")
    if module_name != "optuna" and not module_name.startswith("optuna."):
        raise StrategyError(
            f"optuna: sampler={name!r} is not one of Optuna's classes; name one of {known}.")
    try:
        cls = getattr(importlib.import_module(module_name), class_name, None)
    except ImportError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, optuna.samplers.BaseSampler)
            and not inspect.isabstract(cls)):
        raise StrategyError(
            f"optuna: sampler={name!r} is not an Optuna sampler class; Optuna's are {known}.")
    if n_startup_trials is not None:
        raise StrategyError(
            f"optuna: option `n_startup_trials` applies to the short sampler names; give it to "
            f"{class_name} in `options` if it takes one.")
    if multi_objective and issubclass(cls, optuna.samplers.CmaEsSampler):
        raise StrategyError(f"optuna: sampler={name!r} optimises one objective, but the "
                            "campaign has several.")
    if options is not None and not isinstance(options, dict):
        raise StrategyError(f"optuna: option `options` must be a mapping of {class_name}'s "
                            f"keyword arguments, got {options!r}.")
    options = dict(options or {})
    takes = inspect.signature(cls).parameters
    for option in options:
        if option == "seed":
            raise StrategyError("optuna: options.seed: the sampler is seeded with the "
                                "campaign's `seed`; leave it out.")
        if option not in takes:
            raise StrategyError(
                f"optuna: {class_name} has no option {option!r}; it takes "
                f"{sorted(p for p in takes if p != 'seed')}.")
    if "seed" in takes:
        options["seed"] = seed
    try:
        with warnings.catch_warnings():  # (some samplers are marked experimental)
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(**options)
    except (TypeError, ValueError) as err:
        raise StrategyError(f"optuna: {class_name}({options}) refused its options: {err}") from None


def _make_sampler(
    name: str, seed: int, n_startup_trials: int | None, multi_objective: bool = False
) -> optuna.samplers.BaseSampler:
    if name not in SAMPLERS:
        raise StrategyError(
            f"optuna: option `sampler` must be one of {list(SAMPLERS)}, but got sampler={name!r}."
        )
    if n_startup_trials is not None and (
        not isinstance(n_startup_trials, int)
        or isinstance(n_startup_trials, bool)
        or n_startup_trials < 0
    ):
        raise StrategyError(
            f"optuna: option `n_startup_trials` must be an int >= 0 or None (Optuna's default), "
            f"but got n_startup_trials={n_startup_trials!r}."
        )
    startup = {} if n_startup_trials is None else {"n_startup_trials": n_startup_trials}
    if name in ("random", "nsga2", "nsga3"):
        if startup:
            raise StrategyError(
                f"optuna: option `n_startup_trials` does not apply to sampler={name!r}; "
                f"leave it unset, but got n_startup_trials={n_startup_trials!r}."
            )
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        # `group` (TPE) is marked experimental; the warning would repeat for every strategy.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, **startup)
        if name == "nsga3":
            return optuna.samplers.NSGAIIISampler(seed=seed, **startup)
        if name == "tpe" and multi_objective:  # univariate: see the class docstring
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True, **startup)
        if name == "tpe":
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, constant_liar=True, **startup
            )
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed, warn_independent_sampling=False, **startup)
        if importlib.util.find_spec("cmaes") is None:
            raise StrategyError(
                "optuna: sampler='cmaes' needs the `cmaes` package; install it with "
                "`pip install cmaes`."
            )
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False, **startup)
