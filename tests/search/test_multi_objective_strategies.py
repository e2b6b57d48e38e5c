"""Several objectives without Ray: the strategies, the journal's vectors, the fronts and picks.

The campaign end to end (Ray, MLflow, the CLI) is in ``test_multi_objective.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sweepforge.search.config import CampaignError
from sweepforge.search.result import select, summarise, trials_frame
from sweepforge.search.state.journal import Journal, JournalError, read_journal, replay
from sweepforge.search.strategies.base import Strategy, StrategyError, TrialResult, TrialState
from sweepforge.search.strategies.objectives import Limit, Objectives
from sweepforge.search.strategies.pareto import hypervolume
from sweepforge.search.strategies.registry import make_strategy
from sweepforge.search.tracking.fronts import campaign_reference, hypervolume_curve, pareto_flags
from sweepforge.search.tracking.trial_logger import TrialRecord
from sweepforge.spaces import Space

SPACE = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0},
                         "y": {"type": "float", "low": 0.0, "high": 1.0},
                         "k": {"type": "categorical", "choices": ["a", "b"]}})
DIRECTIONS = ("min", "min")
# (kind, options): every built-in strategy that takes several objectives
MULTI = [("random", {}), ("grid", {}), ("evolutionary", {"population_size": 6}),
         ("optuna", {"sampler": "nsga2"}), ("optuna", {"sampler": "nsga3"}),
         ("optuna", {"sampler": "tpe"}), ("optuna", {"sampler": "random"})]


def two_objectives(config):
    """A ZDT1-like pair on (x, y): the front is y = 0, f2 = 1 - sqrt(x)."""
    x, y = config["x"], config["y"]
    g = 1.0 + 9.0 * y
    return (x, g * (1.0 - math.sqrt(x / g)))


def told(config, limit: float | None = None) -> TrialResult:
    values = two_objectives(config)
    constraints = () if limit is None else (values[0] - limit,)
    return TrialResult(value=values[0], values=values, constraints=constraints)


def drive(strategy: Strategy, limit: float | None = None) -> list[tuple[dict, TrialResult]]:
    seen = []
    while (spec := strategy.ask()) is not None:
        result = told(spec.config, limit)
        strategy.tell(spec.trial_id, result)
        seen.append((spec.config, result))
    return seen


def multi(kind: str, options: dict, *, budget: int = 24, seed: int = 0, n_constraints: int = 0):
    return make_strategy(kind, SPACE, budget=budget, seed=seed, mode="min", directions=DIRECTIONS,
                         n_constraints=n_constraints, options=options)


@pytest.mark.parametrize(("kind", "options"), MULTI)
def test_same_seed_same_asks_with_several_objectives(kind, options):
    first = [config for config, _ in drive(multi(kind, options))]
    again = [config for config, _ in drive(multi(kind, options))]
    assert first == again and len(first) == 24


@pytest.mark.parametrize(("kind", "options"), MULTI)
def test_journal_replay_of_vectors_gives_the_same_next_asks(kind, options, tmp_path):
    """A resume replays tells with their vectors and limits: the rebuilt strategy asks what
    the original would have asked next."""
    original = multi(kind, options, budget=20, n_constraints=1)
    journal = Journal.create(tmp_path, campaign_id="c", name="mo", config={}, strategies=["s"])
    for _ in range(12):
        spec = original.ask()
        journal.ask("s", spec.trial_id, spec.config)
        result = told(spec.config, limit=0.6)
        if spec.trial_id == 3:  # an infinite excess (a limit's metric never reported)
            result = TrialResult(result.value, values=result.values, constraints=(math.inf,))
        if spec.trial_id == 5:
            result = TrialResult(None, TrialState.FAILED)
        original.tell(spec.trial_id, result)
        journal.tell("s", spec.trial_id, result)
    journal.close()
    _, events = read_journal(tmp_path)
    rebuilt = multi(kind, options, budget=20, n_constraints=1)
    assert replay(events, {"s": rebuilt}) == {}
    assert [rebuilt.ask().config for _ in range(5)] == [original.ask().config for _ in range(5)]


def test_journal_refuses_a_vector_that_is_not_numbers(tmp_path):
    journal = Journal.create(tmp_path, campaign_id="c", name="mo", config={}, strategies=["s"])
    journal.close()
    with (tmp_path / "journal.jsonl").open("a") as file:
        file.write('{"type": "tell", "strategy": "s", "trial": 0, "state": "COMPLETE", '
                   '"value": 1.0, "values": [1.0, "two"]}\n')
    with pytest.raises(JournalError, match="'values' of a tell record must hold numbers"):
        read_journal(tmp_path)


def test_a_vector_of_the_wrong_length_is_refused_and_the_trial_stays_pending():
    strategy = multi("random", {}, budget=2)
    spec = strategy.ask()
    with pytest.raises(StrategyError, match="2 objectives is told `values` with one value each"):
        strategy.tell(spec.trial_id, TrialResult(value=1.0))
    strategy.tell(spec.trial_id, told(spec.config))  # (still pending: a right tell goes in)
    assert strategy.n_pending == 0


def test_a_strategy_written_for_one_objective_is_refused_for_several():
    class OneObjective(Strategy):
        name = "one_objective_demo"

        def _propose(self, trial_id):
            return SPACE.sample(np.random.default_rng(trial_id))

    from sweepforge.search.strategies.registry import STRATEGIES, register_strategy

    register_strategy(OneObjective)
    try:
        with pytest.raises(StrategyError, match="'one_objective_demo' optimises one objective, "
                                                "but the campaign has 2"):
            multi("one_objective_demo", {})
        make_strategy("one_objective_demo", SPACE, budget=2, seed=0, mode="max")  # (one: fine)
    finally:
        del STRATEGIES["one_objective_demo"]


def test_cmaes_is_refused_with_several_objectives():
    with pytest.raises(StrategyError, match="sampler='cmaes' optimises one objective, but the "
                                            "campaign has 2; use one of"):
        multi("optuna", {"sampler": "cmaes"})


def front_volume(seen, limit=None) -> float:
    points = [r.values for _, r in seen if limit is None or r.feasible]
    return hypervolume(points, DIRECTIONS, [1.0, 10.0])


def test_nsga2_selection_finds_a_better_front_than_random_search():
    """DEAP's NSGA-II steady-state survival must pay off on a ZDT1-like problem: over 4 seeds,
    the evolutionary strategy's front dominates more than random search's."""
    evolved = [front_volume(drive(multi("evolutionary", {}, budget=120, seed=s))) for s in range(4)]
    sampled = [front_volume(drive(multi("random", {}, budget=120, seed=s))) for s in range(4)]
    assert np.mean(evolved) > np.mean(sampled) + 0.1, (evolved, sampled)


def test_evolutionary_keeps_feasible_individuals_before_infeasible_ones():
    """Feasibility first: once enough feasible individuals were told, no infeasible one is in
    the population, whatever its objective values."""
    strategy = multi("evolutionary", {"population_size": 6}, budget=60)
    drive(strategy, limit=0.5)  # x <= 0.5 to be feasible
    feasible = [ind for ind in strategy.population if ind.violation <= 0]
    assert len(strategy.population) == 6 and len(feasible) == 6


def test_evolutionary_ranks_infeasible_individuals_by_total_violation():
    strategy = multi("evolutionary", {"population_size": 3}, budget=10)
    for excess in (5.0, 0.5, 3.0, 1.0):  # all infeasible: the least violation survives
        spec = strategy.ask()
        values = two_objectives(spec.config)
        strategy.tell(spec.trial_id, TrialResult(values[0], values=values, constraints=(excess,)))
    assert sorted(ind.violation for ind in strategy.population) == [0.5, 1.0, 3.0]


def test_optuna_gets_the_limits_and_keeps_infeasible_trials_off_its_front():
    strategy = multi("optuna", {"sampler": "nsga2"}, budget=30, n_constraints=1)
    drive(strategy, limit=0.3)
    constraints = [t.constraints for t in strategy.study.trials]
    assert all(len(c) == 1 for c in constraints)
    assert {t.number for t in strategy.study.best_trials} <= {
        t.number for t in strategy.study.trials if t.params["x"] <= 0.3}
    assert strategy.best_value is not None and strategy.best_value <= 0.3  # (best: feasible)


def test_limits_and_objectives_read_a_trials_metrics():
    objectives = Objectives(("acc", "n_params"), ("max", "min"),
                            (Limit("n_params", high=100.0), Limit("acc", low=0.5)))
    result = objectives.result({"acc": 0.4, "n_params": 120})
    assert result.values == (0.4, 120.0) and result.constraints == (20.0, pytest.approx(0.1))
    assert not result.feasible and result.violation == pytest.approx(20.1)
    missing = objectives.result({"acc": 0.9})
    assert missing.values == (0.9, None) and missing.constraints[0] == math.inf
    assert missing.effective_state is TrialState.FAILED  # (an objective without a value)
    assert objectives.metrics == ("acc", "n_params")


# --- results: fronts, hypervolume, picks ---------------------------------------------------
OBJECTIVES = Objectives(("acc", "n_params"), ("max", "min"), (Limit("n_params", high=500.0),))


def record(strategy, trial_id, acc, n_params, state="COMPLETE", ended=0.0):
    feasible = n_params is None or n_params <= 500
    return TrialRecord(strategy=strategy, trial_id=trial_id, state=state, value=acc,
                       test_value=None, epochs=1, duration_s=1.0, started_at=ended - 1.0,
                       config={"id": f"{strategy}{trial_id}"}, run_id=f"{strategy}-{trial_id}",
                       metrics={"acc": acc, "n_params": n_params}, feasible=feasible)


RECORDS = [
    record("a", 0, 0.90, 400, ended=1), record("a", 1, 0.80, 100, ended=2),
    record("a", 2, 0.70, 300, ended=3),                      # dominated by a1
    record("b", 0, 0.95, 450, ended=1), record("b", 1, 0.99, 900, ended=2),  # b1 infeasible
    record("b", 2, 0.99, 50, state="PRUNED", ended=3),       # pruned: on no front
    record("final", 0, 0.99, 10, ended=4),                   # the refit: on no front
]


def test_fronts_take_complete_feasible_searched_trials_only():
    flags = pareto_flags(RECORDS, OBJECTIVES)
    assert {run for run, (campaign, _) in flags.items() if campaign} == {"a-1", "a-0", "b-0"}
    assert {run for run, (_, own) in flags.items() if own} == {"a-0", "a-1", "b-0"}
    assert "final-0" not in flags


def test_reference_point_is_the_worst_complete_value_unless_given():
    assert campaign_reference(RECORDS, OBJECTIVES) == [0.7, 900.0]  # (b1 is infeasible: counts)
    assert campaign_reference(RECORDS, OBJECTIVES, {"acc": 0.5, "n_params": 1000}) == [0.5, 1000]


def test_summary_rows_give_front_size_and_hypervolume():
    reference = [0.7, 900.0]
    row = summarise("a", RECORDS, "max", OBJECTIVES, reference)
    # a0 (0.9, 400) and a1 (0.8, 100) against (0.7, 900): 0.1*800 + 0.1*500 = 130
    assert row["front_size"] == 2 and row["hypervolume"] == pytest.approx(130.0)
    assert row["best_value"] == 0.9  # (the first objective's best)
    row_b = summarise("b", RECORDS, "max", OBJECTIVES, reference)
    assert row_b["front_size"] == 1 and row_b["hypervolume"] == pytest.approx(0.25 * 450)
    assert row_b["best_value"] == 0.99  # a pruned trial's value may be best, never on a front
    assert hypervolume_curve([r for r in RECORDS if r.strategy == "a"], OBJECTIVES,
                             reference) == pytest.approx([100.0, 130.0, 130.0])


def test_trials_frame_has_objectives_feasibility_and_flags():
    frame = trials_frame(RECORDS, OBJECTIVES)
    assert {"acc", "n_params", "feasible", "pareto", "on_front"} <= set(frame.columns)
    assert not frame.set_index("run_id").loc["b-1", "feasible"]
    assert frame.pareto.sum() == 3


def test_pick_rules_select_and_refuse_what_is_not_an_objective():
    frame = trials_frame(RECORDS, OBJECTIVES)
    assert list(frame[select(frame, "n_params<=150", {"acc": "max", "n_params": "min"})].run_id) \
        == ["a-1", "b-2", "final-0"]
    assert select(frame, ["acc>0.85", "n_params<500"], {"acc": "max", "n_params": "min"}).sum() == 4
    with pytest.raises(CampaignError, match="'size' is not an objective"):
        select(frame, "size<=3", {"acc": "max", "n_params": "min"})
    with pytest.raises(CampaignError, match="'acc is high' is not a rule"):
        select(frame, "acc is high", {"acc": "max", "n_params": "min"})


def test_the_live_table_counts_each_strategy_s_front_and_best_keeps_the_limit():
    from rich.console import Console

    from sweepforge.search.tracking.progress import CampaignProgress

    progress = CampaignProgress(["a", "b"], budget=3, metric="acc", mode="max", enabled=False,
                                objectives=OBJECTIVES)
    for item in RECORDS[:5]:
        progress.on_event(item.strategy, None)
        progress.on_event(item.strategy, item)
    assert (progress.rows["a"].front, progress.rows["b"].front) == (2, 1)
    assert progress.rows["b"].best == 0.95  # b1 (0.99) broke the limit
    console = Console(width=200, record=True)
    console.print(progress.render())
    assert "front" in console.export_text()
