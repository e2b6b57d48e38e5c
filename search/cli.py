"""The ``sweepforge`` command line: ``run``, ``resume``, ``best``, ``report``, ``dashboard``, ``ui``,
``datasets`` and ``trainables``.

Exit codes: 0 success, 2 bad input (nothing started, nothing written: also a Ray cluster that
cannot be joined, or trial resources no node of it can hold), 1 any other failure (also the
campaign's Ray going away under it: runs KILLED, the campaign resumable; or MLflow still away
when the campaign ends: its writes wait in the spool for ``resume``), 130 interrupted by
Ctrl-C, 143 stopped by SIGTERM (runs KILLED, the campaign resumable).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import sys
import typing
from pathlib import Path
from typing import Any

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
_STATE_HELP = "Where campaigns keep journals and checkpoints (default: $SWEEPFORGE_STATE_DIR or ./.sweepforge)."


@app.command()
def run(
    file: Path = typer.Argument(..., help="Campaign YAML file."),
    address: str | None = typer.Option(None, help="Ray cluster to join (default: $RAY_ADDRESS or a local Ray)."),
    tracking_uri: str | None = typer.Option(None, help=_URI_HELP),
    strategies: str | None = typer.Option(None, help="Comma-separated subset, e.g. grid,optuna."),
    progress: bool = typer.Option(True, help="Live display while trials run."),
    report: bool = typer.Option(
        True, help="Write NAME-report.html and log it to the campaign's MLflow run."
    ),
    resume_: bool | None = typer.Option(
        None, "--resume/--new",
        help="If an earlier run of this campaign did not finish: continue it, or start anew. "
        "Default: ask on a terminal; otherwise start anew and say how to resume.",
    ),
    state_dir: Path | None = typer.Option(None, help=_STATE_HELP),
) -> None:
    """Run every strategy of a campaign, print the comparison table and write the report."""
    from .campaign import Campaign

    _quiet_libraries()
    only = [s.strip() for s in strategies.split(",") if s.strip()] if strategies else None
    try:
        campaign = Campaign.from_yaml(file, tracking_uri=tracking_uri, address=address, strategies=only,
                                      state_dir=state_dir)
        campaign = _maybe_resume(campaign, resume_, tracking_uri, address)
    except CampaignError as err:
        _fail(str(err), code=2)
    _run_campaign(campaign, progress, report)


@app.command()
def resume(
    name: str = typer.Argument(..., help="Campaign name (its `name:`)."),
    campaign_id: str | None = typer.Option(
        None, help="Which unfinished run of NAME (default: the latest)."
    ),
    state_dir: Path | None = typer.Option(None, help=_STATE_HELP),
    address: str | None = typer.Option(None, help="Ray cluster to join (default: $RAY_ADDRESS or a local Ray)."),
    tracking_uri: str | None = typer.Option(
        None, help="MLflow tracking URI (default: the one the campaign started with)."
    ),
    progress: bool = typer.Option(True, help="Live display while trials run."),
    report: bool = typer.Option(
        True, help="Write NAME-report.html and log it to the campaign's MLflow run."
    ),
) -> None:
    """Continue campaign NAME after a kill, a crash or Ctrl-C: finished trials stay, trials cut
    off resume from their last checkpoint, every strategy picks up where it was."""
    from .campaign import Campaign
    from .state.resume import resolve_state_dir, unfinished_campaigns
    from .tracking.campaign_runs import WritesStillWait, replay_finished_spools

    _quiet_libraries()
    try:
        root = resolve_state_dir(state_dir)
        # a campaign that finished while MLflow was away: its spooled writes are all that is left
        written = replay_finished_spools(root, name, campaign_id, tracking_uri)
        for spool in written:
            console.print(f"Campaign '{name}' ({spool.campaign_id}) had finished while MLflow was "
                          f"away: its {spool.writes} waiting writes are now in {spool.tracking_uri}. "
                          f"`sweepforge report {name}` writes its report.",
                          highlight=False, markup=False, soft_wrap=True)
        if written and (campaign_id or not unfinished_campaigns(root, name)):
            return
        campaign = Campaign.resume(name, campaign_id=campaign_id, state_dir=state_dir,
                                   tracking_uri=tracking_uri, address=address)
    except WritesStillWait as err:
        _fail(str(err), code=1)
    except CampaignError as err:
        _fail(str(err), code=2)
    _run_campaign(campaign, progress, report)


def _maybe_resume(campaign, choice: bool | None, tracking_uri: str | None,  # type: ignore[no-untyped-def]
                  address: str | None):
    """``run FILE`` on a campaign whose last run did not finish: that run, resumed, when the
    user says so (``--resume``, or yes at the prompt); else ``campaign`` itself."""
    import time

    from .campaign import Campaign
    from .state.resume import stored_config, unfinished_campaigns

    name = campaign.config.name
    found = unfinished_campaigns(campaign.state_dir, name) if choice is not False else []
    if not found:
        return campaign
    latest = found[0]
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(latest.created))
    what = (f"campaign '{name}' ({latest.campaign_id}, started {started}, {latest.trials_told} "
            "trials done) did not finish")
    if choice is None:
        if not sys.stdin.isatty():
            errors.print(f"note: {what}; starting anew. `sweepforge resume {name}` (or `run "
                         "--resume`) continues it instead.", highlight=False, markup=False)
            return campaign
        choice = typer.confirm(f"{what[0].upper()}{what[1:]}. Resume it?", default=True)
        if not choice:
            return campaign
    if stored_config(latest.folder)[0].model_dump(mode="json") != campaign.config.model_dump(mode="json"):
        errors.print("note: the campaign file changed since that run started; resuming uses the "
                     "settings it started with.", highlight=False, markup=False)
    return Campaign.resume(name, campaign_id=latest.campaign_id, state_dir=campaign.state_dir,
                           tracking_uri=tracking_uri, address=address)


def _run_campaign(campaign, progress: bool, report: bool) -> None:  # type: ignore[no-untyped-def]
    """Runs (or resumes) a campaign, prints the comparison table and writes the report."""
    from .campaign import FinishedThenInterrupted

    try:
        result = campaign.run(progress=progress)
    except CampaignError as err:
        _fail(str(err), code=2)
    except FinishedThenInterrupted as err:
        _interrupted_after_the_end(campaign.config.name, err)
    except KeyboardInterrupt as err:  # Ctrl-C, SIGTERM (a scheduler, `timeout`), Ray gone
        from .tune.interrupt import RayLost, Terminated, stop_cause

        cause = stop_cause(err)
        then = (f"finished trials are in MLflow, the others and the campaign run are marked "
                f"KILLED. `sweepforge resume {campaign.config.name}` continues it.")
        if isinstance(cause, RayLost):
            _fail(f"{cause}; {then}", code=1)
        terminated = isinstance(cause, Terminated)
        _fail(f"{'terminated (SIGTERM)' if terminated else 'interrupted'}; {then}",
              code=143 if terminated else 130)
    try:
        _show_the_end(campaign, result, report)
    except KeyboardInterrupt as err:
        _interrupted_after_the_end(campaign.config.name, err)


def _interrupted_after_the_end(name: str, err: KeyboardInterrupt) -> None:
    """Ctrl-C or SIGTERM once the campaign had finished: nothing was cut off, nothing to resume."""
    from .tune.interrupt import Terminated, stop_cause

    terminated = isinstance(stop_cause(err), Terminated)
    _fail(f"{'terminated (SIGTERM)' if terminated else 'interrupted'} after the campaign "
          f"finished: every trial and model is in MLflow (`sweepforge best {name}`), nothing is "
          f"left to resume; `sweepforge report {name}` writes the report.",
          code=143 if terminated else 130)


def _show_the_end(campaign, result, report: bool) -> None:  # type: ignore[no-untyped-def]
    """The comparison table, where the model and the runs are, and the report."""
    console.print(_comparison_table(result.summary, result.metric,
                                    refit_on_val=campaign.config.final.trains_on_val))
    _fail_if_writes_wait(result)
    if result.final_model:
        registered = f"; registered as {result.registered}" if result.registered else ""
        refit = campaign.config.final.refit
        what = f"refit on {refit}" if refit != "none" else "the best trial's weights"
        console.print(f"Model: {result.final_model} ({what}{registered}); "
                      f"each strategy's best is on its run. `sweepforge predict "
                      f"{result.name} --input FILE` uses it.", highlight=False, markup=False)
    console.print(
        f"MLflow: experiment '{result.name}' (campaign run {result.campaign_run_id}) in "
        f"{result.tracking_uri}. Browse it with: sweepforge ui"
        + (f" --tracking-uri {result.tracking_uri}" if result.tracking_uri != "sqlite:///mlflow.db" else "")
    )
    if report:
        _end_of_run_report(result)


@app.command()
def best(
    name: str = typer.Argument(..., help="Campaign name (the MLflow experiment)."),
    tracking_uri: str | None = typer.Option(None, help=_URI_HELP),
    strategy: str | None = typer.Option(None, help="Only this strategy's trials."),
    model: Path | None = typer.Option(
        None, help="Also write the campaign's model (with --strategy: that strategy's best "
                   "trial's) to this new folder, loadable with mlflow.pyfunc.load_model(DIR)."),
    pick: list[str] | None = typer.Option(
        None, help="Several objectives: the front's trial that keeps these rules and is best by "
                   "the first objective, e.g. --pick 'n_params<=50000' (repeat or comma-separate; "
                   "OP: <= < >= > ==)."),
) -> None:
    """Print the best config of the latest run of campaign NAME as YAML; with several
    objectives, its Pareto front (each trial's objective values and config), or with --pick
    the front's trial that keeps the rules."""
    from .tracking.lookup import best_trial, campaign_front, campaign_model
    from .tracking.models import download_model
    from .tracking.tracker import resolve_tracking_uri

    _quiet_libraries()
    try:
        found = best_trial(name, tracking_uri=tracking_uri, strategy=strategy)
        front = _front_or_none(campaign_front, name, tracking_uri, strategy, required=bool(pick))
        if pick and model is not None:
            raise CampaignError(
                "--model with --pick: only each strategy's best trial (by the first objective) "
                "and the final refit have a logged model; leave out --pick to write the "
                "campaign's model, or search the picked config with final.refit.")
        if front is not None and pick:
            found = _picked(name, front, pick)
        elif front is not None:
            _print_front(name, *front)
            return
        logged = campaign_model(name, tracking_uri=tracking_uri, strategy=strategy) if model else None
    except CampaignError as err:
        _fail(str(err), code=2)
    if model is not None and model.exists() and (not model.is_dir() or any(model.iterdir())):
        _fail(f"--model: {model} exists and is not an empty folder; name a new folder", code=2)
    console.print(
        f"# campaign {name}, strategy {found.strategy}, trial {found.trial_id}: "
        f"{found.metric} = {found.value:.6g}", highlight=False, markup=False,
    )
    print(yaml.safe_dump(found.config, sort_keys=True), end="")
    if model is not None and logged is not None:
        download_model(resolve_tracking_uri(tracking_uri), logged.uri, str(model))
        errors.print(f"model {logged.uri} written to {model} "
                     f"(mlflow.pyfunc.load_model({str(model)!r}))", highlight=False, markup=False)


def _front_or_none(campaign_front, name: str, tracking_uri: str | None,  # type: ignore[no-untyped-def]
                   strategy: str | None, *, required: bool):
    """``(objectives, front)`` of a campaign with several objectives, else ``None`` (an error
    when ``required``: --pick needs a front)."""
    try:
        return campaign_front(name, tracking_uri=tracking_uri, strategy=strategy)
    except CampaignError as err:
        if required:
            raise CampaignError(f"--pick: {err}") from None
        return None


def _picked(name: str, front, rules: list[str]):  # type: ignore[no-untyped-def]
    """The front's trial that keeps ``rules``, best by the first objective, as a best trial."""
    import pandas as pd

    from .result import select
    from .tracking.lookup import BestTrial

    objectives, trials = front
    if not trials:
        raise CampaignError(f"--pick: campaign {name!r} has no trial on its front.")
    frame = pd.DataFrame([t.values for t in trials])
    kept = [t for t, keep in zip(trials, select(frame, rules, objectives), strict=True) if keep]
    if not kept:
        raise CampaignError(f"--pick: none of the {len(trials)} trials on the front keeps "
                            f"{', '.join(rules)}; `sweepforge best {name}` prints the front.")
    first = next(iter(objectives))
    chosen = kept[0]  # (the front comes best first by the first objective)
    return BestTrial(strategy=chosen.strategy, trial_id=chosen.trial_id, metric=first,
                     value=chosen.values[first], config=chosen.config, run_id=chosen.run_id)


def _print_front(name: str, objectives: dict[str, str], trials) -> None:  # type: ignore[no-untyped-def]
    """The front as YAML: one item per trial, its objective values and config."""
    shown = ", ".join(f"{metric} ({way})" for metric, way in objectives.items())
    console.print(f"# campaign {name}: {len(trials)} trial(s) on the Pareto front of {shown}; "
                  f"best first by {next(iter(objectives))}. --pick 'METRIC<=N' chooses one.",
                  highlight=False, markup=False, soft_wrap=True)
    items = [{"strategy": t.strategy, "trial": t.trial_id,
              **{metric: _short(value) for metric, value in t.values.items()},
              "config": t.config} for t in trials]
    print(yaml.safe_dump(items, sort_keys=False), end="")


@app.command()
def predict(
    name: str = typer.Argument(..., help="Campaign name (the MLflow experiment)."),
    input: Path = typer.Option(..., "--input", "-i", help="A .csv or .parquet table of raw rows."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the predictions here (.csv); default: print them."),
    tracking_uri: str | None = typer.Option(None, help=_URI_HELP),
    strategy: str | None = typer.Option(None, help="Use this strategy's best model instead."),
) -> None:
    """Predict the rows of a table with the model of campaign NAME (its final model)."""
    import pandas as pd

    from .tracking.lookup import campaign_model
    from .tracking.models import predict_table
    from .tracking.tracker import resolve_tracking_uri

    _quiet_libraries()
    try:
        logged = campaign_model(name, tracking_uri=tracking_uri, strategy=strategy)
    except CampaignError as err:
        _fail(str(err), code=2)
    if input.suffix.lower() not in (".csv", ".parquet") or not input.is_file():
        _fail(f"--input: {input} must be an existing .csv or .parquet file", code=2)
    try:
        table = pd.read_parquet(input) if input.suffix.lower() == ".parquet" else pd.read_csv(input)
    except (OSError, ValueError, ImportError) as err:
        _fail(f"--input: cannot read {input}: {err}", code=2)
    try:
        predictions = predict_table(resolve_tracking_uri(tracking_uri), logged.uri, table)
    except ValueError as err:
        _fail(f"--input: {input}: {err}", code=2)
    if output is None:
        print(predictions.to_csv(index=False), end="")
        return
    predictions.to_csv(output, index=False)
    errors.print(f"{len(predictions)} predictions of {logged.uri} written to {output}",
                 highlight=False, markup=False)


@app.command()
def report(
    name: str = typer.Argument(..., help="Campaign name (the MLflow experiment)."),
    tracking_uri: str | None = typer.Option(None, help=_URI_HELP),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="HTML file to write (default: NAME-report.html)."
    ),
    run_id: str | None = typer.Option(None, help="A campaign run of NAME (default: its latest)."),
) -> None:
    """Write the comparison report of campaign NAME: one HTML file that opens offline."""
    from sweepforge.dashboards import DashboardError, write_report

    from .tracking.tracker import resolve_tracking_uri

    _quiet_libraries()
    try:
        path = write_report(name, resolve_tracking_uri(tracking_uri), output, campaign_run_id=run_id)
    except DashboardError as err:
        _fail(str(err), code=2)
    console.print(f"Report of campaign '{name}' written to {path}", highlight=False, markup=False)


@app.command()
def dashboard(
    name: str | None = typer.Argument(None, help="Campaign shown first (default: the latest started)."),
    tracking_uri: str | None = typer.Option(None, help=_URI_HELP),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; keep 127.0.0.1 unless you mean to share it."),
    port: int = typer.Option(8050, help="Port to serve on."),
    refresh: float = typer.Option(5.0, min=0.5, help="Seconds between re-reads of the MLflow store."),
) -> None:
    """Serve a live comparison dashboard on http://127.0.0.1:PORT that follows running campaigns."""
    from sweepforge.dashboards import DashboardError, serve

    from .tracking.tracker import resolve_tracking_uri

    _quiet_libraries()
    uri = resolve_tracking_uri(tracking_uri)

    def ready(url: str) -> None:
        console.print(f"Dashboard for {uri} on {url} (Ctrl-C to stop)", highlight=False, markup=False)

    try:
        serve(uri, host=host, port=port, name=name, refresh_s=refresh, on_ready=ready)
    except DashboardError as err:
        _fail(str(err), code=2)
    except OSError as err:  # the port is taken, or the host is not an address of this machine
        _fail(f"cannot serve on {host}:{port}: {err.strerror or err}. Pick another --port.", code=2)


@app.command()
def ui(
    tracking_uri: str | None = typer.Option(None, help=_URI_HELP),
    host: str = typer.Option("127.0.0.1", help="Interface to bind; keep 127.0.0.1 unless you mean to share it."),
    port: int = typer.Option(5000, help="Port to serve on."),
) -> None:
    """Serve the MLflow UI for the campaign store on http://127.0.0.1:PORT."""
    from .tracking.tracker import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    console.print(f"MLflow UI for {uri} on http://{host}:{port} (Ctrl-C to stop)")
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
               "--host", host, "--port", str(port), "--workers", "1"]  # one local user
    sys.stdout.flush()
    os.execv(sys.executable, command)  # become the MLflow server: signals reach it directly


