"""Helpers for tests that compare metrics of two runs: the cost metrics are timings (and a
count), so two runs with the same seed agree on every metric but ``latency_ms`` and ``train_s``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sweepforge.trainables import COST_METRICS


def without_costs(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``metrics`` less the cost metrics (``n_params``, ``latency_ms``, ``train_s``)."""
    return {name: value for name, value in metrics.items() if name not in COST_METRICS}


def reports_without_costs(reports: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each of ``reports`` less the cost metrics (the last epoch's report holds them)."""
    return [without_costs(report) for report in reports]
