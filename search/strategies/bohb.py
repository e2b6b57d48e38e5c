"""``bohb``: a model fitted on the highest rung that has enough results (BOHB-style).

BOHB (Falkner, Klein and Hutter, ICML 2018) pairs Hyperband's early stopping with a model
that learns only from the largest budget that has enough observations. Here the early stopping
is the campaign's ``scheduler:`` (Ray Tune's ASHA or Hyperband, unchanged); this strategy is the
model half. For each ask it picks, from :class:`~.rungs.RungTable`, the highest epoch at which
at least ``min_points`` trials have a value, and asks an Optuna study that holds exactly those
values (one study per epoch). So it never mixes a trial stopped after one epoch with one
trained to the end, which is what steers plain TPE + ASHA towards configs that start fast.
Without a scheduler every trial reaches the last epoch, and it is the chosen model on final
values.

* **Initial design**: the first ``n_initial`` trials, and every trial until some epoch has
  ``min_points`` values, come from a scrambled Sobol sequence (Optuna's ``QMCSampler``).
* **Model** (``model``): ``"auto"`` (default) takes Optuna's GP while the space suits one (the
  rule of the ``auto`` strategy: few, mostly numeric, unconditional parameters) and the chosen
  epoch has at most ``gp_max_trials`` values, else multivariate TPE; ``"tpe"`` or ``"gp"``
  force one. Running trials are seen by the model as Optuna's samplers see them
  (``constant_liar`` for TPE, q-batch expected improvement for the GP). When the GP may be
  used, ints with more than ``relax_ints_wider_than`` values (16) are asked as floats and
  rounded, in every study (``Space.suggest``): the GP's acquisition optimiser then follows their
  gradient instead of searching hundreds of values one by one.
* **No blind repeats** (opt-in, ``repeat_tolerance``: rule 4 of ``auto``): a model's proposal
  within ``repeat_tolerance`` (e.g. 0.01: 1 % of every numeric range, the same categoricals)
  of a trial that ended below the model's epoch (stopped there by the scheduler, or failed) is
  replaced by the next design point. The model cannot see such a trial, so nothing stops it
  proposing the same config again: on one LCBench run with ASHA, the GP asked one config 73
  times in 1,000 trials. Off by default: on the early-stopping protocol it removed those
  loops but did not reach the target sooner (BENCHMARKS.md, "No blind repeats in `bohb` and
  `dehb`").
* **Data**: a trial's :attr:`TrialResult.curve` (the campaign metric after each epoch) adds a
  value to the study of every epoch it reached. A trial that fails, or breaks a hard limit,
  adds nothing. A trial told without a curve (a plain ask/tell loop) adds its final value.

The rung table is written here: Optuna's samplers fit on one study's values, and no library
offers "one study per budget, the highest full one" for asynchronous schedulers (HpBandSter,
BOHB's reference code, runs its own synchronous Hyperband and is unmaintained). Each epoch's
study is seeded from the campaign's seed and the epoch, so a seed and a tell order give the same
asks, and a resume (which replays the journal's tells, curves included) asks the same again.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.trial import TrialState as OptunaState

from sweepforge.spaces import Space

from .auto import (
    WIDE_INT,
    Decision,
    check_repeat_tolerance,
    gp_misfits,
    make_sampler,
    repeats_one_of,
)
from .base import Mode, Strategy, StrategyError, TrialResult, check_int
from .rungs import RungTable, fidelity_points, rung_label

MODELS = ("auto", "tpe", "gp")
SOBOL_SHARE = "sobol share"
"""The decision logged (once) when ``random_fraction`` first sends a model ask to the design."""
SOBOL_FOR_REPEAT = "sobol instead of a repeat"
"""The decision logged (once) when a model's proposal first repeats a trial it cannot see."""


