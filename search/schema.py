"""Every name sweepforge writes to MLflow, and the trial states: the one contract between a
campaign (which writes) and the dashboards, ``sweepforge best`` and a user's own MLflow queries
(which read).

Runs are nested campaign -> strategy -> trial in one experiment per campaign name; each run
says which it is with :data:`TAG_KIND`. Nothing else in ``search`` or ``dashboards`` spells a
``sweepforge.*`` name: they import it from here (``tests/search/test_schema.py`` checks).

This module imports only the standard library, so ``dashboards`` can import it without
pulling in Ray, Optuna or the campaign machinery.

Example:
    >>> from sweepforge.search.schema import TAG_KIND, RunKind
    >>> f"tags.`{TAG_KIND}` = '{RunKind.TRIAL}'"
    "tags.`sweepforge.kind` = 'trial'"
"""

from __future__ import annotations

import enum
import math
from typing import Any

# --- tags on every run -------------------------------------------------------------------
TAG_KIND = "sweepforge.kind"
"""What a run is: one of :class:`RunKind`."""
TAG_CAMPAIGN_ID = "sweepforge.campaign_id"
"""The campaign's id (12 hexadecimal digits), on the campaign run and every run below it."""
TAG_RUN_KEY = "sweepforge.run_key"
"""Set when sweepforge creates a run; finds it again when spooled writes are replayed."""

# --- the campaign run --------------------------------------------------------------------
TAG_SESSIONS = "sweepforge.sessions"
"""How many master sessions the campaign ran in (1, then one more per resume)."""

# --- strategy runs -----------------------------------------------------------------------
TAG_STRATEGY = "sweepforge.strategy"
"""The strategy's name in the campaign file, on its strategy run and each of its trial runs."""
TAG_BEST_CONFIG = "sweepforge.best_config"
"""The strategy's best config as JSON."""
TAG_MODEL_URI = "sweepforge.model_uri"
"""On a strategy run (and the campaign run): the MLflow Model of its best trial (or the
campaign's final model), ``models:/<model id>``."""
TAG_MODEL_NOTE = "sweepforge.model_note"
"""On a strategy run with no model: why (a user's function, a family with no predictor, ...)."""
TAG_REGISTERED = "sweepforge.registered"
"""On the campaign run: the Model Registry version it made, ``<name>/<version>``."""
TAG_OBJECTIVES = "sweepforge.objectives"
"""On the campaign run of a campaign with several objectives: each objective and its
direction as JSON, in the file's order (``{"val_accuracy": "max", "n_params": "min"}``)."""
TAG_REFERENCE = "sweepforge.reference"
"""On the campaign run (several objectives): the hypervolume's reference point as a JSON list,
one value per objective."""

# --- logged models (MLflow 3 LoggedModel tags) -------------------------------------------
TAG_MODEL_ROLE = "sweepforge.model_role"
"""What a logged model is: ``best`` (a strategy's best trial's weights) or ``final`` (the
refit of the campaign's best config)."""
MODEL_NAME = "model"
"""The name of every model sweepforge logs (MLflow's ``name=``)."""

# --- trial runs --------------------------------------------------------------------------
TAG_TRIAL_ID = "sweepforge.trial_id"
"""The trial's number within its strategy (a string of digits)."""
TAG_CONFIG = "sweepforge.config"
"""The searched config as JSON, types kept."""
TAG_STATE = "sweepforge.state"
"""How the trial ended: one of :class:`TrialStateName` (PRUNED on a FINISHED run)."""
TAG_ERROR = "sweepforge.error"
"""Why a trial failed (at most 5,000 characters; the whole text is the ``error.txt`` artifact)."""
TAG_ATTEMPTS = "sweepforge.attempts"
"""Attempts so far: 2 and more after Ray Tune retried the trial or a resume restarted it."""
TAG_NODES = "sweepforge.nodes"
"""The Ray nodes the trial ran on, in order, comma-separated."""
TAG_RESUMED_AT_EPOCH = "sweepforge.resumed_at_epoch"
"""The first epoch a later attempt reported (above 1: resumed from a checkpoint)."""
TAG_FEASIBLE = "sweepforge.feasible"
"""With ``constraints:``: ``true`` on a trial run that kept every hard limit, ``false`` on one
that broke one (it is never a best trial nor on a front)."""
TAG_PARETO = "sweepforge.pareto"
"""Several objectives: ``true`` on a trial run on the campaign's Pareto front, ``false`` on
every other trial run (set when the campaign ends)."""
TAG_PBT_CLONES = "sweepforge.pbt.clones"
TAG_PBT_CLONED_FROM = "sweepforge.pbt.cloned_from"
TAG_PBT_LINEAGE = "sweepforge.pbt.lineage"
"""PBT: how many times the trial was cloned into, from which trial last, and the lineage as
JSON (at which epoch, from which trial, which values changed)."""

