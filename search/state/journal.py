"""The campaign journal: an append-only JSON-lines file of every ask and tell, in order.

A campaign writes one journal in its folder (``.sweepforge/campaigns/<name>/<campaign id>/``).
A killed master leaves it behind; ``sweepforge resume`` rebuilds every strategy from its seed
and **replays** the journal's asks and tells, in order. Strategies are deterministic for a seed
and a sequence of asks and tells, so the replay gives back the exact state (Optuna study, DEAP
population and RNG, grid position, random RNG) without any pickle. Each replayed ask must give
the config the journal holds; if one does not (an edited journal, another version of a
strategy's library), the resume is refused: nothing in the file is ever executed, and a file
that is not the journal it claims to be cannot steer a campaign.

Lines, each one JSON object::

    {"type": "header", "format": 1, "campaign_id": "...", "name": "...", "config": {...}, ...}
    {"type": "session", "n": 1, "started": 1718000000.0}
    {"type": "ask", "strategy": "optuna", "trial": 0, "config": {...}, "tune_id": "...", "session": 1}
    {"type": "resubmit", "strategy": "optuna", "trial": 0, "tune_id": "...", "session": 2}
    {"type": "tell", "strategy": "optuna", "trial": 0, "state": "COMPLETE", "value": 0.93}
    {"type": "tell", ..., "value": 0.93, "values": [0.93, 52000], "constraints": [-48000]}
    {"type": "tell", ..., "state": "PRUNED", "value": 0.81, "step": 3, "curve": [[1, 0.7], [2, 0.78], [3, 0.81]]}
    {"type": "end", "status": "FINISHED"}

(the second tell: a campaign with several ``objectives`` and ``constraints``; the third: the
metric after each epoch, ``TrialResult.curve``, which multi-fidelity strategies learn from.)

Every line is written whole and flushed to the OS at once (a killed process loses nothing);
``fsync`` runs at most every :data:`FSYNC_EVERY_S` and on session and end lines, so a machine
crash loses at most that much, which the resume recovers from MLflow. A line cut off by a crash
(the file's last, without its newline) is dropped on reading. The master holds an exclusive
``flock`` on the journal while it runs (the OS drops it when the process dies), so a second
master cannot resume a campaign that is still running.

Example:
    >>> import tempfile
    >>> from sweepforge.spaces import Space
    >>> from sweepforge.search.strategies.registry import make_strategy
    >>> space = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    >>> folder = tempfile.mkdtemp()
    >>> journal = Journal.create(folder, campaign_id="c1", name="demo", config={}, strategies=["random"])
    >>> first = make_strategy("random", space, budget=3, seed=0, mode="max")
    >>> spec = first.ask()
    >>> journal.ask("random", spec.trial_id, spec.config)
    >>> journal.close()
    >>> header, events = read_journal(folder)
    >>> again = {"random": make_strategy("random", space, budget=3, seed=0, mode="max")}
    >>> list(replay(events, again))   # trial 0 was asked and never told: it is in flight
    [('random', 0)]
"""

from __future__ import annotations

import json
import math
import os
import time

try:
    import fcntl
except ImportError:  # not on POSIX: no lock, the journal works the same
    fcntl = None  # type: ignore[assignment]
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import CampaignError
from ..strategies.base import Strategy, StrategyError, TrialResult, TrialState

Defer = Callable[[Callable[[], None]], None]
"""Runs a journal write once the MLflow writes queued before it are made (``Tracker.in_order``)."""

JOURNAL_FILE = "journal.jsonl"
FORMAT = 1
FSYNC_EVERY_S = 0.5
_STATES = {state.value for state in TrialState}


class JournalError(CampaignError):
    """The journal cannot be resumed from: unreadable, malformed, or not what the strategies
    replay to. The message names the file, the line and what was wrong."""


@dataclass(frozen=True)
class Header:
    """The journal's first line: which campaign, with which settings."""

    campaign_id: str
    name: str
    config: dict[str, Any]
    strategies: list[str]
    tracking_uri: str
    created: float


@dataclass(frozen=True)
class Ask:
    strategy: str
    trial: int
    config: dict[str, Any]
    tune_id: str
    session: int


@dataclass(frozen=True)
class Resubmit:
    """A trial asked before a kill, submitted again (same config, same trial id) on resume."""

    strategy: str
    trial: int
    tune_id: str
    session: int