@app.command()
def datasets(
    path: Path | None = typer.Option(None, help="Describe your own .csv or .parquet table instead."),
    target: str | None = typer.Option(None, help="With --path: the column to predict."),
    categorical: str | None = typer.Option(None, help="With --path: comma-separated categorical columns."),
    task: str | None = typer.Option(None, help="With --path: classification or regression (default: inferred)."),
) -> None:
    """List the registered datasets (or describe the table at --path, as a campaign reads it)."""
    from sweepforge.trainables import ConfigError, list_datasets, load_dataset
    from sweepforge.trainables.tables import load_table

    given = [f"--{name}" for name, value in (("target", target), ("categorical", categorical),
                                             ("task", task)) if value is not None]
    if path is None and given:  # they describe the table at --path: alone they would be ignored
        _fail(f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} --path: the .csv "
              "or .parquet table to describe, e.g. --path sales.csv --target price", code=2)
    table = Table(title="Datasets" if path is None else f"Table {path}")
    for column in ("dataset", "task", "rows", "features", "target", "image shape", "categorical columns"):
        table.add_column(column, justify="right" if column in ("rows", "features") else "left")
    if path is not None:
        if not target:
            _fail("--target: give the column to predict, e.g. --target price", code=2)
        columns = [c.strip() for c in (categorical or "").split(",") if c.strip()]
        try:
            data = load_table(path, target=target, categorical=columns, task=task)
        except ConfigError as err:
            _fail(f"--{err.field or 'path'}: {err}", code=2)
        table.add_row(*_dataset_row(data.name, data, target=target))
    else:
        for name in list_datasets():
            try:
                table.add_row(*_dataset_row(name, load_dataset(name, seed=0)))
            except (ConfigError, ImportError, OSError) as err:  # e.g. an optional package missing
                table.add_row(name, "-", "-", "-", f"unavailable: {err}", "-", "-")
    _listing_console().print(table)


