"""The campaign's Ray: started or joined (:func:`ray_session`), checked, watched; and trial
actors that start in Ray's idle worker processes instead of new ones.

:func:`ray_session` starts a Ray of the campaign's own (never the machine's "current
cluster") or joins ``--address`` with a clear error when that fails; refuses a trial no node
can hold (:func:`check_trials_fit`); turns SIGTERM into a Ctrl-C-like stop; and watches the
local Ray's raylet and GCS processes, so a Ray that dies ends the runs KILLED.

Ray keeps a few worker processes idle, started with Ray and with ``ray`` imported, and a new
actor takes one of them unless it asks for a runtime environment of its own; then Ray starts a
new process for it. Ray Tune gives every trial actor one: the environment variables in
``ray.tune.execution.class_cache.DEFAULT_ENV_VARS`` (``PL_DISABLE_FORK=1``, for PyTorch
Lightning, ray-project/ray#28197). So the first trials of every Tune run waited about 1.2 s for
new processes (BENCHMARKS.md, "Orchestration overhead").

Inside a campaign's Tune runs :func:`trial_actors_on_idle_workers` leaves those variables out of
the actors' runtime environment, and the trial sets them itself (:func:`set_tune_actor_env`, in
the worker), so the trainable sees the same environment. When sweepforge starts Ray itself,
:data:`PRELOAD_MODULES` are imported by the idle workers as they start (Ray's
``preload_python_modules``), so a trial actor does not import Ray Tune first (0.6 s).

Example:
    >>> with trial_actors_on_idle_workers():  # doctest: +SKIP
    ...     tune.Tuner(trainable, tune_config=...).fit()
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import CampaignError
from ._compat import local_ray_processes, preload_options, raised_by_runtime_env, tune_actor_env
from .interrupt import report_ray_lost, sigterm_as_interrupt

if TYPE_CHECKING:
    from sweepforge.trainables.user_code import CodeFolder

    from ..config import CampaignConfig

PRELOAD_MODULES = ("ray.tune", "sweepforge.search.tune.worker")
"""Modules Ray's idle workers import as they start, when sweepforge starts Ray: what a trial
actor needs before it can run (Ray Tune alone takes 0.6 s to import)."""


def local_ray_options() -> dict[str, Any]:
    """Options for ``ray.init`` when sweepforge starts a local Ray: its idle workers import
    :data:`PRELOAD_MODULES` as they start."""
    return preload_options(PRELOAD_MODULES)


_lock = threading.Lock()
_users = 0  # campaigns of this process inside trial_actors_on_idle_workers()
_saved: dict[str, str] = {}

@contextmanager
def trial_actors_on_idle_workers() -> Iterator[None]:
    """While inside, Ray Tune creates trial actors without its default environment variables.

    Safe for several campaigns at once in one process: the first one in empties Tune's dict,
    the last one out puts it back."""
    global _users
    defaults = tune_actor_env()
    if defaults is None:
        yield
        return
    with _lock:
        if _users == 0:
            _saved.clear()
            _saved.update(defaults)
            defaults.clear()
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                defaults.update(_saved)


def set_tune_actor_env() -> None:
    """In a trial's worker: the environment variables Ray Tune would have given its actor (a
    variable already set is kept)."""
    for name, value in (tune_actor_env() or {}).items():
        os.environ.setdefault(name, value)


def concurrency(config: CampaignConfig, available: Mapping[str, float] | None = None) -> int:
    """Trials at once: `max_concurrent_trials`, else as many as the cluster's CPUs (and GPUs)
    hold; ``available`` is the cluster's resources (``ray.cluster_resources()`` when not given)."""
    if config.max_concurrent_trials:
        return config.max_concurrent_trials
    if available is None:
        import ray

        available = ray.cluster_resources()
    fits = int(available.get("CPU", 1) // config.resources.cpu)
    if config.resources.gpu > 0:
        fits = min(fits, int(available.get("GPU", 0) // config.resources.gpu))
    return max(1, fits)


@contextmanager
def ray_session(address: str | None, config: CampaignConfig, *, code: CodeFolder | None = None,
                keep_out: Sequence[str | os.PathLike[str]] = ()) -> Iterator[None]:
    """Uses a running Ray, joins ``address``, or starts a local Ray for the campaign's length.

    Without ``address`` the campaign starts its own Ray (``address="local"``), whatever other
    Ray runs on the machine. Joining ``address``, the user's ``code`` folder goes to the
    cluster's workers as the job's ``working_dir`` (:func:`shipping_env`), less ``keep_out``
    (the campaign's state folder). Before anything is yielded, the trial's resources are
    checked against the cluster's nodes (:func:`check_trials_fit`), and SIGTERM ends the
    campaign the way Ctrl-C does (:func:`.interrupt.sigterm_as_interrupt`).

    Raises:
        CampaignError: ``address`` cannot be joined, ``code`` cannot be sent to it, or no node
            can hold one trial.
    """
    import logging

    import ray

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Ctrl-C must reach sweepforge as KeyboardInterrupt: Ray Tune's own handler would end the
    # run quietly and the campaign would look finished with trials missing.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    # Tune's result files are off (TUNE_DISABLE_AUTO_CALLBACK_LOGGERS); its end-of-run analysis
    # would warn that it cannot read them. sweepforge reads results from its own callback.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                               "log_to_driver": False, "configure_logging": True}
    started = False
    if not ray.is_initialized():
        if address is None:
            # a new local Ray, never the machine's "current cluster" (`ray start --head`, or a
            # stale ray_current_cluster file); its idle workers import what a trial actor needs
            ray.init(address="local", **options, **local_ray_options())
        else:
            if code is not None:
                options["runtime_env"] = shipping_env(code, keep_out)
            join_cluster(address, **options)
        started = True
    try:
        # (after ray.init: Ray's own SIGTERM handler would kill the local Ray under the trials)
        with sigterm_as_interrupt(), _watch_local_ray(started and address is None):
            check_trials_fit(config)
            yield
    finally:
        if started:
            ray.shutdown()


@contextmanager
def _watch_local_ray(enabled: bool, period_s: float = 0.2) -> Iterator[None]:
    """While inside, a thread watches the raylet and GCS server of the Ray this process
    started; when one dies, the campaign stops as on SIGTERM and raises
    :class:`.interrupt.RayLost`. Without it, Ray's core worker ends the whole process about
    10 s later (exit 1), with trial runs left RUNNING in MLflow."""
    processes = local_ray_processes() if enabled else {}
    if not processes or threading.current_thread() is not threading.main_thread():
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(period_s):
            for kind, process in processes.items():
                code = process.poll()
                if code is not None and not done.is_set():
                    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
                    report_ray_lost(f"the campaign's Ray went away: its {kind} process "
                                    f"(pid {process.pid}) ended ({how})")
                    return

    watcher = threading.Thread(target=watch, name="sweepforge-ray-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()  # before ray.shutdown() ends those processes on purpose
        watcher.join(timeout=2 * period_s)


SHIPPING_EXCLUDES = (".sweepforge", "mlruns", "mlflow.db")
"""What sweepforge leaves out of a user's code folder sent to a cluster, besides what Ray
leaves out itself (``.git``, ``.venv``, ``venv``, ``__pycache__``, and what the folder's
``.gitignore`` and ``.rayignore`` list): the campaign state and MLflow stores that a campaign
run from that folder writes there by default."""


def shipping_env(code: CodeFolder, keep_out: Sequence[str | os.PathLike[str]] = ()) -> dict[str, Any]:
    """The job's Ray ``runtime_env`` that sends the user's code folder to every worker of a
    cluster: Ray zips ``code.folder`` once, each node unpacks it, and the workers start in it
    with it on ``sys.path``, so they import the user's module by its name
    (``code.reference``). ``keep_out`` are folders inside it not to send."""
    folder = Path(code.folder).resolve()
    excludes = list(SHIPPING_EXCLUDES)
    for path in keep_out:
        inside = Path(path).resolve()
        if folder in inside.parents:
            excludes.append(f"/{inside.relative_to(folder).as_posix()}")
    return {"working_dir": str(folder), "excludes": excludes}


def join_cluster(address: str, **options: Any) -> None:
    """``ray.init(address=...)``, with a clear :class:`CampaignError` that names ``address``
    and the likely cause when the cluster cannot be joined (nothing listening there, or a
    cluster that wants Ray's authentication token). Nothing else has started by then."""
    import ray

    endpoint = _host_port(address)
    if endpoint is not None:  # nothing listening: fail at once (ray.init waits minutes)
        try:
            socket.create_connection(endpoint, timeout=5).close()
        except OSError as err:
            raise CampaignError(
                f"cannot join the Ray cluster at {address}: nothing answers there "
                f"({err.strerror or err}). Is its head running (`ray start --head --port "
                f"{endpoint[1]}` on that machine), and are the host and port right and open "
                "from here?"
            ) from None
    try:
        ray.init(address=address, **options)
    except Exception as err:  # noqa: BLE001  (Ray raises ConnectionError, RuntimeError, AuthenticationError...)
        ray.shutdown()
        shipped = options.get("runtime_env", {}).get("working_dir")
        if shipped and raised_by_runtime_env(err):
            raise CampaignError(_shipping_failure(address, shipped, err)) from None
        raise CampaignError(_join_failure(address, err)) from None


def _shipping_failure(address: str, folder: str, err: Exception) -> str:
    """Why the user's code folder could not be sent to the cluster, and what to do."""
    said = " ".join(str(err).split()) or type(err).__name__
    return (f"trainable: cannot send your code's folder {folder} to the Ray cluster at "
            f"{address}: {said}. Ray sends the whole folder (README, \"Search your own model\"): "
            "keep large data out of it, or list it in a .rayignore (or .gitignore) file there, "
            "and have your loader return a path that your function reads on the worker.")


def _join_failure(address: str, err: Exception) -> str:
    """Why joining ``address`` most likely failed, and what to do."""
    token_mode = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
    said = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if token_mode:
        cause = ("this process runs with RAY_AUTH_MODE=token: check that its token "
                 "($RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token) is the cluster's "
                 "(the head's ~/.ray/auth_token), and that the Ray versions match")
    else:
        cause = ("most likely the cluster uses Ray's token authentication (`ray start --head` "
                 "turns it on) and this process does not: run with RAY_AUTH_MODE=token and the "
                 "head's token (its ~/.ray/auth_token, copied here, or $RAY_AUTH_TOKEN); see "
                 "README, \"Scaling out\"")
    return f"cannot join the Ray cluster at {address}: it answers but refused us; {cause}. (Ray: {said})"


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port`` or ``ray://host:port``; None for ``auto`` and the like."""
    rest = address.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_trials_fit(config: CampaignConfig) -> None:
    """Refuses a per-trial request that no node of the cluster can ever hold (Ray would wait
    for it forever), naming what the cluster's largest node has. A trial runs on one node, so
    the nodes are checked one by one, not the cluster's total.

    Raises:
        CampaignError: no live node has the CPUs and GPUs one trial asks for.
    """
    import ray

    cpu, gpu = float(config.resources.cpu), float(config.resources.gpu)
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    if any(node.get("CPU", 0.0) >= cpu and node.get("GPU", 0.0) >= gpu for node in nodes):
        return
    total_gpus = sum(node.get("GPU", 0.0) for node in nodes)
    if gpu > 0 and total_gpus < gpu:  # no GPU anywhere
        raise CampaignError(
            f"resources.gpu: each trial asks for {gpu:g} GPU(s) but the Ray cluster has "
            f"{total_gpus:g}. Use `resources: {{gpu: 0}}` to run on the CPU."
        )
    largest = max(nodes, key=lambda node: (node.get("CPU", 0.0), node.get("GPU", 0.0)),
                  default={})
    has_cpu, has_gpu = largest.get("CPU", 0.0), largest.get("GPU", 0.0)
    asked = f"{cpu:g} CPU(s)" + (f", {gpu:g} GPU(s)" if gpu else "")
    raise CampaignError(
        f"resources: each trial asks for {asked}, but no node of the Ray cluster can hold "
        f"that, and a trial runs on one node: the largest of its {len(nodes)} node(s) has "
        f"{has_cpu:g} CPU(s), {has_gpu:g} GPU(s). Ask for at most that per trial, e.g. "
        f"`resources: {{cpu: {has_cpu:g}, gpu: {has_gpu:g}}}`."
    )
