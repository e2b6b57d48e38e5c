"""MLflow tracking. The master process is the only writer: workers never talk to MLflow.

Runs are nested campaign -> strategy -> trial inside one experiment per campaign name:

* campaign run: the campaign file (artifact), its settings (params), the comparison table (CSV);
* strategy run: kind and options (params), best value, best config, trial counts;
* trial run: every knob as a param, per-epoch metrics (``step`` = epoch), final validation and
  test metrics, status FINISHED / FAILED, duration, and tags (campaign id, strategy, trial id).

Per-epoch metrics are buffered and written with ``log_batch``. Writes that cannot reach the
store are spooled on local disk and replayed when it returns (:class:`Tracker`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import queue
import random
import socket
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import BAD_REQUEST
from mlflow.tracking import MlflowClient

from ..schema import TAG_RUN_KEY
from ..state.best_checkpoints import safe_folder_name
from ..state.spool import Spool, spool_path

_log = logging.getLogger("sweepforge.tracking")

TAG_PARENT = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"
LOCAL_RUN_PREFIX = "local-"  # a run opened while MLflow was away, not created there yet

_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAMS_PER_BATCH = 100
_MAX_PARAM_LENGTH = 6000


DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else a SQLite file in the working dir."""
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


MAX_QUEUED = 2000
"""Writes a background writer holds before ``start_run``/``log`` wait for it (about 300
trials' worth)."""


def now_ms() -> int:
    return int(time.time() * 1000)