@app.command()
def trainables(
    name: str | None = typer.Argument(None, help="One trainable: list its knobs in full."),
) -> None:
    """List the trainables with their knobs and datasets; with NAME, one trainable's knobs."""
    from sweepforge.trainables import ConfigError, get_trainable, list_trainables

    out = _listing_console()
    if name is None:
        table = Table(title="Trainables (sweepforge trainables NAME for one in full)")
        for column in ("trainable", "learns", "data", "datasets", "knobs"):
            table.add_column(column)
        for each in list_trainables():
            spec = get_trainable(each)
            table.add_row(each, spec.task, " or ".join(spec.data_tasks), ", ".join(spec.datasets),
                          ", ".join(spec.field_names()))
        out.print(table)
        return
    from sweepforge.trainables.user_code import is_function_ref
    from sweepforge.trainables.user_function import trainable_for

    try:  # a bundled name, or your own function (./my_model.py:train, package.module:train)
        spec = trainable_for(name, metric="(the campaign's metric)") if is_function_ref(name) \
            else get_trainable(name)
    except ConfigError as err:
        _fail(str(err), code=2)
    if is_function_ref(name):
        _own_function(out, spec)
        return
    out.print(f"[bold]{spec.name}[/] ({spec.task}): trains on {' or '.join(spec.data_tasks)} data",
              highlight=False)
    out.print(f"datasets: {', '.join(spec.datasets)} (or your own table: dataset: "
              "{path: ..., target: ...})", highlight=False, markup=False)
    out.print(f"metrics: {', '.join(sorted(spec.metrics))}", highlight=False)
    out.print(_knob_table(f"Knobs of {spec.name} ({spec.config_cls.__name__})", spec.config_cls))


