"""What is shown: comparison reports built from MLflow data.

Reads only the MLflow store, so a campaign run elsewhere can be reported from here:

* :func:`write_report` writes one self-contained HTML file per campaign (no network needed
  to open it); the campaign logs that file on its MLflow run itself
  (:func:`sweepforge.search.tracking.report.log_campaign_report`): dashboards never write;
* :func:`serve` runs a live page on 127.0.0.1 that re-reads the store every few seconds;
* :func:`open_store` is the check all of them (and ``sweepforge best``/``predict``) make first:
  the store is there and answers.

Example:
    >>> from sweepforge.dashboards import write_report
    >>> write_report("quickstart", "sqlite:///mlflow.db")  # doctest: +SKIP
"""

from ._store import DashboardError, open_store
from .live import serve
from .report import REPORT_ARTIFACT, build_report, write_report

__all__ = [
    "REPORT_ARTIFACT",
    "DashboardError",
    "build_report",
    "open_store",
    "serve",
    "write_report",
]
