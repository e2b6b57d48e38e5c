"""``dehb``: differential evolution on the rungs of the campaign's scheduler (DEHB-style).

DEHB (Awad, Mallik and Hutter, IJCAI 2021) runs differential evolution inside Hyperband's
brackets: each budget keeps a population, fed by the configs promoted from the budget below,
and new configs are mutants of the population of the highest budget that has one. Here the
brackets are the campaign's ``scheduler:`` (Ray Tune's ASHA or Hyperband, unchanged), which
decides who climbs; this strategy breeds the newcomers:

* **Initial design**: the first ``n_initial`` trials, and every trial until some epoch has
  ``min_points`` values, are points of a scrambled Sobol sequence in the space's unit cube.
* **Parents**: the population is every trial with a value at the highest epoch that has at
  least ``min_points`` of them (:class:`~.rungs.RungTable`): the trials the scheduler let climb
  that far, ranked by their value there, not mixed with one-epoch values.
* **Mutation** (rand-to-best flavour, as DEHB's ``rand1`` with a biased base): a base vector
  from the best ``top_fraction`` of that population, plus ``mutation_factor`` times the
  difference of two other members. **Crossover**: DEAP's ``tools.cxUniform`` swaps each
  coordinate of the mutant with a target's (a member of the population's better half) with
  probability ``1 - crossover_prob``, and one coordinate always comes from the mutant (binomial
  crossover). The child is clipped into the unit cube and decoded (:meth:`Space.decode`).
* **Screening** (``screen``, 32 children by default; 1 turns it off): breed that many children
  and ask the one a surrogate of the parents' epoch predicts best: scipy's ``RBFInterpolator``
  (thin-plate spline, lightly smoothed, on the nearest 50 members; the linear kernel where the
  members lie on a hyperplane and the spline cannot be fitted) fitted on the population's
  genomes and standardised values. This is surrogate-assisted DE's pre-screening, not DEHB as
  published: DEHB is model-free. The children are all DE's, so the search still moves as DE
  moves; the surrogate only picks among them.
* **No blind repeats** (opt-in, ``repeat_tolerance``, the rule of ``auto``): a child within
  ``repeat_tolerance`` in every coordinate of the unit cube of a trial that ended below the
  parents' epoch (stopped there by the scheduler, or failed) is not asked: neither the
  population nor the surrogate holds that trial, so nothing keeps them from breeding it again.
  When every child repeats one, the next Sobol point is asked. On one LCBench run with ASHA it
  bred one config (5 of its 7 parameters at a bound) 71 times in 1,000 trials. Off by default:
  on the early-stopping protocol it removed those loops but did not reach the target sooner
  (BENCHMARKS.md, "No blind repeats in `bohb` and `dehb`").

The defaults are measured (BENCHMARKS.md, "Multi-fidelity strategies"). On LCBench at grace 1,
published DEHB (no screening, ``mutation_factor`` 0.5, ``crossover_prob`` 0.5) reached the
early-stopping target 1.5x / 1.2x / 3.0x faster than random search (no scheduler / ASHA /
Hyperband); these defaults (screening 32 children, 0.8, 0.9) 3.0x / 4.1x / 4.9x. Without
screening the wide setting does worse than random search on a sphere with an interior optimum
(its clipped mutations pile on the bounds); screened, it is the best setting measured there too.

DEAP has no differential-evolution operators (its DE example writes the mutation by hand), so
the mutation's one line is written here; the crossover is DEAP's. Without a scheduler every
trial reaches its last epoch and this is asynchronous DE on final values. It optimises one
objective. Deterministic: its own ``random.Random`` and Sobol generator, seeded from ``seed``.
"""

from __future__ import annotations

import math
import random
import warnings
from typing import Any

import numpy as np
from deap import tools
from scipy.interpolate import RBFInterpolator
from scipy.stats import qmc

from sweepforge.spaces import Space

