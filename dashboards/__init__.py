"""What is shown: comparison reports built from MLflow data.

Reads only the MLflow store, so a campaign run elsewhere can be reported from here:

* :func:`write_report` writes one self-contained HTML file per campaign (no network needed
  to open it); :func:`report_campaign_run` also logs it as an artifact of the campaign run;
* :func:`serve` runs a live page on 127.0.0.1 that re-reads the store every few seconds.

Example:
    >>> from sweepforge.dashboards import write_report
    >>> write_report("quickstart", "sqlite:///mlflow.db")  # doctest: +SKIP
"""

from ._store import DashboardError
from .live import serve
from .report import build_report, log_report, report_campaign_run, write_report

__all__ = [
    "DashboardError",
    "build_report",
    "log_report",
    "report_campaign_run",
    "serve",
    "write_report",
]
