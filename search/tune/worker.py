"""What runs inside a Ray worker for one trial: build the trainable's config and train.

The worker gives torch exactly as many threads as CPUs the trial reserved, so two trials on two
cores do not oversubscribe, and uses the GPU when Ray assigned one. The master loads and splits
the campaign's dataset once (it checks the campaign against it anyway) and hands it to the
workers through Ray's object store; a worker keeps one writable copy for all its trials (Ray
Tune reuses actors).

Trainables that take ``checkpoint=`` (every bundled one) save their state each epoch; the worker
reports it to Ray Tune with that epoch's metrics (:class:`TuneCheckpointer`), so a trial that Ray
Tune restarts (``max_failures``, a lost node) resumes from ``tune.get_checkpoint()``, and a trial
resubmitted by ``sweepforge resume`` from the checkpoint directory the searcher names.

A worker imports only what its trial needs: torch when the trainable uses it, not scikit-learn
or pandas for data the master has already split. Starting a worker is a fixed cost of every
campaign (see "Orchestration overhead" in BENCHMARKS.md).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweepforge.trainables import Dataset, load_dataset, runtime_tags
from sweepforge.trainables.user_function import (
    FunctionTrainableSpec,
    MetricNotReported,
    trainable_for,
)

from ..schema import FINAL_RESULT_KEY, RUNTIME_TAGS_KEY, is_finite_number

if TYPE_CHECKING:
    from sweepforge.trainables.checkpoint import State

    from ..config import TableSource


def load_campaign_dataset(source: str | TableSource, seed: int) -> Dataset:
    """A campaign's dataset split with ``seed``: registered ``source`` by name, or the table it
    describes (read afresh: the planner sees the file as it is now)."""
    from ..config import TableSource

    if isinstance(source, TableSource):
        from sweepforge.trainables.tables import load_table

        return load_table(
            source.path, target=source.target, categorical=source.categorical,
            task=source.task, seed=seed,
        )
    return load_dataset(source, seed=seed)


_WRITABLE: dict[str, Dataset] = {}


def _writable(data: Dataset, key: str) -> Dataset:
    """``data`` with arrays this process may write to, one copy per worker and ``key`` (the
    campaign's split, named by the master). Arrays that come out of Ray's object store are
    read-only views of shared memory."""
    if not isinstance(data, Dataset):  # the user's own kind of data: theirs to handle
        return data
    if key not in _WRITABLE:
        copies = {
            f.name: value.copy() if hasattr(value, "flags") and not value.flags.writeable else value
            for f in dataclasses.fields(data)
            for value in [getattr(data, f.name)]
        }
        _WRITABLE.clear()  # one campaign's data per worker
        _WRITABLE[key] = dataclasses.replace(data, **copies)
    return _WRITABLE[key]


def _campaign_data(ref: Any, key: str) -> Any:
    """The campaign's data for one trial, fetched from Ray's object store once the user's
    modules can be imported (the data may hold objects of their classes: a torch ``Dataset``).
    A :class:`Dataset` is fetched and copied once per worker (:func:`_writable`); the user's
    own kind of data afresh for each trial, as the master sent it."""
    if key in _WRITABLE:
        return _WRITABLE[key]
    import ray

    return _writable(ray.get(ref), key)


def _import_trainable_module(module: str, root: str | None) -> None:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        if root is None or root in sys.path or not module.startswith(str(err.name)):
            raise
        sys.path.insert(0, root)
        importlib.import_module(module)


def run_trial(
    config: dict[str, Any], *, trainable_name: str, trainable_module: str, data_ref: list[Any],
    seed: int, fixed: dict[str, Any], cpus: float, gpus: float, trainable_root: str | None = None,
    data_roots: tuple[str, ...] = (), data_key: str = "", metric: str = "",
    also_required: tuple[tuple[str, str], ...] = (),
) -> None:
    """Ray Tune function trainable: trains ``config`` and reports every epoch to Tune.

    ``trainable_module`` is imported first (from ``trainable_root`` when the worker cannot find
    it otherwise), so a trainable registered in the user's own module (not only sweepforge's) is
    known in the worker too. ``data_ref`` holds the Ray object of the campaign's data (split by
    the master, or what the user's loader returned), inside a list so that Tune does not fetch
    it before that import: ``data_roots`` (the loader's folder) go on ``sys.path`` too, then it
    is fetched. ``data_key`` names that data (campaign id, dataset, seed): a worker copies a
    :class:`Dataset` once.
    ``metric`` is the campaign's metric: a user's function that returns a single number
    returns it. ``also_required``: (campaign field, metric) of the other objectives and the
    hard limits, which a user's function must report or return by its end too.
    """
    import ray

    from .ray_setup import set_tune_actor_env
    from .searcher import RESUME_FROM, UNSET, searched_config

    set_tune_actor_env()  # what Ray Tune's runtime environment would have set (see _ray_workers)
    threads = max(1, int(cpus))
    if "torch" not in sys.modules:  # torch reads it when imported: a trainable importing it late
        os.environ["OMP_NUM_THREADS"] = str(threads)  # still gets the trial's CPUs
    resume_from = config.get(RESUME_FROM)
    if resume_from == UNSET:  # a PBT trial that resumes nothing (see _population)
        resume_from = None
    config = searched_config(config)
    checkpointer = TuneCheckpointer(resume_from, config=config)
    if trainable_module != "__main__":
        _import_trainable_module(trainable_module, trainable_root)
    for root in data_roots:  # where the loader's classes are, for what it returned
        if root not in sys.path:
            sys.path.append(root)
    # a bundled name, or the user's own function (imported here as in the master)
    spec = trainable_for(trainable_name, metric=metric, knobs=[*fixed, *config])

    device = _device_for(threads, gpus)
    trial_config = spec.make_config({**fixed, **config})
    last_epoch = getattr(trial_config, "epochs", None)  # (a user's function may have none)
    reports = _TrialReports(
        checkpointer, own_function=isinstance(spec, FunctionTrainableSpec), device=device,
        node=ray.get_runtime_context().get_node_id(),
        last_epoch=last_epoch if isinstance(last_epoch, int) else None)
    keeps = {"checkpoint": checkpointer} if spec.supports_checkpoint else {}
    data = _campaign_data(data_ref[0], data_key)
    final = spec.train(trial_config, data, reports.report, device=device, seed=seed, **keeps)
    if reports.own_function:  # a returned "model" is saved with the last report's checkpoint
        from .user_model import take_model

        final, model = take_model(final)
        checkpointer.attach_model(model, data)
        for field, required in (("metric", metric), *also_required):
            reports.check_metric(required, final, spec.name, field=field)
    reports.finish(final)


def _device_for(threads: int, gpus: float) -> str:
    """The trial's device, ``cuda`` when Ray assigned it a GPU; torch, when the trainable
    imported it (or a GPU needs it), gets ``threads`` threads."""
    torch = sys.modules.get("torch")
    if torch is None and gpus > 0:
        import torch
    if torch is not None:
        torch.set_num_threads(threads)
    device = "cuda" if gpus > 0 and torch is not None and torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    return device


class _TrialReports:
    """What one trial reports to Ray Tune: each epoch's metrics through ``checkpointer`` (with
    the runtime facts and the node), then, when the trainable returns, what it returned.

    A user's function returns its final metrics (test scores) after its last report. That
    report is held until it returns and goes with them: sent at once, a scheduler stopping
    trials at max_epochs (ASHA) or Tune's end of the trial would cut the function off first.
    """

    def __init__(self, checkpointer: TuneCheckpointer, *, own_function: bool, device: str,
                 node: str, last_epoch: int | None):
        self.checkpointer = checkpointer
        self.own_function = own_function
        self.device = device
        self.node = node
        self.last_epoch = last_epoch
        self.reported: list[dict[str, Any]] = []
        self.held: list[dict[str, Any]] = []  # a user's function's last report
        self._facts: dict[str, Any] = {}

    def where(self) -> dict[str, Any]:
        """Runtime facts (the device, and what the trainables add once training has started)
        become tags of the trial's run, read at its first report; the node joins the list of
        nodes it ran on."""
        if not self._facts:
            self._facts.update(device=self.device, **runtime_tags(self.device))
        return {RUNTIME_TAGS_KEY: self._facts, "node": self.node}

    def report(self, metrics: dict[str, float]) -> None:
        """The trainable's ``report``: one epoch's metrics."""
        extra = self.where()
        if self.device == "cuda":  # evidence, from inside the trial, that it trained on the GPU
            import torch

            extra["gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
        if self.last_epoch is not None and metrics.get("epoch") == self.last_epoch:
            # The last epoch: Ray Tune ends the trial on this result and hands its worker the
            # next trial. Otherwise it waits for the function to return, one more round trip
            # between master and worker per trial (BENCHMARKS.md, "Orchestration overhead").
            extra["done"] = True
        self.reported.append(metrics)
        if self.own_function and extra.get("done"):
            self.held.append({**metrics, **extra})
        else:
            self.checkpointer.report({**metrics, **extra})

    def check_metric(self, metric: str, final: Any, name: str, *, field: str = "metric") -> None:
        """A user's function reported or returned ``metric``, which the campaign's ``field``
        (``metric``, ``objectives``, ``constraints``) names."""
        results = [*self.reported, final or {}]
        if metric and not any(metric in each for each in results):
            seen = sorted({key for each in results for key in each})
            where = "" if field == "metric" else f"{field}: "
            raise MetricNotReported(
                f"{where}metric {metric!r} was never reported by {name}; it reported: "
                f"{', '.join(seen) or 'nothing'} (check the campaign's {field}: or what the "
                "function reports and returns)")

    def finish(self, final: Any) -> None:
        """What the trainable returned (``final``), reported where it adds to the epochs'."""
        if self.held:  # the last epoch's report, with what the function returned
            last = self.held[-1]
            self.checkpointer.report({**last, **(final if isinstance(final, dict) else {}),
                                      "epoch": last["epoch"]})
            return
        if not isinstance(final, dict) or not final:
            return
        if not self.reported:
            # restored from a checkpoint of its last epoch (nothing left to train), or a
            # function that returns its one result: say how it ended
            self.checkpointer.report({**final, **self.where()})
        elif self.own_function and any(self.reported[-1].get(key) != value
                                       for key, value in final.items()):
            # the returned metrics complete the last epoch's (same epoch: not logged twice)
            last = self.reported[-1]
            self.checkpointer.report({**last, **final, "epoch": last.get("epoch", len(self.reported)),
                                      FINAL_RESULT_KEY: True, **self.where()})


