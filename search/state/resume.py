"""Where a campaign keeps what it needs to be resumed, and how a resume picks up the pieces.

Each campaign gets a folder ``<state dir>/campaigns/<name>/<campaign id>/`` (state dir:
``--state-dir``, else ``$SWEEPFORGE_STATE_DIR``, else ``.sweepforge`` in the working directory)
holding its :mod:`journal <.journal>` and Ray Tune's storage (``tune/session-<n>/``, one per
master session, with each trial's checkpoints in ``trial-<Ray trial id>/``). When the campaign
finishes, the journal ends with an ``end`` line and Tune's storage is deleted.

A resume (:meth:`CampaignState.resume`) rebuilds the strategies by replaying the journal, then
the campaign session (:meth:`~..session.CampaignSession.settle`) squares the journal with MLflow, which holds the finished results:

* trial runs the killed master left RUNNING are closed as KILLED at once;
* a trial asked but never told whose MLflow run is FINISHED or FAILED ended just before the kill
  (its tell was not journaled yet): it is told now from MLflow, not run again;
* every other trial in flight is submitted again with the same config and trial id, from its
  last checkpoint when one exists; its KILLED run is reopened and continued (one run per trial);
* finished trials come back as records for the comparison table.

Example:
    >>> state = CampaignState.start(".sweepforge", config, plan, "sqlite:///mlflow.db")  # doctest: +SKIP
    >>> state.folder                                                                    # doctest: +SKIP
    PosixPath('.sweepforge/campaigns/quickstart/3f2a9c1b0d4e')
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import CampaignConfig, CampaignError, parse_campaign_config
from ..strategies.base import Strategy
from ..tune.checkpoints import newest_checkpoint, trial_dirname
from .journal import (
    Defer,
    End,
    Event,
    Header,
    InFlight,
    Journal,
    JournalError,
    Session,
    Tell,
    is_running,
    read_journal,
    replay,
)
from .spool import Spool, spool_path

if TYPE_CHECKING:
    from ..plan import CampaignPlan

STATE_DIR_ENV = "SWEEPFORGE_STATE_DIR"
DEFAULT_STATE_DIR = ".sweepforge"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_CAMPAIGN_ID = re.compile(r"[0-9a-f]{12}")


def resolve_state_dir(state_dir: str | os.PathLike[str] | None = None) -> Path:
    """``--state-dir``, else ``$SWEEPFORGE_STATE_DIR``, else ``./.sweepforge``, made absolute
    (Ray Tune's storage must be an absolute path)."""
    chosen = state_dir or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
    return Path(chosen).expanduser().absolute()


def campaign_folder(state_dir: Path, name: str, campaign_id: str) -> Path:
    """``<state dir>/campaigns/<name>/<campaign id>``; both parts are checked, so no name can
    point outside the state dir."""
    if not _CAMPAIGN_ID.fullmatch(campaign_id):
        raise CampaignError(f"campaign id {campaign_id!r}: must be 12 hexadecimal digits.")
    return _campaigns_of(state_dir, name) / campaign_id


def _campaigns_of(state_dir: Path, name: str) -> Path:
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise CampaignError(f"campaign name {name!r}: only letters, digits, '-', '_' and '.' are allowed.")
    return state_dir / "campaigns" / name


@dataclass(frozen=True)
class Resumable:
    """A campaign of ``name`` whose journal has no end: killed, interrupted or crashed."""

    folder: Path
    campaign_id: str
    created: float
    trials_told: int


def unfinished_campaigns(state_dir: Path, name: str) -> list[Resumable]:
    """Campaigns of ``name`` that did not finish and are not running, latest first. Unreadable
    journals are left out here; :meth:`CampaignState.resume` says what is wrong with one."""
    parent = _campaigns_of(state_dir, name)
    found = []
    for folder in sorted(parent.iterdir()) if parent.is_dir() else []:
        if not _CAMPAIGN_ID.fullmatch(folder.name) or folder.is_symlink() or is_running(folder):
            continue
        try:
            header, events = read_journal(folder)
        except JournalError:
            continue
        if header.campaign_id == folder.name and not any(isinstance(e, End) for e in events):
            told = sum(isinstance(e, Tell) for e in events)
            found.append(Resumable(folder, folder.name, header.created, told))
    return sorted(found, key=lambda r: r.created, reverse=True)


def stored_config(folder: Path) -> tuple[CampaignConfig, list[str], str]:
    """The campaign config, strategy subset and tracking URI a journal was started with,
    validated like a campaign file."""
    header, _ = read_journal(folder)
    if header.campaign_id != folder.name:
        raise JournalError(
            f"{folder}: the journal is of campaign {header.campaign_id!r}, not of this folder; "
            "refusing to resume."
        )
    config = parse_campaign_config(header.config, source=f"{folder} (journal header)")
    return config, header.strategies, header.tracking_uri


def check_resumable(folder: Path, plan: CampaignPlan, spool_dir: Path | None = None) -> None:
    """Reads and replays the journal of ``folder`` into throw-away strategies, and reads the
    campaign's spool file in ``spool_dir`` if it left one, so a journal or spool that cannot be
    resumed from is refused before Ray starts or MLflow is touched.

    Raises:
        JournalError: as :meth:`CampaignState.resume`.
        CampaignError: the campaign's spool file is not a spool (it is JSON, never unpickled).
    """
    header, events = read_journal(folder)
    _refuse_finished(header, events)
    replay(events, {name: plan.new_strategy(name) for name in plan.strategies})
    spool = spool_path(header.campaign_id, spool_dir) if spool_dir is not None else None
    if spool is not None and spool.is_file():
        try:
            Spool.load(spool)
        except ValueError as err:
            raise CampaignError(f"{err} Refusing to resume; move it away to resume without "
                                "the writes it would hold.") from None


def _refuse_finished(header: Header, events: list[Event]) -> None:
    if any(isinstance(e, End) for e in events):
        raise JournalError(f"campaign {header.name!r} ({header.campaign_id}) has finished; "
                           "nothing to resume.")


@dataclass
class CampaignState:
    """The resumable side of a running campaign: its id, folder, journal and strategies."""

    campaign_id: str
    folder: Path
    journal: Journal
    session: int
    strategies: dict[str, Strategy]
    in_flight: dict[tuple[str, int], InFlight] = field(default_factory=dict)
    told: set[tuple[str, int]] = field(default_factory=set)

    @property
    def tune_root(self) -> Path:
        """Ray Tune's storage for this campaign (``storage_path``); sessions are folders in it."""
        return self.folder / "tune"

    @property
    def tune_name(self) -> str:
        """This session's Ray Tune experiment name."""
        return f"session-{self.session}"

    @classmethod
    def start(cls, state_dir: Path, config: CampaignConfig, plan: CampaignPlan,
              tracking_uri: str, *, defer: Defer | None = None) -> CampaignState:
        """A new campaign: a fresh id, its folder and journal, fresh strategies. ``defer``:
        see :class:`~.journal.Journal`."""
        campaign_id = uuid.uuid4().hex[:12]
        folder = campaign_folder(state_dir, config.name, campaign_id)
        journal = Journal.create(
            folder, campaign_id=campaign_id, name=config.name,
            config=config.model_dump(mode="json"), strategies=list(plan.strategies),
            tracking_uri=tracking_uri, defer=defer,
        )
        journal.session(1)
        strategies = {name: plan.new_strategy(name) for name in plan.strategies}
        return cls(campaign_id, folder, journal, 1, strategies)

    @classmethod
    def resume(cls, folder: Path, plan: CampaignPlan, *, defer: Defer | None = None) -> CampaignState:
        """The campaign of ``folder`` as its journal leaves it: strategies replayed, trials in
        flight listed, a new session begun.

        Raises:
            JournalError: the journal cannot be read, is finished, or does not replay.
        """
        header, events = read_journal(folder)
        _refuse_finished(header, events)
        strategies = {name: plan.new_strategy(name) for name in plan.strategies}
        in_flight = replay(events, strategies)
        told = {(e.strategy, e.trial) for e in events if isinstance(e, Tell)}
        session = 1 + max((e.n for e in events if isinstance(e, Session)), default=0)
        journal = Journal.reopen(folder, defer=defer)
        journal.session(session)
        return cls(header.campaign_id, folder, journal, session, strategies, in_flight, told)

    def finish(self, status: str) -> None:
        """Closes the journal; a FINISHED campaign gets its end line and loses Tune's storage
        (checkpoints of finished trials are not needed any more)."""
        if status == "FINISHED":
            self.journal.end(status)
        self.journal.close()
        if status == "FINISHED":
            shutil.rmtree(self.tune_root, ignore_errors=True)

    def latest_checkpoint(self, key: tuple[str, int]) -> str | None:
        """The newest checkpoint directory an in-flight trial left, searching its attempts
        from the latest back."""
        for session, tune_id in reversed(self.in_flight[key].placements):
            trial_dir = self.tune_root / f"session-{session}" / trial_dirname(tune_id)
            found = newest_checkpoint(trial_dir) if tune_id else None
            if found is not None:
                return str(found)
        return None
