"""The models a campaign delivers to MLflow: each strategy's best trial as an MLflow Model, and
a version in the Model Registry when the campaign file asks for one.

A strategy's model is built from the checkpoint its best trial left
(:class:`~..state.best_checkpoints.BestCheckpoints`): nothing is retrained. The weights, the
family's preprocessing and the original labels become a
:class:`~sweepforge.trainables.predictors.Predictor`, saved with MLflow's pytorch flavour and a
pyfunc that answers in the user's labels (:mod:`.model_flavor`), with a signature and an input
example of raw test rows. It is logged as an MLflow 3 LoggedModel whose source run is the
strategy's run, so the MLflow UI shows it on that run.

Exactly once: before logging, the strategy run's models are looked up by their
``sweepforge.model_role`` tag, and before registering, the registered model's versions by their
``sweepforge.campaign_id`` tag; a resumed master that was killed after logging finds them and
logs nothing twice.

Example:
    >>> uri = log_predictor(client, run_id, predictor, data, role="best",
    ...                     tags={schema.TAG_STRATEGY: "tpe"})          # doctest: +SKIP
    >>> mlflow.pyfunc.load_model(uri).predict(raw_rows)                 # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import schema
from . import model_flavor

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from sweepforge.trainables.datasets import Dataset
    from sweepforge.trainables.predictors import Predictor

    from ..plan import CampaignPlan
    from ..state.best_checkpoints import BestCheckpoints, KeptCheckpoint

EXAMPLE_ROWS = 5
"""Rows of the test split saved as a model's input example."""


def predictor_of(plan: CampaignPlan, kept: KeptCheckpoint, data: Dataset | None = None) -> Predictor:
    """The model of the trial whose checkpoint is ``kept``, with its preprocessing, trained on
    ``data`` (the campaign's data by default).

    Raises:
        ConfigError: the trainable has no predictor (a user's function, or a family that does
            not predict a target per row); the message says why.
    """
    from sweepforge.trainables.checkpoint import CHECKPOINT_FILE, load_state_file
    from sweepforge.trainables.predictors import predictor_from_state

    state = load_state_file(kept.folder / CHECKPOINT_FILE)
    return predictor_from_state(plan.trainable.name, {**plan.fixed, **kept.config},
                                data if data is not None else plan.data, state)


def input_example(predictor: Predictor, data: Dataset) -> Any:
    """A few raw test rows as the model takes them: a DataFrame with the columns' names (and a
    table's level values) where the data names its columns, else a float32 array."""
    rows = np.asarray(data.X_test[:EXAMPLE_ROWS], dtype=np.float32)
    if predictor.feature_names is not None and predictor.image_shape is None:
        return predictor.raw_frame(rows)
    return rows


def log_predictor(
    client: MlflowClient, run_id: str, predictor: Predictor, data: Dataset, *, role: str,
    tags: Mapping[str, Any],
) -> str:
    """Logs ``predictor`` as an MLflow Model of run ``run_id`` (see the module docstring) and
    returns its URI, ``models:/<model id>``. ``role`` (``best`` or ``final``) and ``tags`` go on
    the logged model."""
    import tempfile

    import mlflow
    import torch
    from mlflow.models import Model, infer_signature

    example = input_example(predictor, data)
    pyfunc = model_flavor.PredictorPyfunc(predictor)
    signature = infer_signature(example, pyfunc.predict(example),
                                params={model_flavor.PROBABILITIES: False})
    requirements = [f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}",
                    f"numpy=={np.__version__}"]
    with tempfile.TemporaryDirectory(prefix="sweepforge-model-") as folder:
        with _quiet_pickle_warning():
            model_flavor.save_model(folder, Model(), predictor=predictor, signature=signature,
                                    input_example=example, pip_requirements=requirements)
        return log_model_folder(client, run_id, Path(folder), role=role, tags=tags,
                                model_type=predictor.trainable)


