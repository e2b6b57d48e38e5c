"""The campaign report: one self-contained HTML file built from the MLflow store alone.

plotly.js is embedded, so the file opens with no network. Example:

    >>> from sweepforge.dashboards import write_report
    >>> write_report("quickstart", "sqlite:///mlflow.db", "report.html")  # doctest: +SKIP
    PosixPath('report.html')
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ._page import report_page
from ._payload import build_payload, payload_json
from ._store import load_campaign, metric_histories, open_store

REPORT_ARTIFACT = "report.html"


def build_report(
    name: str, tracking_uri: str, *, campaign_run_id: str | None = None, **options: Any
) -> str:
    """The report of campaign ``name`` (its latest run, or ``campaign_run_id``) as HTML text.

    ``options`` go to :func:`._payload.build_payload` (``max_lines``, ``max_points``, ...).

    Raises:
        DashboardError: unknown campaign (the message lists the known ones), a store with no
            campaigns, or a store that cannot be reached.
    """
    client = open_store(tracking_uri)
    rows = load_campaign(client, name, tracking_uri, campaign_run_id)
    payload = build_payload(
        rows, lambda run_ids, metric: metric_histories(client, run_ids, metric), **options
    )
    return report_page(payload["title"], payload_json(payload))


def write_report(
    name: str,
    tracking_uri: str,
    path: str | os.PathLike[str] | None = None,
    *,
    campaign_run_id: str | None = None,
    **options: Any,
) -> Path:
    """Writes the report of campaign ``name`` to ``path`` (default ``NAME-report.html``)."""
    html = build_report(name, tracking_uri, campaign_run_id=campaign_run_id, **options)
    target = Path(path) if path is not None else Path(default_report_name(name))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target


def default_report_name(name: str) -> str:
    """``NAME-report.html`` in the working directory, with every character of ``name`` that is
    not a letter, digit, ``-``, ``_`` or ``.`` replaced by ``_``: an MLflow experiment made
    outside sweepforge may be called ``../x`` or ``a/b``, and the file must stay here.

    Example:
        >>> default_report_name("../../etc/x")
        '_.._etc_x-report.html'
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "campaign"
    return f"{safe}-report.html"
