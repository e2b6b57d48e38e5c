"""A steady-state genetic algorithm on DEAP's toolbox, evolving points of the space's unit cube.

With several objectives it is a steady-state NSGA-II: DEAP's ``tools.selNSGA2`` (non-dominated
sorting and crowding distance) chooses who stays, with feasibility-first ranking for hard
limits. DEAP has no constrained NSGA-II, so the few lines that put infeasible individuals below
every feasible one (Deb's rule) are written here.
"""

from __future__ import annotations

import functools
import inspect
import math
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from deap import base, tools

from sweepforge.spaces import Space

from .base import Mode, Strategy, StrategyError, TrialResult, TrialState


class _MaxFitness(base.Fitness):
    # (complete?, value): a PRUNED individual ranks below every COMPLETE one.
    weights = (1.0, 1.0)


class _MinFitness(base.Fitness):
    weights = (1.0, -1.0)


class Individual(list):
    """A genome (a unit-cube coordinate per parameter) with trial id, generation and fitness."""

    def __init__(self, genome: list[float], *, trial_id: int = -1, generation: int = 0):
        super().__init__(genome)
        self.trial_id = trial_id
        self.generation = generation
        self.fitness: base.Fitness | None = None  # set when the trial is told
        # several objectives: how it ended and ranks (see EvolutionaryStrategy)
        self.complete = True
        self.violation = 0.0
        self.nsga_key: tuple[float, ...] = ()