def log_model_folder(client: MlflowClient, run_id: str, folder: Path, *, role: str,
                     tags: Mapping[str, Any], model_type: str) -> str:
    """Logs the MLflow model folder ``folder`` as a model of run ``run_id`` and returns its
    URI, ``models:/<model id>``: the steps of ``mlflow.models.Model.log`` with the client's
    public calls (that function logs to the fluent API's global tracking URI and active
    experiment, not the campaign's). The folder's ``MLmodel`` gets the run and model ids."""
    import shutil
    import tempfile

    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model

    run = client.get_run(run_id)
    logged = client.create_logged_model(
        run.info.experiment_id, name=schema.MODEL_NAME, source_run_id=run_id,
        tags={schema.TAG_MODEL_ROLE: role, **{k: str(v) for k, v in tags.items()}},
        params={k: str(v) for k, v in run.data.params.items()}, model_type=model_type,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="sweepforge-model-") as copy:
            shutil.copytree(folder, copy, dirs_exist_ok=True)
            description = Model.load(copy)
            description.run_id, description.model_id = run_id, logged.model_id
            description.model_uuid, description.artifact_path = (logged.model_id,
                                                                 logged.artifact_location)
            description.save(str(Path(copy) / "MLmodel"))
            client.log_model_artifacts(logged.model_id, copy)
    except BaseException:
        client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    return f"models:/{logged.model_id}"


def logged_model_uri(client: MlflowClient, run_id: str, role: str) -> str | None:
    """The URI of the READY model of ``role`` that run ``run_id`` already has, or ``None``."""
    from mlflow.entities import LoggedModelStatus

    experiment_id = client.get_run(run_id).info.experiment_id
    found = client.search_logged_models(
        experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'",
    )
    for model in found:
        if (model.tags.get(schema.TAG_MODEL_ROLE) == role
                and model.status == LoggedModelStatus.READY):
            return f"models:/{model.model_id}"
    return None


@contextmanager
def _quiet_pickle_warning() -> Iterator[None]:
    """MLflow warns on every pickled PyTorch model that unpickling runs code. sweepforge loads
    models only from the store the user points it at (README, "Security"); the traced-graph
    format MLflow suggests instead would lose the predictor's labels and preprocessing."""
    import logging

    log = logging.getLogger("mlflow.pytorch")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def register(
    tracking_uri: str, model_uri: str, name: str, *, campaign_id: str, tags: Mapping[str, Any],
) -> ModelVersion:
    """A new version of registered model ``name`` for ``model_uri`` (``models:/<model id>``),
    tagged with the campaign and ``tags``; the version this campaign made before, if there is
    one (exactly once). What ``mlflow.register_model`` does, with a client of the campaign's
    store rather than the fluent API's global registry URI."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    quoted = f"name = '{_quoted(name)}'"
    if client.search_registered_models(filter_string=quoted):
        for version in client.search_model_versions(filter_string=quoted):
            if version.tags.get(schema.TAG_CAMPAIGN_ID) == campaign_id:
                return version
    else:
        try:
            client.create_registered_model(name)
        except MlflowException as err:  # another campaign made it just now
            if err.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
    model_id = model_uri.removeprefix("models:/")
    all_tags = {schema.TAG_CAMPAIGN_ID: campaign_id, **{k: str(v) for k, v in tags.items()}}
    logged = client.get_logged_model(model_id)
    # The model's own artifact location as the source: given "models:/<id>", MLflow's SQL
    # registry looks the model up through the global tracking URI, not this client's.
    return client.create_model_version(
        name, source=logged.artifact_location, run_id=logged.source_run_id, tags=all_tags,
        model_id=model_id)


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")


class ModelNotLoggedWarning(UserWarning):
    """A strategy's (or the campaign's) model could not be logged; the campaign's results stand."""