class BohbStrategy(Strategy):
    """Optuna's TPE or GP fitted on the highest epoch with enough results (module docstring).

    Args:
        model: ``"auto"``, ``"tpe"`` or ``"gp"``.
        n_initial: Sobol trials before any model; ``None``: ``min(10, budget // 4)``.
        min_points: values an epoch needs before a model fits on it; ``None``: the number of
            parameters + 2 (BOHB's default: enough for a density in every dimension).
        gp_max_params: the most parameters a space may have for the GP (``model: auto``).
        gp_max_trials: an epoch with more values than this gets TPE (``model: auto``): a GP's
            ask grows with the trials it has seen.
        random_fraction: the share of model asks that take the next initial-design point
            instead (BOHB's ``random_fraction``, 1/3 in its paper and here; 0: the model
            always), drawn from the strategy's own seeded generator.
        relax_ints_wider_than: when the GP may be used, ints with more values than this are
            asked as floats and rounded to their step (``None``: every int exactly); a GP ask
            then costs a fraction (module docstring).

    Example:
        >>> from sweepforge.spaces import Space
        >>> space = Space.from_dict({"x": {"type": "float", "low": -1.0, "high": 1.0}})
        >>> strategy = BohbStrategy(space, budget=8, seed=0, mode="min", model="tpe")
        >>> for epochs in (1, 1, 1, 3, 1, 3):  # a scheduler stopped some after one epoch
        ...     spec = strategy.ask()
        ...     x = spec.config["x"]
        ...     curve = tuple((e, x * x + 1 / e) for e in range(1, epochs + 1))
        ...     strategy.tell(spec.trial_id, TrialResult(curve[-1][1], step=epochs, curve=curve))
        >>> strategy.rung_for_next_ask()
        1
    """

    name = "bohb"

    def __init__(
        self,
        space: Space,
        *,
        budget: int,
        seed: int = 0,
        mode: Mode = "max",
        model: str = "auto",
        n_initial: int | None = None,
        min_points: int | None = None,
        gp_max_params: int = 12,
        gp_max_trials: int = 100,
        random_fraction: float = 1 / 3,
        relax_ints_wider_than: int | None = WIDE_INT,
        repeat_tolerance: float | None = None,
    ):
        super().__init__(space, budget=budget, seed=seed, mode=mode)
        if isinstance(random_fraction, bool) or not isinstance(random_fraction, (int, float)) \
                or not 0.0 <= random_fraction < 1.0:
            raise StrategyError(f"bohb: option `random_fraction` must be a number in [0, 1), "
                                f"but got random_fraction={random_fraction!r}.")
        if model not in MODELS:
            raise StrategyError(f"bohb: option `model` must be one of {list(MODELS)}, but got "
                                f"model={model!r}.")
        if n_initial is None:
            n_initial = min(10, budget // 4)
        if min_points is None:
            min_points = len(space) + 2
        for option, value, low in (("n_initial", n_initial, 0), ("min_points", min_points, 1),
                                   ("gp_max_params", gp_max_params, 0),
                                   ("gp_max_trials", gp_max_trials, 0)):
            check_int("bohb", option, value, low)
        check_int("bohb", "relax_ints_wider_than", relax_ints_wider_than, 0,
                  none_means="every int exactly")
        check_repeat_tolerance("bohb", repeat_tolerance)
        self.model = model
        self.repeat_tolerance = repeat_tolerance
        self.n_initial = n_initial
        self.min_points = min_points
        self.gp_max_trials = gp_max_trials
        self.random_fraction = float(random_fraction)
        self._random = random.Random(seed)
        self._gp_suits = model == "gp" or (model == "auto" and not gp_misfits(space, gp_max_params))
        # every study shares trials, so all of them relax or none does
        self._relax = relax_ints_wider_than if self._gp_suits else None
        self.rungs = RungTable()
        #: Which model asked from which trial on, and on which epoch's values (logged).
        self.decisions: list[Decision] = []
        self._direction = "maximize" if mode == "max" else "minimize"
        self._design = self._new_study(make_sampler("sobol", seed))
        self._studies: dict[int, optuna.Study] = {}
        self._samplers: dict[tuple[int, str], optuna.samplers.BaseSampler] = {}
        self._in_study: dict[int, tuple[int | None, optuna.Study, optuna.Trial]] = {}
        self._params: dict[int, dict[str, Any]] = {}  # told trial id -> its Optuna params (rule on)
        #: Trials whose model proposal repeated a trial it could not see (took the design's).
        self.replaced: list[int] = []

    def rung_for_next_ask(self) -> int | None:
        """The epoch whose values the next model ask fits on (``None``: the initial design)."""
        if self.n_asked < self.n_initial:
            return None
        return self.rungs.highest(self.min_points)

    def _propose(self, trial_id: int) -> dict[str, Any]:
        epoch = self.rung_for_next_ask()
        if epoch is not None and self.random_fraction \
                and self._random.random() < self.random_fraction:
            # from the design: the model's regions are not all there is (logged once)
            epoch, study = None, self._design
            if not any(d.model == SOBOL_SHARE for d in self.decisions):
                self.decisions.append(Decision(
                    trial_id, SOBOL_SHARE, f"random_fraction={self.random_fraction:g}: that "
                    "share of the model's asks take the next design point instead"))
        elif epoch is None:
            study = self._design
            self._decide(trial_id, "sobol", epoch)
        else:
            study = self._study(epoch)
            told = self.rungs.count(epoch)
            model = "gp" if self._gp_suits and (self.model == "gp"
                                                or told <= self.gp_max_trials) else "tpe"
            study.sampler = self._sampler(epoch, model)
            self._decide(trial_id, model, epoch)
        trial = study.ask()
        config = self.space.suggest(trial, relax_ints_wider_than=self._relax)
        if epoch is not None and self._repeats_unseen(trial, epoch):
            study.tell(trial, state=OptunaState.FAIL)  # never run: the model's study forgets it
            self._replaced(trial_id, epoch)
            epoch, study = None, self._design
            trial = study.ask()
            config = self.space.suggest(trial, relax_ints_wider_than=self._relax)
        self._in_study[trial_id] = (epoch, study, trial)
        return config

    def _observe(self, trial_id: int, config: dict[str, Any], result: TrialResult) -> None:
        epoch, study, trial = self._in_study.pop(trial_id)
        points = fidelity_points(result)
        params, distributions = trial.params, trial.distributions
        reached = dict(points)
        # the asking study learns the trial's value at its own epoch; a trial that never got
        # there (stopped earlier, failed) tells it nothing
        if epoch is not None and epoch in reached:
            study.tell(trial, reached[epoch])
        else:
            study.tell(trial, state=OptunaState.FAIL)
        for at, value in points:
            if at != epoch:
                self._study(at).add_trial(optuna.trial.create_trial(
                    params=params, distributions=distributions, value=value))
        self.rungs.add(trial_id, points)
        if self.repeat_tolerance is not None:  # only the no-repeat rule reads them
            self._params[trial_id] = dict(params)

    # --- helpers ------------------------------------------------------------------------------
    def _repeats_unseen(self, trial: optuna.Trial, epoch: int) -> bool:
        """Whether ``trial``'s params repeat a trial with no value at ``epoch`` (so not in the
        model's data): stopped below it, or failed."""
        if self.repeat_tolerance is None:
            return False
        unseen = [self._params[told] for told in self.rungs.missing(epoch, self._told)]
        return repeats_one_of(trial.params, unseen, trial.distributions, self.repeat_tolerance)

    def _replaced(self, trial_id: int, epoch: int) -> None:
        self.replaced.append(trial_id)
        if len(self.replaced) == 1:
            self.decisions.append(Decision(
                trial_id, SOBOL_FOR_REPEAT, f"the model on {rung_label(epoch)} proposed a config "
                "that ended below that epoch (stopped early or failed), which it cannot see; "
                "such a proposal takes the next design point instead"))

    def _study(self, epoch: int) -> optuna.Study:
        if epoch not in self._studies:
            self._studies[epoch] = self._new_study(None)
        return self._studies[epoch]

    def _sampler(self, epoch: int, model: str) -> optuna.samplers.BaseSampler:
        key = (epoch, model)
        if key not in self._samplers:
            self._samplers[key] = make_sampler(model, (self.seed + 7919 * epoch) % 2**32)
        return self._samplers[key]

    def _new_study(self, sampler: optuna.samplers.BaseSampler | None) -> optuna.Study:
        with _quiet():
            return optuna.create_study(direction=self._direction, sampler=sampler)

    def _decide(self, trial_id: int, model: str, epoch: int | None) -> None:
        """Logs a decision when the model or the epoch it fits on changes."""
        label = f"{model} on {rung_label(epoch)}"
        if self.decisions and self.decisions[-1].model == label:
            return
        if epoch is None:
            why = "no epoch has enough values yet" if trial_id >= self.n_initial else \
                f"the first {self.n_initial} trials"
        else:
            told = self.rungs.count(epoch)
            why = (f"the highest epoch with at least {self.min_points} values ({told})"
                   + (f"; more than gp_max_trials={self.gp_max_trials}"
                      if self._gp_suits and model == "tpe" else ""))
        self.decisions.append(Decision(trial_id, label, why))


@contextmanager
def _quiet() -> Iterator[None]:
    """Optuna without its "A new study created" line (one per epoch would fill the log)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(verbosity)