def _own_function(out: Console, spec: Any) -> None:
    """What sweepforge makes of the user's own function (``sweepforge trainables ./f.py:fn``)."""
    out.print(f"[bold]{spec.name}[/]: your own function; it gets the data of dataset: (a "
              "bundled name, a table or your loader) and reports what it reports", highlight=False)
    if spec.supports_checkpoint:
        out.print("checkpoints: it takes `checkpoint`, so a retried, moved or resumed trial "
                  "continues from its last saved epoch", highlight=False)
    else:
        out.print("checkpoints: it takes no `checkpoint`, so a retried, moved or resumed trial "
                  "starts again from epoch 0", highlight=False)
    if not spec.takes_dataclass:
        out.print("knobs: a plain dict of the campaign's space: and fixed: names (annotate its "
                  "config parameter with a dataclass to have them checked)", highlight=False)
        return
    out.print(_knob_table(f"Knobs of {spec.name} ({spec.config_cls.__name__}), checked before "
                          "anything runs", spec.config_cls))


def _knob_table(title: str, config_cls: type) -> Table:
    """A config dataclass's knobs: name, type, default and meaning."""
    table = Table(title=title)
    for column in ("knob", "type", "default", "meaning"):
        table.add_column(column)
    for knob, kind, default, meaning in _knobs(config_cls):
        table.add_row(knob, kind, default, meaning)
    return table