@dataclass(frozen=True)
class Tell:
    strategy: str
    trial: int
    state: str
    value: float | None
    step: int | None = None
    values: tuple[float | None, ...] | None = None
    constraints: tuple[float, ...] = ()
    curve: tuple[tuple[int, float], ...] = ()

    @property
    def result(self) -> TrialResult:
        """What the strategy was told."""
        return TrialResult(self.value, TrialState(self.state), self.step, self.values,
                           self.constraints, self.curve)


@dataclass(frozen=True)
class Session:
    n: int
    started: float


@dataclass(frozen=True)
class End:
    status: str


Event = Ask | Resubmit | Tell | Session | End


@dataclass
class InFlight:
    """A trial asked but never told: its config and where Ray Tune ran it (``(session, tune
    id)``, latest last), to find its last checkpoint."""

    config: dict[str, Any]
    placements: list[tuple[int, str]] = field(default_factory=list)


class Journal:
    """Appends journal lines to ``<folder>/journal.jsonl``. Use :meth:`create` or :meth:`reopen`."""

    def __init__(self, path: Path, *, defer: Defer | None = None):
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        if not _try_lock(self._file):
            self._file.close()
            raise JournalError(
                f"the campaign of {path.parent} is running in another process (its journal is "
                "locked); stop that one first, or let it finish."
            )
        self._synced_at = time.monotonic()
        self._defer = defer
        """A campaign passes its MLflow writer's ``in_order``: lines are then written after
        the MLflow writes queued before them, so a tell is journaled only once MLflow has the
        trial (see :meth:`~..tracking.tracker.Tracker.in_order`)."""

    @classmethod
    def create(
        cls, folder: str | os.PathLike[str], *, campaign_id: str, name: str, config: dict[str, Any],
        strategies: list[str], tracking_uri: str = "",
        defer: Defer | None = None,
    ) -> Journal:
        """A new journal with its header; refuses to overwrite one."""
        path = Path(folder) / JOURNAL_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as new:  # "x": never over an existing journal
            new.write(_line({
                "type": "header", "format": FORMAT, "campaign_id": campaign_id, "name": name,
                "config": config, "strategies": list(strategies), "tracking_uri": tracking_uri,
                "created": time.time(),
            }))
            new.flush()
            os.fsync(new.fileno())
        return cls(path, defer=defer)

    @classmethod
    def reopen(
        cls, folder: str | os.PathLike[str], *,
        defer: Defer | None = None,
    ) -> Journal:
        """The journal of ``folder``, for appending; a line cut off by a crash is removed first."""
        path = Path(folder) / JOURNAL_FILE
        journal = cls(path, defer=defer)  # locked first: never cut a running master's line
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            os.truncate(path, end)
        return journal

    def session(self, n: int) -> None:
        self._append({"type": "session", "n": n, "started": time.time()}, sync=True)

    def ask(self, strategy: str, trial: int, config: Mapping[str, Any], tune_id: str = "",
            session: int = 1) -> None:
        self._append({"type": "ask", "strategy": strategy, "trial": trial, "config": dict(config),
                      "tune_id": tune_id, "session": session})

    def resubmit(self, strategy: str, trial: int, tune_id: str, session: int) -> None:
        self._append({"type": "resubmit", "strategy": strategy, "trial": trial, "tune_id": tune_id,
                      "session": session})

    def tell(self, strategy: str, trial: int, result: TrialResult) -> None:
        value = result.value
        record = {"type": "tell", "strategy": strategy, "trial": trial,
                  "state": result.state.value, "value": None if value is None else float(value)}
        if result.step is not None:
            record["step"] = int(result.step)
        if result.values is not None:
            record["values"] = [_number_or_none(v) for v in result.values]
        if result.constraints:
            record["constraints"] = [_number_or_none(c) for c in result.constraints]
        if result.curve:
            record["curve"] = [[int(epoch), float(value)] for epoch, value in result.curve]
        self._append(record)

    def end(self, status: str) -> None:
        self._append({"type": "end", "status": status}, sync=True)

    def close(self) -> None:
        if not self._file.closed:
            self._sync()
            self._file.close()

    def _append(self, record: dict[str, Any], sync: bool = False) -> None:
        if self._defer is not None:
            self._defer(lambda: self._write(record, sync))
        else:
            self._write(record, sync)

    def _write(self, record: dict[str, Any], sync: bool) -> None:
        self._file.write(_line(record))
        self._file.flush()  # in the OS now: a killed process loses nothing
        if sync or time.monotonic() - self._synced_at > FSYNC_EVERY_S:
            self._sync()

    def _sync(self) -> None:
        os.fsync(self._file.fileno())
        self._synced_at = time.monotonic()