_CHECKPOINT_PREFIX = "sweepforge-checkpoint-"
"""A report's checkpoint is written to a temporary folder named ``<prefix><pid>-...`` that
Ray Tune copies from. A worker killed meanwhile (Ctrl-C, SIGTERM or a kill of the campaign
ends its trials' actors at once) cannot remove it, so the next worker on the machine does."""

def _sweep_checkpoint_folders_of_dead_workers(folder: str | os.PathLike[str]) -> list[Path]:
    """Removes the checkpoint folders in ``folder`` whose worker process has ended; returns
    them."""
    removed = []
    for path in Path(folder).glob(f"{_CHECKPOINT_PREFIX}*-*"):
        pid = path.name[len(_CHECKPOINT_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@functools.cache
def _sweep_once() -> None:
    """The sweep of the temporary folder, once per worker process (at its first checkpoint)."""
    _sweep_checkpoint_folders_of_dead_workers(tempfile.gettempdir())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # (signal 0: only asks whether the process exists)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


CLONE_KEY = "sweepforge_clone"
"""Result key of the first report of a trial that PBT cloned from another: JSON with the Ray
trial id it was cloned from (``from``), that trial's epoch (``epoch``) and the values that
changed (``changed``: name -> [before, after]). The MLflow callback records it as lineage."""

_ORIGIN_FILE = "sweepforge-origin.json"


def _read_origin(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """What a checkpoint folder's origin file says (the trial that wrote it, its epoch and
    config; see :meth:`TuneCheckpointer.report`); empty when there is none or it cannot be
    read (cut off mid-write)."""
    try:
        origin = json.loads((Path(folder) / _ORIGIN_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return origin if isinstance(origin, dict) else {}


@dataclasses.dataclass(frozen=True)
class CheckpointOrigin:
    """What a trial cut off by a kill needs from its newest checkpoint, read once from the
    checkpoint's origin file: the epoch it was written after (0: none, or not recorded; the
    trial goes on with the next), the config it trained with, and its curve so far."""

    epoch: int = 0
    config: dict[str, Any] | None = None
    curve: tuple[tuple[int, dict[str, Any]], ...] = ()

    @classmethod
    def of(cls, checkpoint: str | os.PathLike[str] | None) -> CheckpointOrigin:
        origin = _read_origin(checkpoint) if checkpoint else {}
        epoch, config, curve = origin.get("epoch"), origin.get("config"), origin.get("curve")
        return cls(
            epoch if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch > 0 else 0,
            config if isinstance(config, dict) else None,
            tuple((point[0], point[1]) for point in curve if isinstance(point, list)
                  and len(point) == 2 and isinstance(point[0], int) and isinstance(point[1], dict))
            if isinstance(curve, list) else ())

    def values(self, metric: str) -> list[tuple[int, float]]:
        """(epoch, ``metric``) after each epoch the trial reported up to the checkpoint; empty
        for a checkpoint that records no curve (written by an older version)."""
        return [(epoch, float(metrics[metric])) for epoch, metrics in self.curve
                if is_finite_number(metrics.get(metric))]

    def config_for(self, proposed: dict[str, Any]) -> dict[str, Any]:
        """The config the trial was training with: ``proposed`` (what its strategy asked), with
        the values PBT had changed since; ``proposed`` when the checkpoint records no config. A
        trial resumed by ``sweepforge resume`` goes on with it."""
        if self.config is None:
            return dict(proposed)
        # the values that differ from the proposal as JSON wrote it (a tuple read back as a
        # list, or a value written as text, is the proposal's own)
        as_written = json.loads(json.dumps(proposed, default=str))
        return {**proposed, **{name: value for name, value in self.config.items()
                               if name in proposed and value != as_written[name]}}


class TuneCheckpointer:
    """A :class:`~sweepforge.trainables.Checkpointer` over Ray Tune: each epoch's state goes to
    Tune with that epoch's report; :meth:`load` reads ``tune.get_checkpoint()`` (Tune restarted
    the trial, or PBT cloned another trial into it) or else ``resume_from`` (a checkpoint
    directory of an earlier attempt).

    Each checkpoint also holds which trial wrote it, at which epoch, with which config: loading
    another trial's checkpoint means PBT cloned it, and the next report says so (:data:`CLONE_KEY`).
    A checkpoint that cannot be read (cut off mid-copy by a crash) means starting afresh.
    """

    def __init__(self, resume_from: str | None = None, config: dict[str, Any] | None = None):
        self.resume_from = resume_from
        self.config = dict(config or {})
        self._state: State | None = None
        self._model: tuple[Any, Any] | None = None  # (a user's returned model, its data)
        self._clone: dict[str, Any] | None = None
        # [epoch, {metric: value}] of every epoch reported, the ones before a restore included:
        # each checkpoint holds it, so a resume knows what MLflow had not been sent yet
        self._curve: list[list[Any]] = []

    def load(self) -> State | None:
        from ray import tune

        from sweepforge.trainables.checkpoint import CHECKPOINT_FILE, load_state_file

        checkpoint = tune.get_checkpoint()
        from_tune = checkpoint is not None  # (resume_from is this trial's own, by an old id)
        if checkpoint is None and self.resume_from:
            checkpoint = tune.Checkpoint(self.resume_from)
        if checkpoint is None:
            return None
        try:
            with checkpoint.as_directory() as folder:
                origin = _read_origin(folder)
                if not from_tune or not self._note_clone(origin):  # its own checkpoint
                    self._curve = [point for point in origin.get("curve") or ()
                                   if isinstance(point, list) and len(point) == 2]
                return load_state_file(Path(folder) / CHECKPOINT_FILE)
        except (OSError, ValueError, RuntimeError, EOFError) as err:
            print(f"sweepforge: checkpoint {checkpoint.path} unreadable ({err}); starting afresh")
            return None

    def save(self, state: State) -> None:
        self._state = state  # goes to Tune with the report that follows

    def attach_model(self, model: Any, data: Any) -> None:
        """A user's function returned ``model``: it goes into the checkpoint of the report
        that follows, saved with MLflow's flavour (:mod:`.user_model`)."""
        self._model = (model, data) if model is not None else None

    def report(self, metrics: dict[str, Any]) -> None:
        from ray import tune

        epoch = metrics.get("epoch")
        if isinstance(epoch, int) and not metrics.get(FINAL_RESULT_KEY):
            self._curve = [point for point in self._curve if point[0] < epoch]
            self._curve.append([epoch, {name: float(value) for name, value in metrics.items()
                                        if is_finite_number(value)}])
        if self._clone is not None:
            metrics = {**metrics, CLONE_KEY: json.dumps(self._clone, default=str)}
            self._clone = None
        model, self._model = self._model, None
        if self._state is None and model is None:  # (no torch import: 2-3 s for a trainable
            tune.report(metrics)                   # that does not use it)
            return
        _sweep_once()
        with tempfile.TemporaryDirectory(prefix=f"{_CHECKPOINT_PREFIX}{os.getpid()}-") as folder:
            if model is not None:
                from .user_model import save_user_model

                save_user_model(*model, Path(folder))
            if self._state is not None:
                import torch

                from sweepforge.trainables.checkpoint import CHECKPOINT_FILE

                torch.save(self._state, Path(folder) / CHECKPOINT_FILE)
            origin = {"trial": tune.get_context().get_trial_id(), "epoch": metrics.get("epoch"),
                      "config": self.config, "curve": self._curve}
            (Path(folder) / _ORIGIN_FILE).write_text(json.dumps(origin, default=str))
            self._state = None
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))  # copied now

    def _note_clone(self, origin: dict[str, Any]) -> bool:
        """Remembers a clone when the checkpoint (its ``origin``) was written by another trial
        (PBT's exploit); says whether it was."""
        from ray import tune

        if origin.get("trial") in (None, tune.get_context().get_trial_id()):
            return False
        before = origin.get("config") or {}
        changed = {k: [before.get(k), v] for k, v in self.config.items() if before.get(k) != v}
        self._clone = {"from": origin["trial"], "epoch": origin.get("epoch"), "changed": changed}
        return True