def _dataset_row(name: str, data: Any, target: str | None = None) -> list[str]:
    """One row of ``sweepforge datasets``: what a trainable and a campaign need to know;
    ``target`` names a table's target column."""
    what = _target_kind(data)
    names = data.feature_names
    categorical = ", ".join(
        f"{names[i] if names else i} ({levels})" for i, levels in sorted((data.categories or {}).items())
    )
    shape = "x".join(map(str, data.image_shape)) if data.image_shape else "-"
    rows = data.n_train + len(data.y_val) + len(data.y_test)
    return [name, data.task, str(rows), str(data.n_features), f"{target}: {what}" if target else what,
            shape, categorical or "-"]


def _target_kind(data: Any) -> str:
    if data.task == "classification":
        return f"{data.n_classes} classes"
    if data.task == "segmentation":
        return f"mask of {data.n_classes} classes"
    if data.task == "text":
        return f"tokens ({len(data.vocabulary or ())} words)"
    return "number"


def _knobs(config_cls: type) -> list[tuple[str, str, str, str]]:
    """``(name, type, default, meaning)`` of every knob; the meaning is the comment beside the
    field in the config's source, allowed values spelled out (see ``field_descriptions``)."""
    from sweepforge.trainables import field_descriptions

    comments = field_descriptions(config_cls)
    hints = typing.get_type_hints(config_cls)
    rows = []
    for field in dataclasses.fields(config_cls):
        kind = hints.get(field.name, field.type)
        default = field.default if field.default is not dataclasses.MISSING else "(required)"
        rows.append((field.name, getattr(kind, "__name__", str(kind)), repr(default),
                     comments.get(field.name, "")))
    return rows