def is_running(folder: str | os.PathLike[str]) -> bool:
    """True while a master holds the journal of ``folder`` (the campaign is running)."""
    path = Path(folder) / JOURNAL_FILE
    try:
        with path.open("a", encoding="utf-8") as probe:
            return not _try_lock(probe)  # closing the probe lets the lock go again
    except OSError:
        return False


def _try_lock(file: Any) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def read_journal(folder: str | os.PathLike[str]) -> tuple[Header, list[Event]]:
    """The header and events of the journal in ``folder``, every line checked.

    Raises:
        JournalError: no journal, a line that is not JSON or not a known record with the
            right fields and types.
    """
    path = Path(folder) / JOURNAL_FILE
    try:
        data = path.read_bytes()
    except OSError as err:
        raise JournalError(f"cannot read the campaign journal {path}: {err.strerror or err}.") from None
    lines = data.split(b"\n")
    if lines and lines[-1]:
        lines = lines[:-1]  # the last line has no newline: cut off by a crash mid-write
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise JournalError(f"the campaign journal {path} is empty.")
    header = _header(path, _parse(path, 1, lines[0]))
    events = [_event(path, number, _parse(path, number, line))
              for number, line in enumerate(lines[1:], start=2)]
    return header, events


def replay(events: list[Event], strategies: Mapping[str, Strategy]) -> dict[tuple[str, int], InFlight]:
    """Replays the asks and tells of ``events`` into freshly built ``strategies`` (same seeds
    and options as the journaled campaign); returns the trials asked but never told.

    Raises:
        JournalError: an event names a strategy that is not there, a replayed ask does not give
            the journaled trial id and config, or a tell does not fit (never asked, told twice).
    """
    in_flight: dict[tuple[str, int], InFlight] = {}
    for number, event in enumerate(events, start=2):
        if isinstance(event, (Session, End)):
            continue
        strategy = strategies.get(event.strategy)
        if strategy is None:
            raise JournalError(
                f"journal line {number}: strategy {event.strategy!r} is not in the campaign "
                f"(it has: {', '.join(strategies)}); refusing to resume."
            )
        key = (event.strategy, event.trial)
        if isinstance(event, Ask):
            spec = strategy.ask()
            got = None if spec is None else (spec.trial_id, canonical(spec.config))
            if got != (event.trial, canonical(event.config)):
                raise JournalError(
                    f"journal line {number}: strategy {event.strategy!r} replays trial "
                    f"{event.trial} as {got and got[1] or 'nothing'}, but the journal holds "
                    f"{canonical(event.config)}. The journal was edited, or a library the strategy "
                    "uses changed version; refusing to resume. Start the campaign anew with "
                    "`sweepforge run FILE --new`."
                )
            in_flight[key] = InFlight(event.config, [(event.session, event.tune_id)])
        elif isinstance(event, Resubmit):
            if key not in in_flight:
                raise JournalError(
                    f"journal line {number}: trial {event.trial} of strategy {event.strategy!r} "
                    "is resubmitted but is not in flight; refusing to resume."
                )
            in_flight[key].placements.append((event.session, event.tune_id))
        else:  # Tell
            try:
                strategy.tell(event.trial, event.result)
            except StrategyError as err:
                raise JournalError(
                    f"journal line {number}: strategy {event.strategy!r}: {err} Refusing to resume."
                ) from None
            in_flight.pop(key, None)
    return in_flight


def canonical(config: Mapping[str, Any]) -> str:
    """A config as sorted JSON: two configs are the same trial exactly when these are equal."""
    return json.dumps(dict(config), sort_keys=True, default=_plain)


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, default=_plain, separators=(",", ":")) + "\n"


