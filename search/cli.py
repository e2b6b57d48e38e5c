"""The ``sweepforge`` command line: ``run``, ``best`` and ``ui``.

Exit codes: 0 success, 2 bad input (nothing started, nothing written), 1 any other failure,
130 interrupted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .config import CampaignError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Hyperparameter search campaigns for PyTorch on Ray, tracked in MLflow.")
console = Console()
errors = Console(stderr=True)

_URI_HELP = "MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db)."


@app.command()
def run(
    file: Path = typer.Argument(..., help="Campaign YAML file."),
    address: Optional[str] = typer.Option(None, help="Ray cluster to join (default: $RAY_ADDRESS or a local Ray)."),
    tracking_uri: Optional[str] = typer.Option(None, help=_URI_HELP),
    strategies: Optional[str] = typer.Option(None, help="Comma-separated subset, e.g. grid,optuna."),
    progress: bool = typer.Option(True, help="Live display while trials run."),
) -> None:
    """Run every strategy of a campaign and print the comparison table."""
    from .campaign import Campaign

    _quiet_libraries()
    only = [s.strip() for s in strategies.split(",") if s.strip()] if strategies else None
    try:
        campaign = Campaign.from_yaml(file, tracking_uri=tracking_uri, address=address, strategies=only)
    except CampaignError as err:
        _fail(str(err), code=2)
    try:
        result = campaign.run(progress=progress)
    except CampaignError as err:
        _fail(str(err), code=2)
    except KeyboardInterrupt:
        _fail("interrupted; finished trials are in MLflow, the campaign run is marked KILLED.", code=130)
    console.print(_comparison_table(result.summary, result.metric))
    console.print(
        f"MLflow: experiment '{result.name}' (campaign run {result.campaign_run_id}) in "
        f"{result.tracking_uri}. Browse it with: sweepforge ui"
        + (f" --tracking-uri {result.tracking_uri}" if result.tracking_uri != "sqlite:///mlflow.db" else "")
    )


@app.command()
def best(
    name: str = typer.Argument(..., help="Campaign name (the MLflow experiment)."),
    tracking_uri: Optional[str] = typer.Option(None, help=_URI_HELP),
    strategy: Optional[str] = typer.Option(None, help="Only this strategy's trials."),
) -> None:
    """Print the best config of the latest run of campaign NAME as YAML."""
    from ._lookup import best_trial

    try:
        found = best_trial(name, tracking_uri=tracking_uri, strategy=strategy)
    except CampaignError as err:
        _fail(str(err), code=2)
    console.print(
        f"# campaign {name}, strategy {found.strategy}, trial {found.trial_id}: "
        f"{found.metric} = {found.value:.6g}", highlight=False, markup=False,
    )
    print(yaml.safe_dump(found.config, sort_keys=True), end="")


@app.command()
def ui(
    tracking_uri: Optional[str] = typer.Option(None, help=_URI_HELP),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; keep 127.0.0.1 unless you mean to share it."),
    port: int = typer.Option(5000, help="Port to serve on."),
) -> None:
    """Serve the MLflow UI for the campaign store on http://127.0.0.1:PORT."""
    from .campaign import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    console.print(f"MLflow UI for {uri} on http://{host}:{port} (Ctrl-C to stop)")
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
               "--host", host, "--port", str(port), "--workers", "1"]  # one local user
    sys.stdout.flush()
    os.execv(sys.executable, command)  # become the MLflow server: signals reach it directly


def _quiet_libraries() -> None:
    """Keep the terminal for sweepforge's own display: libraries speak only to warn."""
    import logging

    for name in ("mlflow", "optuna", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _comparison_table(summary, metric: str) -> Table:  # type: ignore[no-untyped-def]
    table = Table(title="Comparison")
    for column in ("strategy", "trials", "failed", f"best {metric}", "test (best config)", "wall time"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for row in summary.to_dict("records"):
        table.add_row(
            row["strategy"], str(row["trials"]), str(row["failed"]), _fmt(row["best_value"]),
            _fmt(row["test_value"]), f"{row['wall_time_s']:.1f}s",
        )
    return table


def _fmt(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.4f}"


def _fail(message: str, code: int) -> None:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point."""
    app()