class Tracker:
    """Batched writer for one campaign's runs in one MLflow store, that survives the store
    going away for a while.

    Every write is one MLflow call. When a call fails because the store cannot be reached (a
    tracking server down or restarting, a SQLite file locked past its busy timeout), that
    write and every later one go to a local spool file (:mod:`..state.spool`), in order, and the
    tracker tries to replay the spool every ``retry_every_s`` seconds as writes come in, and
    for up to ``wait_s`` seconds at :meth:`close`. What is still spooled after that stays on
    disk for :func:`replay_spool`. Runs opened while the store is away get a local id
    (``local-...``); :meth:`real_run_id` gives the MLflow id once the run exists.

    Replay writes each op once: a ``done`` line follows each op in the spool. The op in flight
    when a master dies may be sent twice, which is harmless: a spooled run carries a
    ``sweepforge.run_key`` tag and is looked up before it is created; metrics keep the
    timestamp they were logged with, and MLflow's SQL stores drop an exact repeat; params
    are logged with the same value, tags and artifacts overwrite, and ending a run twice
    ends it once.

    The store must be reachable when the tracker starts (nothing is lost yet then).

    With ``background=True`` (what a campaign uses) the calls are made, in order, by one writer
    thread, so Ray Tune's loop on the master does not wait on the store between trials (a run
    started this way has a local id until the writer creates it). :meth:`flush` waits for every
    write queued so far;
    :meth:`close` flushes first. An error of the store that is not an outage (a bug) is raised
    by the next call after it.

    Example:
        >>> tracker = Tracker("sqlite:///mlflow.db", "quickstart")  # doctest: +SKIP
        >>> tracker.name_spool("a1b2c3d4e5f6")   # spool file: .sweepforge/spool/a1b2c3d4e5f6.jsonl  # doctest: +SKIP
        >>> run_id = tracker.start_run("quickstart", {TAG_KIND: "campaign"})  # doctest: +SKIP
        >>> tracker.close()                      # 0: every write reached MLflow  # doctest: +SKIP
    """

    def __init__(
        self, tracking_uri: str, experiment_name: str, *, spool: str | os.PathLike[str] | None = None,
        retry_every_s: float = 5.0, background: bool = False, spooled: Spool | None = None,
    ):
        _http_client_defaults(tracking_uri)
        self.tracking_uri = tracking_uri
        self._run_ids: dict[str, str] = {}  # local id -> MLflow id, of runs created by a replay
        self._spool: Spool | None = None
        if spooled is None:
            with _store_setup_lock(tracking_uri):  # the client creates a SQLite store's tables
                self.client = MlflowClient(tracking_uri=tracking_uri)
                self.experiment_id = _with_lock_retry(self._experiment, experiment_name)
        else:  # a spool an earlier master left (see replay_spool): it names the experiment
            self.client = MlflowClient(tracking_uri=tracking_uri)
            self.experiment_id = spooled.experiment_id
            self._spool = spooled
            self._run_ids = spooled.run_ids  # one map: replays add to it, the tracker reads it
            spool = spooled.path
        self.spool_path = Path(spool) if spool else spool_path(f"{experiment_name}-{uuid.uuid4().hex[:12]}")
        self.retry_every_s = retry_every_s
        self._tried_at = 0.0
        # bounded: when MLflow writes slower than trials end, the campaign waits for it rather
        # than queueing without end (10,000 quick trials on SQLite: 13 KB per trial otherwise)
        self._queue: queue.Queue | None = queue.Queue(maxsize=MAX_QUEUED) if background else None
        self._writer: threading.Thread | None = None
        self._writer_error: BaseException | None = None

    def name_spool(self, campaign_id: str, folder: str | os.PathLike[str] | None = None) -> None:
        """Names the spool file after the campaign (``<folder>/<campaign_id>.jsonl``, default
        folder :func:`~..state.spool.default_spool_dir`), so a resume can find it."""
        if self._spool is None:
            self.spool_path = spool_path(campaign_id, folder)

    def _experiment(self, name: str) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                self.client.restore_experiment(experiment.experiment_id)
            return experiment.experiment_id
        try:
            return self.client.create_experiment(
                name, artifact_location=artifact_location(self.tracking_uri, name))
        except MlflowException:  # created meanwhile by another process
            return self.client.get_experiment_by_name(name).experiment_id

    # --- writes -------------------------------------------------------------------------
    def start_run(self, name: str, tags: Mapping[str, str], parent: str | None = None) -> str:
        """Opens a run (nested under ``parent``) and returns its id: a local id while the store
        is away, or with a writer thread (the run is created in order with the calls naming it;
        :meth:`real_run_id` gives the MLflow id once it exists)."""
        key = uuid.uuid4().hex
        all_tags = {**tags, TAG_RUN_NAME: name, TAG_RUN_KEY: key}
        if parent:
            all_tags[TAG_PARENT] = parent
        local_id = LOCAL_RUN_PREFIX + key
        created = self._submit({"op": "create_run", "local_id": local_id, "name": name,
                                "tags": all_tags, "start_time": now_ms()})
        return created or self.real_run_id(local_id)

    def log(
        self,
        run_id: str,
        params: Mapping[str, Any] | None = None,
        metrics: Iterable[Metric] = (),
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Writes params, metrics and tags in as few ``log_batch`` calls as MLflow allows."""
        param_list = [[k, _param_text(v)] for k, v in (params or {}).items()]
        tag_list = [[k, str(v)] for k, v in (tags or {}).items()]
        metric_list = [[m.key, m.value, m.timestamp, m.step] for m in metrics]
        first = True
        while first or param_list or metric_list:
            first = False
            self._submit({"op": "log_batch", "run": run_id,
                          "metrics": metric_list[:_MAX_METRICS_PER_BATCH],
                          "params": param_list[:_MAX_PARAMS_PER_BATCH], "tags": tag_list})
            metric_list = metric_list[_MAX_METRICS_PER_BATCH:]
            param_list = param_list[_MAX_PARAMS_PER_BATCH:]
            tag_list = []

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self._submit({"op": "log_text", "run": run_id, "text": text, "path": path})

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self._submit({"op": "end_run", "run": run_id, "status": status, "end_time": now_ms()})

    def reopen_run(self, run_id: str) -> None:
        """Marks an ended run RUNNING again (a resumed campaign continues it)."""
        self._submit({"op": "reopen_run", "run": run_id})

    # --- the spool ----------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Writes waiting in the spool."""
        return len(self._spool.pending) if self._spool else 0

    def real_run_id(self, run_id: str) -> str:
        """The MLflow id of a run opened while the store was away (``run_id`` itself once it
        is real, or while it is still waiting)."""
        return self._run_ids.get(run_id, run_id)

    def flush(self) -> None:
        """Waits until every write queued so far has been made (or spooled)."""
        if self._writer is not None:
            self._submit({"op": "flush"}, wait=True)
        self._raise_writer_error()

    def close(self, wait_s: float = 0.0) -> int:
        """Replays the spool, retrying for up to ``wait_s`` seconds while the store is away;
        returns the writes still spooled (0: everything is in MLflow)."""
        self.flush()
        if self._writer is not None:
            self._queue.put(None)  # the writer's last item
            self._writer.join()
            self._writer = None
        self._queue = None  # from now on, calls are made at once
        deadline = time.monotonic() + wait_s
        while self.pending:
            self._replay()
            if not self.pending or time.monotonic() >= deadline:
                break
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        if self.pending:
            _log.warning("MLflow at %s is unreachable: %d writes are kept in %s; they are written "
                         "by `sweepforge resume NAME` once it answers.",
                         self.tracking_uri, self.pending, self.spool_path)
        return self.pending

    def _submit(self, op: dict[str, Any], wait: bool = False) -> str | None:
        """Makes the call (in the writer thread when there is one; ``wait`` for its answer)."""
        if self._queue is None:
            return self._make_or_spool(op)
        self._raise_writer_error()
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_queued, name="sweepforge-mlflow",
                                            daemon=True)
            self._writer.start()
        answer: Future | None = Future() if wait else None
        self._queue.put((op, answer))
        return answer.result() if answer is not None else None

    def _write_queued(self) -> None:
        """The writer thread: makes the queued calls in order until it gets ``None``."""
        while (item := self._queue.get()) is not None:
            op, answer = item
            try:
                if op["op"] == "call":
                    result = op["fn"]()
                else:
                    result = None if op["op"] == "flush" else self._make_or_spool(op)
            except BaseException as err:  # noqa: BLE001  (handed to the caller)
                if answer is not None:
                    answer.set_exception(err)
                elif self._writer_error is None:
                    self._writer_error = err
                continue
            if answer is not None:
                answer.set_result(result)

    def in_order(self, fn: Any) -> None:
        """Calls ``fn()`` once every write queued before has been made or spooled (at once
        without a writer thread). The campaign journals a trial's tell this way, so a tell in
        the journal means MLflow has (or the spool keeps) the whole trial."""
        if self._queue is None:
            fn()
        else:
            self._submit({"op": "call", "fn": fn})

    def _raise_writer_error(self) -> None:
        if self._writer_error is not None:
            err, self._writer_error = self._writer_error, None
            raise err

    def _make_or_spool(self, op: dict[str, Any]) -> str | None:
        """Makes the call now, or spools it (behind any calls spooled before it)."""
        if self._spool is None:
            try:
                made = self._execute(op)
            except Exception as err:
                if not _unreachable(err):
                    raise
                _log.warning("MLflow at %s cannot be reached (%s); writes are kept in %s until "
                             "it returns.", self.tracking_uri, _first_line(err), self.spool_path)
                self._spool = self._open_spool()
                self._tried_at = time.monotonic()
            else:
                if op["op"] == "create_run":  # later calls may name the run by its local id
                    self._run_ids[op["local_id"]] = made
                return made
        self._spool.append(self._naming_real_runs(op))
        if time.monotonic() - self._tried_at >= self.retry_every_s:
            self._replay()
        return None

    def _naming_real_runs(self, op: dict[str, Any]) -> dict[str, Any]:
        """``op`` with the MLflow id of each run it names that exists already: a spool
        replayed by another process (a resume) knows only the runs its own ops create, not
        those this tracker created before the store went away."""
        ids = self._run_ids
        if "run" in op:
            op = {**op, "run": ids.get(op["run"], op["run"])}
        if op["op"] == "create_run" and TAG_PARENT in op["tags"]:
            op = {**op, "tags": {**op["tags"], TAG_PARENT: ids.get(op["tags"][TAG_PARENT],
                                                                    op["tags"][TAG_PARENT])}}
        return op

    def _open_spool(self) -> Spool:
        # one map of run ids: replays add to it, the tracker reads it
        return Spool.create(self.spool_path, self.tracking_uri, self.experiment_id,
                            run_ids=self._run_ids)

    def _replay(self) -> None:
        """Writes the spooled ops in order until one fails for want of the store; a spool
        written out in full is deleted."""
        spool = self._spool
        if spool is None:
            return
        self._tried_at = time.monotonic()
        if not _reachable(self.tracking_uri):
            return
        replay_ops(self, spool)
        if not spool.pending:
            spool.path.unlink(missing_ok=True)
            _log.warning("MLflow at %s is back: the spooled writes are in (%s removed).",
                         self.tracking_uri, spool.path)
            self._spool = None

    def _execute(self, op: dict[str, Any], replay: bool = False) -> str | None:
        """One MLflow call; for ``create_run`` returns the run id. While replaying, a run
        already created (by an earlier try whose answer was lost) is found by its key."""
        return _with_lock_retry(self._call, op, replay)

    def _call(self, op: dict[str, Any], replay: bool) -> str | None:
        kind = op["op"]
        ids = self._run_ids
        run = ids.get(op.get("run", ""), op.get("run", ""))
        if run.startswith(LOCAL_RUN_PREFIX):
            raise MlflowException(f"run {run} was never created in MLflow", error_code=BAD_REQUEST)
        if kind == "create_run":
            tags = {k: ids.get(v, v) if k == TAG_PARENT else v for k, v in op["tags"].items()}
            if replay:
                found = self.client.search_runs(
                    [self.experiment_id], f"tags.`{TAG_RUN_KEY}` = '{tags[TAG_RUN_KEY]}'",
                    max_results=1,
                )
                if found:
                    return found[0].info.run_id
            created = self.client.create_run(self.experiment_id, start_time=op["start_time"],
                                             tags=tags, run_name=op["name"])
            return created.info.run_id
        if kind == "log_batch":
            self.client.log_batch(
                run,
                metrics=[Metric(k, float(v), int(t), int(s)) for k, v, t, s in op["metrics"]],
                params=[Param(k, v) for k, v in op["params"]],
                tags=[RunTag(k, v) for k, v in op["tags"]],
            )
        elif kind == "log_text":
            self.client.log_text(run, op["text"], op["path"])
        elif kind == "end_run":
            self.client.set_terminated(run, status=op["status"], end_time=op["end_time"])
        elif kind == "reopen_run":
            self.client.update_run(run, status="RUNNING")
        else:
            raise ValueError(f"unknown spooled MLflow call {kind!r}")
        return None


