"""sweepforge's one use of MLflow internals: ``dashboards/_sql.py`` reads MLflow's SQL tables
directly (ten times quicker than the client for a report of thousands of trials). When MLflow
changes those tables, these tests fail and say which MLflow did it; the dashboards would then
quietly fall back to the slower client, so nothing else would."""

from __future__ import annotations

import mlflow
import sqlalchemy as sa
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from sweepforge.dashboards import _sql
from sweepforge.search.schema import TAG_CAMPAIGN_ID, TAG_KIND, RunKind

# table -> the columns _sql.py reads (its queries name exactly these)
READ = {
    "runs": {"run_uuid", "status", "start_time", "end_time", "experiment_id", "lifecycle_stage"},
    "tags": {"run_uuid", "key", "value"},
    "params": {"run_uuid", "key", "value"},
    "latest_metrics": {"run_uuid", "key", "value", "is_nan"},
}


def _store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'compat.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("compat")
    run = client.create_run(experiment, tags={TAG_KIND: RunKind.TRIAL.value,
                                              TAG_CAMPAIGN_ID: "c0ffee000000"})
    client.log_batch(run.info.run_id, metrics=[Metric("val_accuracy", 0.5, 0, 1)])
    client.log_param(run.info.run_id, "lr", "0.1")
    client.set_terminated(run.info.run_id)
    return uri, experiment, run.info.run_id


def test_mlflow_keeps_the_tables_and_columns_the_direct_read_uses(tmp_path):
    uri, _, _ = _store(tmp_path)
    engine = sa.create_engine(uri)
    try:
        inspector = sa.inspect(engine)
        for table, columns in READ.items():
            have = {c["name"] for c in inspector.get_columns(table)}
            missing = columns - have
            assert not missing, (
                f"MLflow {mlflow.__version__} changed its SQL table {table!r}: no column "
                f"{sorted(missing)}; update dashboards/_sql.py (until then reports use the client)."
            )
    finally:
        engine.dispose()


def test_the_direct_read_finds_a_trial_run(tmp_path):
    uri, experiment, run_id = _store(tmp_path)
    frame = _sql.trial_runs(uri, experiment, "c0ffee000000")
    assert frame is not None and list(frame["run_id"]) == [run_id], (
        f"dashboards/_sql.py cannot read the SQL store of MLflow {mlflow.__version__}; "
        "the report falls back to the slower client."
    )
    row = frame.iloc[0]
    assert (row["status"], row["metrics.val_accuracy"], row["params.lr"]) == ("FINISHED", 0.5, "0.1"), (
        f"MLflow {mlflow.__version__} stores runs differently: {row.to_dict()}"
    )
