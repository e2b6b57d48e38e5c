"""The spool: MLflow writes that could not be made (the tracking server was away), kept on local
disk, in order, until they can be replayed.

One append-only JSON-lines file per campaign. Its first line is a header (tracking URI and
experiment id); then ``op`` lines, one per MLflow call, numbered by ``seq``; a ``done`` line is
appended after each op is replayed (with the real run id for a ``create_run``). Nothing is
rewritten in place, so a master killed mid-replay leaves a file that a later replay continues:
ops with a ``done`` line are skipped, and the op that was in flight is safe to repeat (see
:mod:`..tracking.tracker` for why each kind of op is). A torn last line is ignored.

Example:
    >>> spool = Spool.create(Path("/tmp/demo.jsonl"), "http://127.0.0.1:5000", "1")  # doctest: +SKIP
    >>> spool.append({"op": "end_run", "run": "abc", "status": "FINISHED", "end_time": 0})  # doctest: +SKIP
    >>> [op["seq"] for op in Spool.load(spool.path).pending]  # doctest: +SKIP
    [0]
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPOOL_VERSION = 1


def default_spool_dir() -> Path:
    """``$SWEEPFORGE_STATE_DIR/spool``, else ``.sweepforge/spool`` in the working directory."""
    return spool_dir(os.environ.get("SWEEPFORGE_STATE_DIR") or ".sweepforge")


def spool_dir(state_dir: str | os.PathLike[str]) -> Path:
    """The spool folder of a state folder: ``<state dir>/spool``."""
    return Path(state_dir) / "spool"


def spool_path(name: str, folder: str | os.PathLike[str] | None = None) -> Path:
    """The spool file for ``name`` (a campaign id) in ``folder``; the name is reduced to letters,
    digits, ``-``, ``_`` and ``.`` (no leading dot), so it cannot point outside the folder.

    Example:
        >>> spool_path("../../etc/passwd", "/tmp/spool").as_posix()
        '/tmp/spool/etc_passwd.jsonl'
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).lstrip("._") or "campaign"
    return Path(folder if folder is not None else default_spool_dir()) / f"{safe[:120]}.jsonl"


@dataclass
class Spool:
    """An open spool file: ``pending`` ops in order, and the run ids already mapped."""

    path: Path
    tracking_uri: str
    experiment_id: str
    pending: list[dict[str, Any]] = field(default_factory=list)
    run_ids: dict[str, str] = field(default_factory=dict)  # local placeholder -> real run id
    _next_seq: int = 0
    _torn_at: int | None = None  # where a torn last line starts: cut off before the next write

    @classmethod
    def create(cls, path: Path, tracking_uri: str, experiment_id: str,
               run_ids: dict[str, str] | None = None) -> Spool:
        """Opens ``path`` for appending: continues an existing spool there, else starts one.
        ``run_ids`` (the writer's own map of local to real run ids) is shared, not copied:
        runs a replay creates are added to it, and those of an existing spool too."""
        if path.is_file():
            return cls.load(path, run_ids=run_ids)
        path.parent.mkdir(parents=True, exist_ok=True)
        spool = cls(path, tracking_uri, experiment_id, run_ids={} if run_ids is None else run_ids)
        spool._write({"kind": "header", "version": SPOOL_VERSION, "tracking_uri": tracking_uri,
                      "experiment_id": experiment_id})
        return spool

    @classmethod
    def load(cls, path: Path, run_ids: dict[str, str] | None = None) -> Spool:
        """Reads a spool file back: the ops not yet done, and the run ids mapped so far (added
        to ``run_ids`` when given, which the spool then shares)."""
        try:
            with open(path, encoding="utf-8", newline="") as handle:  # bytes counted as they are
                text = handle.read().split("\n")
        except UnicodeDecodeError:  # e.g. pickled bytes: a spool is JSON lines, never unpickled
            raise ValueError(
                f"{path} is not a sweepforge spool file (not UTF-8 JSON lines).") from None
        if text and not text[-1]:
            text.pop()  # the newline that ends the last whole line
        lines, torn_at = [], None
        for number, line in enumerate(text, start=1):
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                if number == 1 and len(text) > 1:  # e.g. pickled bytes (protocol 0 is text)
                    raise ValueError(f"{path} is not a sweepforge spool file (its first line is "
                                     "not JSON).") from None
                if number == len(text):  # a torn last line: the op never counted
                    torn_at = sum(len(kept.encode("utf-8")) + 1 for kept in text[:-1])
                    break
                # a bad line with writes after it: dropping them would lose those writes
                raise ValueError(f"{path}, line {number}: not a JSON line, and {len(text) - number} "
                                 "lines follow it; the spool was edited or damaged.") from None
        if not lines or lines[0].get("kind") != "header":
            raise ValueError(f"{path} is not a sweepforge spool file (no header line).")
        header = lines[0]
        spool = cls(path, header["tracking_uri"], str(header["experiment_id"]),
                    run_ids={} if run_ids is None else run_ids, _torn_at=torn_at)
        ops: dict[int, dict[str, Any]] = {}
        for entry in lines[1:]:
            if entry.get("kind") == "op":
                ops[entry["seq"]] = entry
                spool._next_seq = max(spool._next_seq, entry["seq"] + 1)
            elif entry.get("kind") == "done":
                ops.pop(entry["seq"], None)
                if entry.get("run_id") and entry.get("local_id"):
                    spool.run_ids[entry["local_id"]] = entry["run_id"]
        spool.pending = [ops[seq] for seq in sorted(ops)]
        return spool

    def append(self, op: dict[str, Any]) -> dict[str, Any]:
        """Writes ``op`` (numbered) and queues it behind the ops already pending."""
        entry = {"kind": "op", "seq": self._next_seq, **op}
        self._next_seq += 1
        self._write(entry)
        self.pending.append(entry)
        return entry

    def mark_done(self, entry: dict[str, Any], run_id: str | None = None, error: str = "") -> None:
        """Records that ``entry`` (the first pending op) was written, or given up (``error``)."""
        done: dict[str, Any] = {"kind": "done", "seq": entry["seq"]}
        if run_id is not None:
            done.update(local_id=entry["local_id"], run_id=run_id)
            self.run_ids[entry["local_id"]] = run_id
        if error:
            done["error"] = error[:2000]
        self._write(done)
        self.pending.remove(entry)

    def _write(self, entry: dict[str, Any]) -> None:
        # one line per write, flushed and synced: a killed master loses at most the line in flight
        if self._torn_at is not None:  # a line cut off by a crash must not end up mid-file
            os.truncate(self.path, self._torn_at)
            self._torn_at = None
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, allow_nan=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