def replay_ops(tracker: Tracker, spool: Spool) -> int:
    """Replays ``spool``'s pending ops through ``tracker`` until one fails for want of the
    store; returns how many were written. An op MLflow refuses for good (a bad request) is
    logged and skipped, so it cannot hold back the rest."""
    written = 0
    while spool.pending:
        entry = spool.pending[0]
        try:
            run_id = tracker._execute(entry, replay=True)
        except Exception as err:  # noqa: BLE001  (sorted by _unreachable; a bug is logged)
            if _unreachable(err):
                break
            _log.warning("MLflow refused a spooled %s (%s); skipped.", entry["op"], _first_line(err))
            spool.mark_done(entry, error=str(err))
            continue
        spool.mark_done(entry, run_id=run_id if entry["op"] == "create_run" else None)
        written += 1
    return written


def replay_spool(path: str | os.PathLike[str], tracking_uri: str | None = None) -> int:
    """Writes the ops still waiting in the spool file ``path`` to MLflow (the tracking URI it
    was written for, unless ``tracking_uri`` is given), in order and once; deletes the file
    when all are in. Returns the ops still waiting (0: done). For ``sweepforge resume``: call
    it before reading the campaign's runs back.

    Example:
        >>> replay_spool(".sweepforge/spool/a1b2c3d4e5f6.jsonl")   # doctest: +SKIP
        0
    """
    spool = Spool.load(Path(path))
    tracker = Tracker(tracking_uri or spool.tracking_uri, "", retry_every_s=0.0, spooled=spool)
    replay_ops(tracker, spool)
    if not spool.pending:
        spool.path.unlink(missing_ok=True)
    return len(spool.pending)