def _plain(value: Any) -> Any:
    """numpy scalars (and anything else with ``.item()``) as Python numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _parse(path: Path, number: int, line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JournalError(f"{path} line {number} is not JSON ({err}); refusing to resume.") from None
    if not isinstance(record, dict):
        raise JournalError(f"{path} line {number} is not a JSON object; refusing to resume.")
    return record


_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "header": {"format": (int,), "campaign_id": (str,), "name": (str,), "config": (dict,),
               "strategies": (list,), "tracking_uri": (str,), "created": (float, int)},
    "session": {"n": (int,), "started": (float, int)},
    "ask": {"strategy": (str,), "trial": (int,), "config": (dict,), "tune_id": (str,),
            "session": (int,)},
    "resubmit": {"strategy": (str,), "trial": (int,), "tune_id": (str,), "session": (int,)},
    "tell": {"strategy": (str,), "trial": (int,), "state": (str,), "value": (float, int, type(None))},
    "end": {"status": (str,)},
}
_OPTIONAL: dict[str, dict[str, tuple[type, ...]]] = {
    "tell": {"step": (int, type(None)), "values": (list,), "constraints": (list,),
             "curve": (list,)}}


def _number_or_none(value: Any) -> float | None:
    """A JSON-safe number: ``None`` for a missing, NaN or infinite one (JSON has no NaN; a
    trial with one is FAILED or infeasible either way)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _is_point(point: Any) -> bool:
    """An ``[epoch, value]`` pair of a journaled curve: an int and a finite number."""
    return (isinstance(point, list) and len(point) == 2
            and isinstance(point[0], int) and not isinstance(point[0], bool)
            and isinstance(point[1], (int, float)) and not isinstance(point[1], bool)
            and math.isfinite(point[1]))


def _checked(path: Path, number: int, record: dict[str, Any]) -> dict[str, Any]:
    kind = record.get("type")
    fields = _FIELDS.get(kind) if isinstance(kind, str) else None
    where = f"{path} line {number}"
    if fields is None:
        raise JournalError(f"{where}: unknown record type {kind!r}; refusing to resume.")
    for name, types in fields.items():
        value = record.get(name)
        if name not in record or not isinstance(value, types) or isinstance(value, bool):
            allowed = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise JournalError(
                f"{where}: a {kind} record needs {name!r} as {allowed}, got {value!r}; "
                "refusing to resume."
            )
    optional = _OPTIONAL.get(kind, {})
    for name, types in optional.items():
        value = record.get(name)
        if name in record and (not isinstance(value, types) or isinstance(value, bool)):
            allowed = "a list of numbers" if types == (list,) else "an int"
            raise JournalError(f"{where}: {name!r} of a {kind} record must be {allowed}, got "
                               f"{value!r}; refusing to resume.")
        if name == "curve" and isinstance(value, list):
            if not all(_is_point(point) for point in value):
                raise JournalError(f"{where}: 'curve' of a {kind} record must hold [epoch, value] "
                                   f"pairs of numbers, got {value!r}; refusing to resume.")
        elif isinstance(value, list) and any(
                isinstance(v, bool) or not isinstance(v, (int, float, type(None))) for v in value):
            raise JournalError(f"{where}: {name!r} of a {kind} record must hold numbers or null, "
                               f"got {value!r}; refusing to resume.")
    extra = set(record) - set(fields) - set(optional) - {"type"}
    if extra:
        raise JournalError(f"{where}: unknown keys {sorted(extra)} in a {kind} record; refusing to resume.")
    if "trial" in record and record["trial"] < 0:
        raise JournalError(f"{where}: trial ids are >= 0, got {record['trial']}; refusing to resume.")
    if kind == "tell" and record["state"] not in _STATES:
        raise JournalError(
            f"{where}: state must be one of {sorted(_STATES)}, got {record['state']!r}; "
            "refusing to resume."
        )
    return record


def _header(path: Path, record: dict[str, Any]) -> Header:
    if record.get("type") != "header":
        raise JournalError(f"{path} line 1 is not a journal header; refusing to resume.")
    record = _checked(path, 1, record)
    if record["format"] != FORMAT:
        raise JournalError(
            f"{path}: journal format {record['format']}, this sweepforge reads format {FORMAT}."
        )
    if not all(isinstance(s, str) for s in record["strategies"]):
        raise JournalError(f"{path} line 1: 'strategies' must list names; refusing to resume.")
    return Header(record["campaign_id"], record["name"], record["config"], record["strategies"],
                  record["tracking_uri"], float(record["created"]))


def _event(path: Path, number: int, record: dict[str, Any]) -> Event:
    record = _checked(path, number, record)
    kind = record.pop("type")
    if kind == "header":
        raise JournalError(f"{path} line {number}: a second header; refusing to resume.")
    cls = {"session": Session, "ask": Ask, "resubmit": Resubmit, "tell": Tell, "end": End}[kind]
    if kind == "tell":  # (a constraint written as null was not a number: broken, infinitely)
        if "values" in record:
            record["values"] = tuple(record["values"])
        record["constraints"] = tuple(float("inf") if c is None else float(c)
                                      for c in record.get("constraints", ()))
        record["curve"] = tuple((int(e), float(v)) for e, v in record.get("curve", ()))
    return cls(**record)