RUNTIME_TAG_PREFIX = "sweepforge."
"""Runtime facts a trial's worker reports (``device``, and what the trainables package adds:
``sweepforge.trainables.runtime_tags``) become the tags ``sweepforge.<name>`` of the trial run."""
RUNTIME_TAGS_KEY = "sweepforge_runtime"
"""Key of the dict of runtime facts in the first result a worker reports for a trial."""
FINAL_RESULT_KEY = "sweepforge_final"
"""Result key (True) of the report a worker adds after a user's function returns, with the
metrics it returned beyond its last epoch's report (test scores): no epoch was trained for it."""


def runtime_tag(name: str) -> str:
    """The tag of the runtime fact ``name``: ``runtime_tag("device") == "sweepforge.device"``."""
    return RUNTIME_TAG_PREFIX + name


# --- metrics sweepforge adds to a trainable's own ----------------------------------------
METRIC_DURATION_S = "duration_s"
"""A trial's wall time on the master, seconds."""
METRIC_EPOCHS_RUN = "epochs_run"
"""Epochs a trial trained, every attempt and PBT clone counted."""
METRIC_GPU_MEMORY_MB = "gpu_memory_mb"
"""Peak CUDA memory a trial allocated (absent on the CPU)."""
METRIC_HYPERVOLUME = "hypervolume"
"""On a strategy run (several objectives): the hypervolume of its front after each of its
trials, step = trials ended (MLflow plots the curve); the last step is its final value."""
METRIC_FRONT_SIZE = "front_size"
"""On a strategy run (several objectives): how many of its trials are on its Pareto front."""

# --- artifacts ---------------------------------------------------------------------------
ARTIFACT_CAMPAIGN_FILE = "campaign.yaml"
ARTIFACT_COMPARISON = "comparison.csv"
ARTIFACT_BEST_CONFIG = "best_config.yaml"
ARTIFACT_ERROR = "error.txt"
ARTIFACT_DECISIONS = "decisions.json"
"""On the run of a strategy that chooses its own model (``auto``): which model proposes from
which trial on, and why (a JSON list of ``{first, model, why}``)."""
ARTIFACT_PARETO_FRONT = "pareto_front.csv"
"""Several objectives: the front's trials (strategy, trial, each objective, config), on each
strategy run (its own front) and on the campaign run (the campaign's)."""


class RunKind(str, enum.Enum):
    """Values of :data:`TAG_KIND`."""

    CAMPAIGN = "campaign"
    STRATEGY = "strategy"
    TRIAL = "trial"

    def __str__(self) -> str:
        return self.value


class TrialStateName(str, enum.Enum):
    """How a trial ended, as MLflow, the result table and the report show it.

    COMPLETE: trained to its last epoch. PRUNED: a scheduler stopped it early (its value is
    from the last epoch it reached). FAILED: it raised, hung past its deadline or reported no
    finite value. KILLED: the campaign was interrupted while it ran (a resume runs it again).
    """

    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    def __str__(self) -> str:
        return self.value


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a real, finite number. Booleans are not numbers here (``True``
    reported as a metric is a bug in the trainable, not an accuracy of 1.0); NumPy scalars are.

    >>> [is_finite_number(v) for v in (0.5, 3, float("nan"), True, "0.5", None)]
    [True, True, False, False, False, False]
    """
    if isinstance(value, bool) or value is None:
        return False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes)) and math.isfinite(number)


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float when :func:`is_finite_number`, else ``None``."""
    return float(value) if is_finite_number(value) else None