_TRANSIENT_CODES = {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED",
                    "DEADLINE_EXCEEDED", "ABORTED"}
_LOCKED = ("database is locked", "database table is locked")


def _unreachable(err: BaseException) -> bool:
    """True when ``err`` says the store could not be reached or was busy (worth retrying
    later), False for a request the store refused (a bug to surface)."""
    import requests

    if isinstance(err, (OSError, requests.exceptions.RequestException)):
        return True
    return isinstance(err, MlflowException) and err.error_code in _TRANSIENT_CODES


def _with_lock_retry(fn: Any, *args: Any) -> Any:
    """Calls ``fn``, retrying with backoff (about 30 s in all) while SQLite says the
    database is locked: two campaigns writing one SQLite file take turns."""
    delay = 0.05
    for _ in range(12):
        try:
            return fn(*args)
        except MlflowException as err:
            if not any(text in str(err) for text in _LOCKED):
                raise
            time.sleep(delay + random.uniform(0, delay))
            delay = min(delay * 2, 5.0)
    return fn(*args)


def sqlite_database(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:`` tracking URI, as an absolute path; ``None`` for
    other stores and for an in-memory database.

    Example:
        >>> sqlite_database("sqlite:////data/runs/mlflow.db")
        PosixPath('/data/runs/mlflow.db')
        >>> sqlite_database("http://127.0.0.1:5000") is None
        True
    """
    parsed = urllib.parse.urlparse(tracking_uri)
    if parsed.scheme != "sqlite" or not parsed.path or parsed.path in ("/", "/:memory:"):
        return None
    return Path(tracking_uri[len("sqlite:///"):].split("?", 1)[0]).resolve()


def artifact_location(tracking_uri: str, experiment_name: str) -> str | None:
    """Where a new experiment of a SQLite store keeps its artifacts: ``mlruns/<name>`` beside
    the database file, so the store is one folder wherever the campaign was started (MLflow's
    own default is ``./mlruns`` of the working directory). ``None`` (the store's default) for
    other stores: a tracking server has its own artifact root.

    Example:
        >>> artifact_location("sqlite:////data/runs/mlflow.db", "quickstart")
        'file:///data/runs/mlruns/quickstart'
    """
    db = sqlite_database(tracking_uri)
    if db is None:
        return None
    return (db.parent / "mlruns" / safe_folder_name(experiment_name)).as_uri()


@contextmanager
def _store_setup_lock(tracking_uri: str) -> Iterator[None]:
    """For a SQLite store: one process at a time opens it for the first time. MLflow creates
    (or migrates) the tables on first use, and two campaigns starting together on a fresh
    file both try: the second failed with "table ... already exists". A file lock (in the temp
    folder, named after the database's path) makes the second wait until the first is done.
    Other stores: nothing to do."""
    db = sqlite_database(tracking_uri)
    if db is None:
        yield
        return
    import fcntl

    digest = hashlib.sha1(str(db).encode()).hexdigest()[:16]  # a file name, not security
    with open(Path(tempfile.gettempdir()) / f"sweepforge-store-{digest}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _reachable(tracking_uri: str) -> bool:
    """For a tracking server: does its port accept a connection (a cheap probe before a
    replay, so a server still down costs no HTTP retries)? Other stores: True."""
    parsed = urllib.parse.urlparse(tracking_uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return True
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=2.0):
            return True
    except OSError:
        return False


HTTP_CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}
"""For a tracking server, a failed call gives up after seconds instead of MLflow's default of
minutes (7 retries, doubling waits, 120 s timeout): the spool keeps the write, and the campaign
is not held up. Variables the user has set are left alone."""


def _http_client_defaults(tracking_uri: str) -> None:
    if urllib.parse.urlparse(tracking_uri).scheme in ("http", "https"):
        for name, value in HTTP_CLIENT_DEFAULTS.items():
            os.environ.setdefault(name, value)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def metrics_at(values: Mapping[str, Any], names: Iterable[str], step: int) -> list[Metric]:
    """MLflow metrics for the numeric ``names`` present in ``values``; NaN is kept (MLflow
    stores it) so a diverging trial shows in its curves."""
    stamp = now_ms()
    out = []
    for name in names:
        value = values.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(Metric(name, float(value), stamp, step))
    return out


def config_json(config: Mapping[str, Any]) -> str:
    """The config as JSON (NaN-free: configs hold only finite values)."""
    return json.dumps(dict(config), sort_keys=True)


def _param_text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
    else:
        text = str(value)
    return text[:_MAX_PARAM_LENGTH]

