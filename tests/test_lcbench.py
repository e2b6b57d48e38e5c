"""The LCBench surrogate (benchmarks/lcbench.py): its check value, batching, and the ``lcbench``
trainable through a real campaign (Ray workers, MLflow)."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from benchmarks import lcbench
from sweepforge.search import Campaign
from sweepforge.search.config import parse_campaign_config
from sweepforge.trainables import ConfigError, MemoryCheckpointer, get_trainable


@pytest.fixture(scope="module")
def bench():
    return lcbench.shared_lcbench()


def test_the_readme_check_value(bench):
    got = bench.evaluate(bench.CHECK_TASK, [bench.CHECK_CONFIG], epoch=52)
    for name, expected in bench.CHECK_OUTPUT.items():
        assert got[name][0] == pytest.approx(expected, rel=1e-5), name


def test_34_tasks_and_a_clear_error_for_others(bench):
    assert len(bench.tasks) == 34 and "3945" in bench.tasks
    with pytest.raises(lcbench.LCBenchError, match="unknown LCBench task '1'; known tasks: 3945"):
        bench.evaluate("1", [bench.CHECK_CONFIG])
    with pytest.raises(lcbench.LCBenchError, match="epoch must be in 1..52"):
        bench.evaluate("3945", [bench.CHECK_CONFIG], epoch=53)


def test_a_batch_equals_one_at_a_time_to_float32_rounding(bench):
    rng = np.random.default_rng(0)
    configs = [bench.space().sample(rng) for _ in range(20)]
    together = bench.evaluate("7593", configs, epoch=np.arange(1, 21))
    for i, config in enumerate(configs):
        alone = bench.evaluate("7593", [config], epoch=i + 1)
        for name in lcbench.OUTPUTS:
            assert together[name][i] == pytest.approx(alone[name][0], rel=1e-4)


def test_the_trainable_reports_every_epoch_and_resumes_from_its_checkpoint():
    spec = get_trainable("lcbench")
    straight: list[dict] = []
    final = spec.train({"epochs": 52}, None, straight.append)
    assert [m["epoch"] for m in straight] == list(range(1, 53))
    times = [m["surrogate_time_s"] for m in straight]
    assert times[-1] > times[0] > 0
    assert 0 < final["val_accuracy"] <= 1 and spec.metrics >= set(final)

    keeper = MemoryCheckpointer()
    spec.train({"epochs": 20}, None, None, checkpoint=keeper)
    assert keeper.state["epoch"] == 20
    resumed: list[dict] = []
    spec.train({"epochs": 52}, None, resumed.append, checkpoint=keeper)
    assert [m["epoch"] for m in resumed] == list(range(21, 53))
    assert resumed == straight[20:]


def test_bad_knobs_name_the_field():
    spec = get_trainable("lcbench")
    with pytest.raises(ConfigError, match="task='nope' is not allowed; choose one of: 3945"):
        spec.make_config({"task": "nope"})
    with pytest.raises(ConfigError, match="batch_size"):
        spec.make_config({"batch_size": 1024})
    with pytest.raises(ConfigError, match="epochs"):
        spec.make_config({"epochs": 60})


@pytest.mark.slow
def test_a_campaign_on_the_surrogate(ray_local, tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = parse_campaign_config({
        "name": "lcbench-campaign", "trainable": "lcbench", "dataset": "lcbench_placeholder",
        "metric": "val_accuracy", "budget": {"trials": 3, "max_epochs": 6},
        "fixed": {"task": "3945"}, "space": lcbench.SPACE,
        "strategies": {"random": {}, "optuna": {}},
    })
    result = Campaign(config, tracking_uri=store).run()
    assert len(result.trials) == 6 and set(result.trials["state"]) == {"COMPLETE"}
    assert (result.trials["epochs"] == 6).all()
    client = MlflowClient(store)
    run = client.get_run(result.trials["run_id"].iloc[0])
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert sorted(m.step for m in history) == list(range(1, 7))