@dataclass
class Delivered:
    """What a campaign delivered to MLflow."""

    models: dict[str, str] = field(default_factory=dict)
    """Strategy -> the URI of its best trial's model (``models:/<id>``)."""
    notes: dict[str, str] = field(default_factory=dict)
    """Strategy -> why it has no model."""
    final_model: str | None = None
    """The campaign's model: the best strategy's (or, with a refit, the refit's) URI."""
    registered: str | None = None
    """``<name>/<version>`` in the Model Registry, with ``final.register``."""


def deliver_models(
    client: MlflowClient, tracking_uri: str, plan: CampaignPlan, best: BestCheckpoints,
    summary: pd.DataFrame, *, strategy_runs: Mapping[str, str], campaign_run: str,
    campaign_id: str, refit_data: Dataset | None = None,
) -> Delivered:
    """Logs each strategy's best trial as a model of its strategy run (once: a model already
    logged is found, not logged again), names the campaign's final model (the refit's, trained
    on ``refit_data``, logged on the campaign run; without a refit the best strategy's) and
    registers it with ``final.register``. A model that cannot be built or logged is skipped
    with a :class:`ModelNotLoggedWarning` and a ``sweepforge.model_note`` tag saying why."""
    delivered = Delivered()
    for row in summary.itertuples():
        name, run_id = str(row.strategy), strategy_runs[str(row.strategy)]
        try:
            uri = _strategy_model(client, plan, best, row, run_id, campaign_id)
        except Exception as err:  # noqa: BLE001 (the trials and table stand without a model)
            uri = None
            delivered.notes[name] = _no_model(client, run_id, err,
                                              f"strategy {name!r}: no model logged")
        if uri is not None:
            delivered.models[name] = uri
            client.set_tag(run_id, schema.TAG_MODEL_URI, uri)
            best.drop(name)
    if refit_data is not None:
        final = _refit_model(client, plan, best, campaign_run, campaign_id, refit_data)
        if final is None:
            return delivered
        delivered.final_model, tags = final
    else:
        ranked = summary.dropna(subset=["best_value"])
        ranked = ranked[ranked.strategy.isin(list(delivered.models))]
        if ranked.empty:
            return delivered
        top = ranked.loc[ranked.best_value.idxmax() if plan.config.mode == "max"
                         else ranked.best_value.idxmin()]
        delivered.final_model = delivered.models[str(top.strategy)]
        tags = {schema.TAG_STRATEGY: top.strategy, schema.TAG_TRIAL_ID: int(top.best_trial),
                plan.config.metric: top.best_value,
                **({plan.test_metric: top.test_value}
                   if plan.test_metric and pd.notna(top.test_value) else {})}
    client.set_tag(campaign_run, schema.TAG_MODEL_URI, delivered.final_model)
    name = plan.config.final.register_as
    if name:
        version = register(tracking_uri, delivered.final_model, name, campaign_id=campaign_id,
                           tags=tags)
        delivered.registered = f"{name}/{version.version}"
        client.set_tag(campaign_run, schema.TAG_REGISTERED, delivered.registered)
    return delivered


def _refit_model(client: MlflowClient, plan: CampaignPlan, best: BestCheckpoints,
                 campaign_run: str, campaign_id: str,
                 data: Dataset) -> tuple[str, dict[str, Any]] | None:
    """The refit's model, logged on the campaign run (once), and the tags of its Registry
    version; ``None`` (with a warning and a note on the campaign run) when there is none."""
    from ..tune.refit import REFIT

    kept = best.kept(REFIT)
    tags: dict[str, Any] = {schema.TAG_STRATEGY: REFIT, "refit": plan.config.final.refit}
    try:
        uri = logged_model_uri(client, campaign_run, "final")
        if uri is None:
            if kept is None:
                raise _NoModel("the refit did not finish with a checkpoint (see its run, "
                               f"{REFIT}-0000)", warn=True)
            uri = _log_kept(client, campaign_run, plan, kept, data, role="final",
                            tags={schema.TAG_CAMPAIGN_ID: campaign_id, **tags})
    except Exception as err:  # noqa: BLE001 (the trials and table stand without a model)
        _no_model(client, campaign_run, err, "the campaign's final model was not logged",
                  warn=True)
        return None
    if kept is not None:
        tags[plan.config.metric] = kept.value
        best.drop(REFIT)
    return uri, tags