from .auto import check_repeat_tolerance
from .base import Mode, Strategy, StrategyError, TrialResult, check_int
from .rungs import RungTable, fidelity_points

SMOOTHING = 1e-2
"""The surrogate's smoothing: rung values are noisy, and a genome may be asked twice."""
NEIGHBORS = 50
"""The surrogate's local fit: each prediction solves a system of at most this many members."""


class DehbStrategy(Strategy):
    """Differential evolution fed by the highest full rung (module docstring).

    Args:
        n_initial: Sobol trials before any breeding; ``None``: ``min(10, budget // 4)``.
        min_points: values an epoch needs to be the parents' population; ``None``: the number
            of parameters + 2, at least 4 (a base and a difference of two others).
        mutation_factor: ``F``, the scale of the difference vector (DEHB's default: 0.5).
        crossover_prob: the chance each coordinate comes from the mutant (DEHB's default: 0.5).
        top_fraction: the share of the population a base vector is drawn from (1.0: rand/1).
        screen: children bred per ask, of which the surrogate's favourite is asked (1: no
            surrogate; with 0.5 and 0.5 above, DEHB as published).
        repeat_tolerance: a child within this distance, in every coordinate of the unit cube,
            of a trial that ended below the parents' epoch is not asked; ``None`` (default):
            any child.

    Example:
        >>> from sweepforge.spaces import Space
        >>> space = Space.from_dict({"x": {"type": "float", "low": -1.0, "high": 1.0}})
        >>> strategy = DehbStrategy(space, budget=12, seed=0, mode="min")
        >>> while (spec := strategy.ask()) is not None:
        ...     strategy.tell(spec.trial_id, TrialResult(spec.config["x"] ** 2))
        >>> strategy.best_value < 0.05
        True
    """

    name = "dehb"

    def __init__(
        self,
        space: Space,
        *,
        budget: int,
        seed: int = 0,
        mode: Mode = "max",
        n_initial: int | None = None,
        min_points: int | None = None,
        mutation_factor: float = 0.8,
        crossover_prob: float = 0.9,
        top_fraction: float = 1 / 3,
        screen: int = 32,
        repeat_tolerance: float | None = None,
    ):
        super().__init__(space, budget=budget, seed=seed, mode=mode)
        if n_initial is None:
            n_initial = min(10, budget // 4)
        if min_points is None:
            min_points = max(4, len(space) + 2)
        check_int("dehb", "n_initial", n_initial, 0)
        check_int("dehb", "min_points", min_points, 4)
        check_int("dehb", "screen", screen, 1)
        for option, value, low, high in (("mutation_factor", mutation_factor, 0.0, 2.0),
                                         ("crossover_prob", crossover_prob, 0.0, 1.0),
                                         ("top_fraction", top_fraction, 0.0, 1.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not low < value <= high:
                raise StrategyError(f"dehb: option `{option}` must be a number in ({low}, "
                                    f"{high}], but got {option}={value!r}.")
        check_repeat_tolerance("dehb", repeat_tolerance)
        self.repeat_tolerance = repeat_tolerance
        self.n_initial = n_initial
        self.min_points = min_points
        self.mutation_factor = float(mutation_factor)
        self.crossover_prob = float(crossover_prob)
        self.top_fraction = float(top_fraction)
        self.screen = screen
        self.rungs = RungTable()
        self._random = random.Random(seed)
        self._sobol = qmc.Sobol(d=max(1, len(space)), scramble=True, seed=seed)
        self._vectors: dict[int, list[float]] = {}  # trial id -> its unit-cube genome
        #: Trials asked from the Sobol sequence because every child repeated an unseen trial.
        self.replaced: list[int] = []

    def _propose(self, trial_id: int) -> dict[str, Any]:
        epoch = self.rungs.highest(self.min_points) if trial_id >= self.n_initial else None
        vector = None if epoch is None else self._breed(epoch)
        if vector is None:
            if epoch is not None:  # every child repeated a trial the parents do not hold
                self.replaced.append(trial_id)
            with warnings.catch_warnings():  # (Sobol prefers powers of two; any count works)
                warnings.simplefilter("ignore", UserWarning)
                vector = [float(u) for u in self._sobol.random(1)[0][: len(self.space)]]
        self._vectors[trial_id] = vector
        return self.space.decode(vector)

    def _breed(self, epoch: int) -> list[float] | None:
        """The child to ask, or ``None`` when every child repeats an unseen trial."""
        told = [(value, trial) for trial, value in self.rungs.at(epoch)]
        ranked = [trial for _, trial in sorted(told, key=lambda vt: vt[0],
                                               reverse=self.mode == "max")]
        children = self._not_repeats([self._child(ranked) for _ in range(self.screen)], epoch)
        if len(children) <= 1:
            return children[0] if children else None
        return self._screened(children, told)

    def _not_repeats(self, children: list[list[float]], epoch: int) -> list[list[float]]:
        """``children`` less those within ``repeat_tolerance`` of a trial that ended below
        ``epoch`` (so neither in the population nor in the surrogate)."""
        if self.repeat_tolerance is None:
            return children
        unseen = [self._vectors[trial] for trial in self.rungs.missing(epoch, self._told)]
        if not unseen:
            return children
        gaps = np.abs(np.asarray(children)[:, None, :] - np.asarray(unseen)[None, :, :])
        repeats = (gaps.max(axis=2) <= self.repeat_tolerance).any(axis=1)
        return [child for child, repeat in zip(children, repeats) if not repeat]

    def _child(self, ranked: list[int]) -> list[float]:
        """One DE child of the population ``ranked`` (best first): mutation, then crossover."""
        rng = self._random
        top = ranked[: max(1, math.ceil(self.top_fraction * len(ranked)))]
        base = rng.choice(top)
        b, c = rng.sample([t for t in ranked if t != base], 2)
        genomes = {t: np.asarray(self._vectors[t]) for t in (base, b, c)}
        mutant = genomes[base] + self.mutation_factor * (genomes[b] - genomes[c])
        target = list(self._vectors[rng.choice(ranked[: max(1, len(ranked) // 2)])])
        child = [float(x) for x in mutant]
        keep = rng.randrange(len(child))  # binomial crossover: this coordinate is the mutant's
        kept = child[keep]
        state = random.getstate()  # DEAP's operators draw from the global generator
        random.setstate(rng.getstate())
        try:
            tools.cxUniform(child, target, indpb=1.0 - self.crossover_prob)
        finally:
            rng.setstate(random.getstate())
            random.setstate(state)
        child[keep] = kept
        return [min(1.0, max(0.0, x)) for x in child]

    def _screened(self, children: list[list[float]],
                  told: list[tuple[float, int]]) -> list[float]:
        """The child the population's surrogate predicts best (module docstring)."""
        genomes = np.asarray([self._vectors[trial] for _, trial in told])
        values = np.asarray([value for value, _ in told], dtype=float)
        scale = values.std() or 1.0
        gains = (values - values.mean()) / scale * (1.0 if self.mode == "max" else -1.0)
        # The thin-plate spline has a linear term, so its fit fails when the members lie on a
        # hyperplane of the cube (a few percent of asks on LCBench, mostly while the population
        # is small); the linear kernel needs only a constant term. If that fails too, the
        # genomes are too alike to rank the children: DE's own first child.
        for kernel in ("thin_plate_spline", "linear"):
            try:
                surrogate = RBFInterpolator(genomes, gains, kernel=kernel, smoothing=SMOOTHING,
                                            neighbors=min(len(gains), NEIGHBORS))
                return children[int(np.argmax(surrogate(np.asarray(children))))]
            except (np.linalg.LinAlgError, ValueError):
                continue
        return children[0]

    def _observe(self, trial_id: int, config: dict[str, Any], result: TrialResult) -> None:
        self.rungs.add(trial_id, fidelity_points(result))
