"""A fast read of a campaign's trial runs when the tracking URI is MLflow's own database.

``MlflowClient.search_runs`` builds an ORM object for every param, metric and tag of every run:
about 13 s for 10,000 trials on 2 CPUs, most of a report's build time. When the tracking URI is
the database itself (``sqlite:///``, ``postgresql://``, ``mysql://``, ``mssql://``), this module
reads the same rows with four plain queries on MLflow's tables (``runs``, ``tags``, ``params``,
``latest_metrics``: the schema MLflow has kept since 1.x) in about a second. Anything unexpected
(another scheme, a changed schema, a driver error) returns None and the caller uses the client.
The frame is the one :func:`._store.search_frame` returns; a test checks they agree.

This is sweepforge's one use of MLflow internals (its SQL tables, not a public API):
``tests/dashboards/test_mlflow_compat.py`` fails, naming the MLflow version, when they move.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from sweepforge.search.schema import TAG_CAMPAIGN_ID, TAG_KIND, RunKind

_DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
_log = logging.getLogger(__name__)

_TRIALS = """
SELECT r.run_uuid FROM runs r
JOIN tags k ON k.run_uuid = r.run_uuid AND k.key = :kind_tag AND k.value = :trial_kind
JOIN tags c ON c.run_uuid = r.run_uuid AND c.key = :campaign_tag AND c.value = :campaign
WHERE r.experiment_id = :experiment AND r.lifecycle_stage = 'active'
"""


def trial_runs(tracking_uri: str, experiment_id: str, campaign_id: str) -> pd.DataFrame | None:
    """The campaign's trial runs shaped like ``mlflow.search_runs``' frame, or None when this
    URI is not a database this module can read."""
    scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0]
    if scheme not in _DATABASE_SCHEMES:
        return None
    try:
        return _read(tracking_uri, int(experiment_id), campaign_id)
    except Exception as err:  # noqa: BLE001  (any surprise: the client's slower path is exact)
        _log.debug(
            "dashboards: direct read of %s failed (%s); using the MLflow client", tracking_uri, err
        )
        return None


def _read(tracking_uri: str, experiment_id: int, campaign_id: str) -> pd.DataFrame:
    import sqlalchemy as sa

    engine = sa.create_engine(tracking_uri)
    bind = {"experiment": experiment_id, "campaign": campaign_id, "kind_tag": TAG_KIND,
            "trial_kind": RunKind.TRIAL.value, "campaign_tag": TAG_CAMPAIGN_ID}
    try:
        with engine.connect() as connection:

            def query(sql: str) -> pd.DataFrame:
                return pd.read_sql_query(sa.text(sql), connection, params=bind)

            runs = query(
                "SELECT run_uuid AS run_id, status, start_time, end_time FROM runs "
                f"WHERE run_uuid IN ({_TRIALS})"
            )
            tags = query(f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({_TRIALS})")
            params = query(f"SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({_TRIALS})")
            metrics = query(
                "SELECT run_uuid, key, value, is_nan FROM latest_metrics "
                f"WHERE run_uuid IN ({_TRIALS})"
            )
    finally:
        engine.dispose()
    metrics["value"] = metrics["value"].astype(float).where(~metrics["is_nan"].astype(bool))
    frame = runs.set_index("run_id")
    for prefix, long in (("metrics.", metrics), ("params.", params), ("tags.", tags)):
        frame = frame.join(_wide(long, prefix))
    frame = frame.reset_index()
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    return frame


def _wide(long: pd.DataFrame, prefix: str) -> pd.DataFrame:
    if long.empty:
        return pd.DataFrame()
    wide: Any = long.pivot(index="run_uuid", columns="key", values="value")
    wide.columns = [f"{prefix}{key}" for key in wide.columns]
    wide.index.name = "run_id"
    return wide