def _no_model_returned(name: str) -> str:
    from ..tune.user_model import MODEL_KEY

    return (f"{name} returned no model: return it with the metrics, {{..., {MODEL_KEY!r}: "
            "model}} (README, \"From search to model\")")


def _no_model(client: MlflowClient, run_id: str, err: Exception, what: str,
              warn: bool = False) -> str:
    """Says on run ``run_id`` why it has no model (tag ``sweepforge.model_note``), warning
    unless that was expected; returns the note."""
    note = str(err) if isinstance(err, _NoModel) else f"{type(err).__name__}: {err}"
    client.set_tag(run_id, schema.TAG_MODEL_NOTE, note[:5000])
    if warn or not isinstance(err, _NoModel) or err.warn:
        warnings.warn(f"{what}: {note}", ModelNotLoggedWarning, stacklevel=4)
    return note


class _NoModel(Exception):
    """Why a strategy has no model, when that is expected (``warn``: it is not)."""

    def __init__(self, message: str, warn: bool = False):
        super().__init__(message)
        self.warn = warn


def _strategy_model(client: MlflowClient, plan: CampaignPlan, best: BestCheckpoints, row: Any,
                    run_id: str, campaign_id: str) -> str:
    from sweepforge.trainables.predictors import has_predictor

    found = logged_model_uri(client, run_id, "best")
    if found is not None:
        return found
    own = own_function(plan)
    reason = None if own else has_predictor(plan.trainable.name)
    if reason is not None:
        raise _NoModel(reason)
    if pd.isna(row.best_trial):
        raise _NoModel("no trial of it completed")
    kept = best.kept(str(row.strategy))
    if kept is None and own:  # no checkpoint: the function neither checkpoints nor returns one
        raise _NoModel(_no_model_returned(plan.config.trainable_name))
    if kept is None or (kept.trial_id != int(row.best_trial) and kept.value != row.best_value):
        raise _NoModel(f"the checkpoint of its best trial ({int(row.best_trial)}) was not kept "
                       "(it ended before this master session)", warn=True)
    return _log_kept(client, run_id, plan, kept, plan.data, role="best", tags={
        schema.TAG_CAMPAIGN_ID: campaign_id, schema.TAG_STRATEGY: row.strategy,
        schema.TAG_TRIAL_ID: kept.trial_id, plan.config.metric: kept.value,
    })


def _log_kept(client: MlflowClient, run_id: str, plan: CampaignPlan, kept: KeptCheckpoint,
              data: Dataset, *, role: str, tags: Mapping[str, Any]) -> str:
    """Logs the model of the kept checkpoint on run ``run_id``: the one a user's function
    returned, or a bundled family's predictor rebuilt on ``data``."""
    if own_function(plan):
        return _own_model(client, run_id, kept, role=role, tags=tags,
                          name=plan.config.trainable_name)
    return log_predictor(client, run_id, predictor_of(plan, kept, data), data, role=role,
                         tags=tags)


def own_function(plan: CampaignPlan) -> bool:
    """Whether the campaign trains the user's own function (its model is what it returns)."""
    return getattr(plan.trainable, "user_fn", None) is not None