class EvolutionaryStrategy(Strategy):
    """Steady-state (asynchronous) evolution: a child is bred per ask, a survivor chosen per tell.

    Genomes live in the unit cube (:meth:`Space.encode` / :meth:`Space.decode`, one coordinate per
    parameter; coordinates of inactive parameters are carried along and ignored when decoding).

    Steady-state rule, so every worker stays busy without waiting for a whole generation:

    * the first ``population_size`` asks are uniform random individuals (generation 0);
    * every later ask breeds one child from the *evaluated* population: two tournament winners
      (``tournament_size``), simulated-binary crossover with probability ``crossover_prob``, then
      polynomial mutation with probability ``mutation_prob`` (each coordinate with probability
      ``1 / len(space)``), both bounded to ``[0, 1]``; a child whose config was already tried is
      mutated again (a few times at most). Its generation is one more than its parents' highest.
      While fewer than 2 individuals are evaluated, the ask is another random individual;
    * every tell inserts the individual and trims the population back to ``population_size`` by
      dropping the worst; the ``n_elites`` best COMPLETE individuals (a ``tools.HallOfFame``)
      are never dropped.

    **Several objectives** (``directions``): NSGA-II selection, steady-state. Every tell trims
    the population with DEAP's ``tools.selNSGA2`` over the feasible COMPLETE individuals
    (non-dominated fronts first, then the widest spread by crowding distance); when they do not
    fill it, infeasible individuals follow by total violation (the sum of how far each hard
    limit is broken), then PRUNED ones. Parents are chosen by tournament on the same order:
    feasible before infeasible, lower violation, lower front rank, larger crowding distance.
    There is no hall of fame: the first front is what survives.

    FAILED results, and COMPLETE ones with a missing, NaN or infinite value, never enter the
    population. PRUNED results with a finite value enter with a penalised fitness: they rank
    below every COMPLETE individual (fitness is ``(complete, value)`` compared
    lexicographically), never enter the hall of fame, and are the first to be dropped.

    DEAP's operators draw from the global :mod:`random` module; the strategy swaps its own
    ``random.Random`` in around them and restores the caller's state, so results depend only on
    ``seed`` and the order of asks and tells (this swap is not thread-safe).

    Args:
        population_size: individuals kept; ``None`` gives ``max(8, min(32, budget // 4))``.
        tournament_size: individuals per selection tournament (>= 1).
        crossover_prob: probability that a child comes from crossover (in [0, 1]).
        crossover_eta: SBX crowding degree (> 0); larger keeps children closer to parents.
        mutation_prob: probability that a child is mutated (in [0, 1]).
        mutation_eta: polynomial-mutation crowding degree (> 0); larger means smaller steps.
        n_elites: size of the hall of fame, kept through every trim (1 ... population_size).
        crossover: another DEAP crossover by name, one of :data:`OPERATORS` (``cxBlend``,
            ``cxUniform``, ...), instead of the bounded simulated-binary one (``crossover_eta``
            then does not apply); its arguments in ``crossover_options``.
        crossover_options: the named crossover's arguments, e.g. ``{alpha: 0.3}``.
        mutation: another DEAP mutation by name (``mutGaussian``), instead of the bounded
            polynomial one (``mutation_eta`` then does not apply).
        mutation_options: its arguments, e.g. ``{mu: 0, sigma: 0.1}``. For every operator,
            ``low``/``up`` default to the unit cube (0, 1) and ``indpb`` to ``1 / len(space)``;
            children are clipped back into the cube.

    Example:
        >>> from sweepforge.spaces import Space
        >>> space = Space.from_dict({"x": {"type": "float", "low": -1.0, "high": 1.0}})
        >>> strategy = EvolutionaryStrategy(space, budget=20, seed=0, mode="min")
        >>> while (spec := strategy.ask()) is not None:
        ...     strategy.tell(spec.trial_id, TrialResult(value=spec.config["x"] ** 2))
        >>> strategy.hall_of_fame[0].fitness.values[1] == strategy.best_value
        True
    """

    name = "evolutionary"
    handles_objectives = True

    def __init__(
        self,
        space: Space,
        *,
        budget: int,
        seed: int = 0,
        mode: Mode = "max",
        directions: Sequence[Mode] | None = None,
        population_size: int | None = None,
        tournament_size: int = 3,
        crossover_prob: float = 0.9,
        crossover_eta: float = 15.0,
        mutation_prob: float = 1.0,
        mutation_eta: float = 10.0,
        n_elites: int = 2,
        crossover: str | None = None,
        crossover_options: dict[str, Any] | None = None,
        mutation: str | None = None,
        mutation_options: dict[str, Any] | None = None,
    ):
        super().__init__(space, budget=budget, seed=seed, mode=mode, directions=directions)
        if population_size is None:
            population_size = max(8, min(32, budget // 4))
        _check_int("population_size", population_size, 2)
        _check_int("tournament_size", tournament_size, 1)
        _check_int("n_elites", n_elites, 1, population_size)
        _check_float("crossover_prob", crossover_prob, 0.0, 1.0)
        _check_float("mutation_prob", mutation_prob, 0.0, 1.0)
        _check_float("crossover_eta", crossover_eta, 0.0, None)
        _check_float("mutation_eta", mutation_eta, 0.0, None)
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.crossover_prob = float(crossover_prob)
        self.mutation_prob = float(mutation_prob)
        self.n_elites = n_elites
        self.population: list[Individual] = []
        self.hall_of_fame = tools.HallOfFame(n_elites)
        self._fitness_class = _MaxFitness if mode == "max" else _MinFitness
        if self.multi_objective:  # one weight per objective: DEAP's Pareto dominance
            self._fitness_class = type("_ObjectivesFitness", (base.Fitness,), {
                "weights": tuple(1.0 if d == "max" else -1.0 for d in self.directions)})
        self._random = random.Random(seed)
        self._pending_individuals: dict[int, Individual] = {}
        self._generations: dict[int, int] = {}
        self._seen: set[tuple[tuple[str, str], ...]] = set()

        n = len(space)
        self.toolbox = base.Toolbox()
        self.toolbox.register("select", tools.selTournament, tournsize=tournament_size)
        if crossover is None:
            _no_options("crossover", crossover_options)
            self.toolbox.register(
                "mate", tools.cxSimulatedBinaryBounded, eta=float(crossover_eta), low=0.0, up=1.0
            )
        else:
            self.toolbox.register("mate", *_operator("crossover", crossover, crossover_options, n))
        if mutation is None:
            _no_options("mutation", mutation_options)
            self.toolbox.register(
                "mutate",
                tools.mutPolynomialBounded,
                eta=float(mutation_eta),
                low=0.0,
                up=1.0,
                indpb=1.0 / n,
            )
        else:
            self.toolbox.register("mutate", *_operator("mutation", mutation, mutation_options, n))

    def generation_of(self, trial_id: int) -> int:
        """The generation of an asked trial: 0 for random individuals, parents' highest + 1 else."""
        if trial_id not in self._generations:
            raise StrategyError(f"trial {trial_id} was never asked.")
        return self._generations[trial_id]

    # --- ask ------------------------------------------------------------------------------
    def _propose(self, trial_id: int) -> dict[str, Any]:
        with self._own_random():
            if trial_id < self.population_size or len(self.population) < 2:
                child = Individual([random.random() for _ in range(len(self.space))])
            else:
                child = self._breed()
        child.trial_id = trial_id
        config = self.space.decode(child)
        self._seen.add(_key(config))
        self._pending_individuals[trial_id] = child
        self._generations[trial_id] = child.generation
        return config

    def _breed(self) -> Individual:
        if self.multi_objective:
            _rank_for_tournaments(self.population)
            parents = tools.selTournament(self.population, 2, self.tournament_size,
                                          fit_attr="nsga_key")
        else:
            parents = self.toolbox.select(self.population, 2)
        child, other = (Individual(list(p)) for p in parents)
        if random.random() < self.crossover_prob:
            self.toolbox.mate(child, other)
        if random.random() < self.mutation_prob:
            self.toolbox.mutate(child)
        for _ in range(10):
            if _key(self.space.decode(child)) not in self._seen:
                break
            self.toolbox.mutate(child)
        child[:] = [min(1.0, max(0.0, float(x))) for x in child]  # (blend, Gaussian: off the cube)
        child.generation = 1 + max(p.generation for p in parents)
        return child

    # --- tell -----------------------------------------------------------------------------
    def _observe(self, trial_id: int, config: dict[str, Any], result: TrialResult) -> None:
        if self.multi_objective:
            self._observe_objectives(trial_id, result)
            return
        individual = self._pending_individuals.pop(trial_id)
        state, value = result.effective_state, result.usable_value
        if state is TrialState.FAILED or value is None:
            return
        complete = state is TrialState.COMPLETE
        individual.fitness = self._fitness_class((1.0 if complete else 0.0, value))
        self.population.append(individual)
        if complete:
            self.hall_of_fame.update([individual])
        elites = {elite.trial_id for elite in self.hall_of_fame}
        while len(self.population) > self.population_size:
            droppable = [ind for ind in self.population if ind.trial_id not in elites]
            worst = min(droppable, key=lambda ind: ind.fitness)
            # by identity: list equality would compare genomes, and twins may be told
            self.population = [ind for ind in self.population if ind is not worst]

    def _observe_objectives(self, trial_id: int, result: TrialResult) -> None:
        """NSGA-II's survival with feasibility first (see the class docstring)."""
        individual = self._pending_individuals.pop(trial_id)
        state, values = result.effective_state, result.usable_values
        if state is TrialState.FAILED or values is None:
            if state is not TrialState.PRUNED:
                return
            # pruned before every objective was measured: ranks last, kept for its genes
            values = tuple(float("-inf") if d == "max" else float("inf") for d in self.directions)
        individual.fitness = self._fitness_class(values)
        individual.complete = state is TrialState.COMPLETE
        individual.violation = result.violation
        self.population.append(individual)
        if len(self.population) > self.population_size:
            self.population = _survivors(self.population, self.population_size)

    @contextmanager
    def _own_random(self) -> Iterator[None]:
        caller_state = random.getstate()
        random.setstate(self._random.getstate())
        try:
            yield
        finally:
            self._random.setstate(random.getstate())
            random.setstate(caller_state)


def _survivors(population: list[Individual], keep: int) -> list[Individual]:
    """The ``keep`` individuals NSGA-II keeps, feasible COMPLETE ones first (``selNSGA2``),
    then infeasible ones by total violation, then PRUNED ones (in the order they came)."""
    feasible = [ind for ind in population if ind.complete and ind.violation <= 0]
    if len(feasible) >= keep:
        return list(tools.selNSGA2(feasible, keep))
    infeasible = sorted((ind for ind in population if ind.complete and ind.violation > 0),
                        key=lambda ind: ind.violation)
    pruned = [ind for ind in population if not ind.complete]
    return (feasible + infeasible + pruned)[:keep]


def _rank_for_tournaments(population: list[Individual]) -> None:
    """Sets each individual's ``nsga_key``, larger is better: feasible first, then lower
    violation, lower non-dominated front, larger crowding distance (DEAP's ``selNSGA2`` sets
    ``fitness.crowding_dist`` on what it sorts)."""
    feasible = [ind for ind in population if ind.complete and ind.violation <= 0]
    rank = {}
    if feasible:
        for number, front in enumerate(tools.sortNondominated(feasible, len(feasible))):
            for ind in front:
                rank[id(ind)] = number
        tools.selNSGA2(feasible, len(feasible))  # (assigns the crowding distances)
    for ind in population:
        if id(ind) in rank:
            ind.nsga_key = (2, 0.0, -rank[id(ind)], ind.fitness.crowding_dist)
        else:
            ind.nsga_key = (1 if ind.complete else 0, -ind.violation, 0, 0.0)


#: DEAP operators that work on a fixed-length vector of floats (the unit-cube genome). The
#: others need permutations (cxOrdered, cxPartialyMatched, mutShuffleIndexes), bits or ints
#: (mutFlipBit, mutUniformInt), evolution-strategy individuals (cxES*, mutESLogNormal) or change
#: the genome's length (cxMessyOnePoint).
OPERATORS = {
    "crossover": ("cxBlend", "cxOnePoint", "cxTwoPoint", "cxUniform", "cxSimulatedBinary",
                  "cxSimulatedBinaryBounded"),
    "mutation": ("mutGaussian", "mutPolynomialBounded"),
}
_GENOME_ARGS = {"ind1", "ind2", "individual"}


def _operator(kind: str, name: Any, options: Any, n: int) -> tuple[Any, ...]:
    """``(function, *keyword arguments)`` for ``toolbox.register``: DEAP's operator ``name``
    with ``options``; ``low``/``up`` default to the unit cube and ``indpb`` to ``1 / n``."""
    if name not in OPERATORS[kind]:
        raise StrategyError(f"evolutionary: option `{kind}` must be one of "
                            f"{list(OPERATORS[kind])} (DEAP's operators on real vectors), "
                            f"but got {kind}={name!r}.")
    if options is not None and not isinstance(options, dict):
        raise StrategyError(f"evolutionary: option `{kind}_options` must be a mapping of "
                            f"{name}'s arguments, got {options!r}.")
    function = getattr(tools, name)
    takes = [p for p in inspect.signature(function).parameters if p not in _GENOME_ARGS]
    given = dict(options or {})
    for option in given:
        if option not in takes:
            raise StrategyError(f"evolutionary: {name} has no argument {option!r}; it takes "
                                f"{takes or 'none'} ({kind}_options).")
    defaults = {"low": 0.0, "up": 1.0, "indpb": 1.0 / n}
    given = {**{k: v for k, v in defaults.items() if k in takes}, **given}
    missing = [p for p in takes if p not in given]
    if missing:
        raise StrategyError(f"evolutionary: {name} needs {missing} in `{kind}_options`, e.g. "
                            f"{kind}_options: {{{missing[0]}: ...}}.")
    for option, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise StrategyError(f"evolutionary: {kind}_options.{option} must be a finite number, "
                                f"got {value!r}.")
    return (functools.partial(function, **given),)


def _no_options(kind: str, options: Any) -> None:
    if options is not None:
        raise StrategyError(f"evolutionary: option `{kind}_options` applies to an operator named "
                            f"by `{kind}` (one of {list(OPERATORS[kind])}); name it, or leave "
                            f"{kind}_options out.")


def _key(config: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, repr(value)) for name, value in config.items()))


def _check_int(option: str, value: Any, low: int, high: int | None = None) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    if not ok or (high is not None and value > high):
        rule = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
        raise StrategyError(
            f"evolutionary: option `{option}` must be {rule}, but got {option}={value!r}."
        )


def _check_float(option: str, value: Any, low: float, high: float | None) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if high is None:
        if not (number and value > low and value < float("inf")):
            raise StrategyError(
                f"evolutionary: option `{option}` must be a finite number > {low}, "
                f"but got {option}={value!r}."
            )
    elif not (number and low <= value <= high):
        raise StrategyError(
            f"evolutionary: option `{option}` must be a number in [{low}, {high}], "
            f"but got {option}={value!r}."
        )
