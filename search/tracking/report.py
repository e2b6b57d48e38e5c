"""The comparison report on the campaign's MLflow run: ``dashboards`` renders it (reading
MLflow only), and the campaign, the one writer to MLflow, logs the file as ``report.html``.

Example:
    >>> path = log_campaign_report("quickstart", "sqlite:///mlflow.db", run_id,
    ...                            "quickstart-report.html")   # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def log_campaign_report(
    name: str, tracking_uri: str, campaign_run_id: str, path: str | os.PathLike[str] | None = None
) -> Path:
    """Writes the report of campaign run ``campaign_run_id`` to ``path`` (default
    ``NAME-report.html``) and logs it on that run as ``report.html``; returns the file written.

    Raises:
        DashboardError: the campaign cannot be read back (see :func:`write_report`).
    """
    from sweepforge.dashboards import write_report

    target = write_report(name, tracking_uri, path, campaign_run_id=campaign_run_id)
    log_report_file(tracking_uri, campaign_run_id, target)
    return target


def log_report_file(tracking_uri: str, campaign_run_id: str, path: str | os.PathLike[str]) -> None:
    """Attaches the report file ``path`` to the campaign's MLflow run as ``report.html``."""
    from mlflow.tracking import MlflowClient

    from sweepforge.dashboards import REPORT_ARTIFACT

    source = Path(path)
    client = MlflowClient(tracking_uri=tracking_uri)
    if source.name == REPORT_ARTIFACT:
        client.log_artifact(campaign_run_id, str(source))
        return
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / REPORT_ARTIFACT
        copy.write_bytes(source.read_bytes())
        client.log_artifact(campaign_run_id, str(copy))