def _own_model(client: MlflowClient, run_id: str, kept: KeptCheckpoint, *, role: str,
               tags: Mapping[str, Any], name: str) -> str:
    """Logs the model a user's function returned (saved by the worker in the checkpoint)."""
    from ..tune.user_model import MODEL_ERROR_FILE, MODEL_FOLDER

    folder = kept.folder / MODEL_FOLDER
    error = kept.folder / MODEL_ERROR_FILE
    if error.is_file():
        raise _NoModel(f"the model {name} returned could not be saved: {error.read_text()}",
                       warn=True)
    if not (folder / "MLmodel").is_file():
        raise _NoModel(_no_model_returned(name))
    return log_model_folder(client, run_id, folder, role=role, tags=tags, model_type=name)


def _floats_where_declared(table: pd.DataFrame, schema_in: Any) -> pd.DataFrame:
    """``table`` with its integer columns that the model's signature declares as floating
    point turned into floats: a CSV's ``3`` is a number like ``3.0``, but MLflow's schema check
    refuses int64 for a double column."""
    if schema_in is None or schema_in.is_tensor_spec() or not schema_in.has_input_names():
        return table
    wanted = {spec.name: str(spec.type) for spec in schema_in.inputs}
    out = table.copy()
    for column in out.columns:
        kind = wanted.get(column, "")
        if ("double" in kind or "float" in kind) and pd.api.types.is_integer_dtype(out[column]):
            out[column] = out[column].astype("float64" if "double" in kind else "float32")
    return out


def download_model(tracking_uri: str, model_uri: str, folder: str) -> str:
    """Copies the MLflow model ``model_uri`` (``models:/<model id>``) of the store into
    ``folder`` (a model folder that ``mlflow.pyfunc.load_model(folder)`` loads); returns the
    folder. It downloads the model's artifact location, found with the store's client: given
    ``models:/<id>``, MLflow would look the id up in the default store, not this one."""
    import shutil
    import tempfile

    import mlflow.artifacts
    from mlflow import MlflowClient

    location = MlflowClient(tracking_uri).get_logged_model(
        model_uri.removeprefix("models:/")).artifact_location
    with tempfile.TemporaryDirectory(prefix="sweepforge-model-") as download:
        got = mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=download,
                                                  tracking_uri=tracking_uri)
        shutil.copytree(got, folder, dirs_exist_ok=True)  # the model's files, not their folder
    return folder


def predict_table(tracking_uri: str, model_uri: str, table: pd.DataFrame) -> pd.DataFrame:
    """The predictions of the store's model ``model_uri`` for the raw rows of ``table``: a
    ``prediction`` column (labels, or a regressor's values) and, for a classifier, one
    probability column per label (``p(<label>)``).

    Raises:
        ValueError: a column the model needs is missing, a category it never saw, a value
            that is not a number (the message names the column).
    """
    import tempfile

    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="sweepforge-model-") as folder:
        model = mlflow.pyfunc.load_model(download_model(tracking_uri, model_uri, folder))
        schema_in = model.metadata.get_input_schema()
        rows: Any = _floats_where_declared(table, schema_in)
        if schema_in is not None and schema_in.is_tensor_spec():  # unnamed columns: all
            try:
                rows = table.to_numpy(dtype=np.float32)
            except (TypeError, ValueError) as err:
                raise ValueError(f"the model takes numbers only, but the table holds others: "
                                 f"{err}") from None
        ours = model.metadata.flavors.get("python_function", {}).get("loader_module")
        raw = model.get_raw_model().task if ours == model_flavor.__name__ else None
        try:
            labels = model.predict(rows)
            proba = (model.predict(rows, params={model_flavor.PROBABILITIES: True})
                     if raw == "classification" else None)
        except MlflowException as err:  # MLflow's own schema check (a missing column, a type)
            text = err.message
            raise ValueError(text[text.rfind("Error: ") + 7:] if "Error: " in text
                             else text.splitlines()[0]) from None
    out = pd.DataFrame({"prediction": np.asarray(labels)}, index=table.index)
    if proba is not None:
        out = pd.concat([out, proba.set_axis(table.index).add_prefix("p(").add_suffix(")")], axis=1)
    return out