def _listing_console() -> Console:
    """The terminal's console; piped or captured, one wide enough that no cell wraps."""
    return console if console.is_terminal else Console(width=240)


def _quiet_libraries() -> None:
    """Keep the terminal for sweepforge's own display: libraries speak only to warn."""
    import logging

    for name in ("mlflow", "optuna", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


COMPARISON_COLUMNS = ("strategy", "trials", "pruned", "failed", "epochs", "best",
                      "test of\nbest config", "wall\ntime")
"""The end-of-run table, as the README describes it: per strategy, trials run, how many a
scheduler stopped early and how many failed, the epochs they trained, the best value, the test
value of the best config and the wall time. Long headers take two lines, so that the quickstart's
table fits an 80-column terminal without cutting a strategy's name or the metric's."""


PARETO_COLUMNS = ("front", "hypervolume")
"""With several objectives, after "best": the strategy's trials on its own Pareto front and
that front's hypervolume (the campaign's reference point; larger is better)."""


def _comparison_table(summary, metric: str,  # type: ignore[no-untyped-def]
                      refit_on_val: bool = False) -> Table:
    """The end-of-run table; with ``refit_on_val`` the final refit trained on the validation
    split, so its validation value is marked as not held out."""
    from .tracking.progress import TRAINED_ON_VAL, TRAINED_ON_VAL_NOTE
    from .tune.refit import REFIT

    marked = REFIT if refit_on_val and REFIT in set(summary["strategy"]) else None
    table = Table(title="Comparison", caption=TRAINED_ON_VAL_NOTE if marked else None,
                  collapse_padding=True, pad_edge=False)  # (narrow: see COMPARISON_COLUMNS)
    pareto = "front_size" in summary.columns
    columns = list(COMPARISON_COLUMNS)
    if pareto:
        columns[columns.index("best") + 1:columns.index("best") + 1] = PARETO_COLUMNS
    for column in columns:
        table.add_column(f"best\n{metric}" if column == "best" else column, no_wrap=True,
                         justify="left" if column == "strategy" else "right")
    for row in summary.to_dict("records"):
        cells = [row["strategy"], str(row["trials"]), str(row["pruned"]), str(row["failed"]),
                 str(row["epochs"]), _fmt(row["best_value"])]
        if row["strategy"] == marked and cells[-1] != "-":
            cells[-1] += TRAINED_ON_VAL
        if pareto:
            volume = row.get("hypervolume")
            cells += ["-" if _missing(row.get("front_size")) else str(int(row["front_size"])),
                      "-" if _missing(volume) else f"{volume:.4g}"]
        wall = row["wall_time_s"]
        table.add_row(*cells, _fmt(row["test_value"]), f"{wall:.0f}s" if wall >= 10 else f"{wall:.1f}s")
    return table


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fail_if_writes_wait(result) -> None:  # type: ignore[no-untyped-def]
    """A campaign that ended while MLflow was still away (past ``$SWEEPFORGE_MLFLOW_WAIT_S``)
    left writes in its spool: say where, and how they get written, and exit 1."""
    if result.writes_waiting:
        _fail(f"MLflow at {result.tracking_uri} was still unreachable when the campaign ended: "
              f"{result.writes_waiting} writes (runs, params, metrics) wait in {result.spool_path}. "
              f"Once it answers, `sweepforge resume {result.name}` writes them, once and in "
              "order.", code=1)


def _end_of_run_report(result) -> None:  # type: ignore[no-untyped-def]
    """Writes the campaign's report beside the user and logs it as report.html on the campaign
    run. The campaign itself succeeded, so a failure here is a warning, not an error."""
    from mlflow.exceptions import MlflowException

    from sweepforge.dashboards import DashboardError

    from .tracking.report import log_campaign_report

    try:
        path = log_campaign_report(
            result.name, result.tracking_uri, result.campaign_run_id,
            Path(f"{result.name}-report.html"),
        )
    except (DashboardError, MlflowException, OSError) as err:
        errors.print(f"[yellow]warning:[/] no report written: {escape(str(err))}", highlight=False)
        return
    console.print(f"Report: {path} (also report.html on the campaign run in MLflow)",
                  highlight=False, markup=False)


def _short(value: float) -> float | int:
    """A value to print: whole numbers as ints (``n_params``), others to 6 digits."""
    return int(value) if float(value).is_integer() else float(f"{value:.6g}")


def _fmt(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"


def _fail(message: str, code: int) -> None:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _one_line_summaries() -> None:
    """Each command's line in ``sweepforge --help`` is its docstring's first paragraph joined
    into one line (Typer keeps the docstring's line breaks there, so a summary wrapped at the
    source's width broke mid-sentence in the list)."""
    for command in app.registered_commands:
        if command.short_help is None and command.callback is not None:
            first = inspect.getdoc(command.callback).split("\n\n")[0]
            command.short_help = " ".join(first.split())


_one_line_summaries()


def main() -> None:
    """Console-script entry point."""
    app()
