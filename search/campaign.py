"""The campaign: a checked campaign file plus where to run and log it.

:class:`Campaign` checks everything before anything runs (:mod:`.plan`); :meth:`Campaign.run`
starts or joins Ray (:mod:`.tune.ray_setup`) and hands the rest to one
:class:`~.session.CampaignSession`, which runs every strategy's trials on Ray Tune and writes
them to MLflow.

Example:
    >>> result = Campaign.from_yaml("examples/quickstart.yaml").run()   # doctest: +SKIP
    >>> result.summary                                                  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sweepforge.trainables import ConfigError
from sweepforge.trainables.user_code import ref_of_callable

from .config import CampaignConfig, CampaignError, load_campaign_config, parse_campaign_config
from .plan import CampaignPlan, plan_campaign
from .result import CampaignResult
from .session import CampaignSession
from .state.resume import (
    campaign_folder,
    check_resumable,
    resolve_state_dir,
    stored_config,
    unfinished_campaigns,
)
from .state.spool import spool_dir
from .tracking.tracker import resolve_tracking_uri
from .tune.ray_setup import ray_session

__all__ = ["Campaign", "CampaignResult", "resolve_tracking_uri"]


class Campaign:
    """A campaign ready to run: a validated config plus where to run and log it.

    Args:
        config: the validated campaign.
        tracking_uri: MLflow store; default ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``.
        address: a Ray cluster to join (``ray://`` or ``host:port``); default ``RAY_ADDRESS`` or
            a local Ray started for the campaign.
        strategies: run only these strategies of the campaign.
        state_dir: where campaigns keep their journal and checkpoints, to be resumed; default
            ``$SWEEPFORGE_STATE_DIR`` or ``.sweepforge`` in the working directory.
        resume_folder: the folder of an unfinished campaign to go on with (what
            :meth:`resume` passes); its journal is checked here, before anything runs.
    """

    def __init__(
        self, config: CampaignConfig, *, tracking_uri: str | None = None, address: str | None = None,
        strategies: Sequence[str] | None = None, state_dir: str | Path | None = None,
        resume_folder: Path | None = None,
    ):
        self.config = config
        self.state_dir = resolve_state_dir(state_dir)
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.plan: CampaignPlan = plan_campaign(
            config, only=strategies, cuda_available=True if self.address else None,
            ship_code=self.address is not None,
        )
        self.resume_folder = resume_folder
        if resume_folder is not None:
            check_resumable(resume_folder, self.plan, spool_dir=spool_dir(self.state_dir))

    @classmethod
    def from_dict(cls, campaign: dict[str, Any], *, base_dir: str | Path | None = None,
                  **kwargs: Any) -> Campaign:
        """A campaign from a mapping shaped like a campaign file, for notebooks and scripts:
        ``trainable`` and ``dataset.loader`` may be functions instead of strings (defined at
        the top level of a module the workers can import: a file, a package, not ``__main__``).
        Relative paths start at ``base_dir`` (default: the working directory). Checked before
        anything runs (:class:`CampaignError`).

        Example:
            >>> from my_model import train                                  # doctest: +SKIP
            >>> Campaign.from_dict({"name": "mine", "trainable": train, ...}).run()  # doctest: +SKIP
        """
        raw = dict(campaign)
        if callable(raw.get("trainable")):
            raw["trainable"] = _function_text(raw["trainable"], "trainable")
        dataset = raw.get("dataset")
        if isinstance(dataset, dict) and callable(dataset.get("loader")):
            raw["dataset"] = {**dataset, "loader": _function_text(dataset["loader"], "dataset.loader")}
        return cls(parse_campaign_config(raw, base_dir=base_dir), **kwargs)

    @classmethod
    def from_yaml(cls, path: str | Path, **kwargs: Any) -> Campaign:
        """Loads and checks a campaign file; raises :class:`CampaignError` before anything runs."""
        return cls(load_campaign_config(path), **kwargs)

    @classmethod
    def resume(
        cls, name: str, *, campaign_id: str | None = None, state_dir: str | Path | None = None,
        tracking_uri: str | None = None, address: str | None = None,
    ) -> Campaign:
        """The unfinished campaign ``name`` (its latest, or the one with ``campaign_id``), with
        the settings it started with, ready to :meth:`run` on from where it stopped.

        Raises:
            CampaignError: no such unfinished campaign, or its journal cannot be resumed from
                (:class:`~.state.journal.JournalError`, naming the file and line).
        """
        root = resolve_state_dir(state_dir)
        if campaign_id is None:
            found = unfinished_campaigns(root, name)
            if not found:
                raise CampaignError(
                    f"no unfinished campaign named {name!r} in {root} (campaigns keep their state "
                    "in --state-dir, $SWEEPFORGE_STATE_DIR or ./.sweepforge)."
                )
            folder = found[0].folder
        else:
            folder = campaign_folder(root, name, campaign_id)
            if not folder.is_dir():
                raise CampaignError(f"campaign {name!r} has no campaign id {campaign_id!r} in {root}.")
        config, strategies, stored_uri = stored_config(folder)
        if config.name != name:
            raise CampaignError(f"{folder} holds campaign {config.name!r}, not {name!r}.")
        return cls(config, tracking_uri=tracking_uri or stored_uri or None, address=address,
                   strategies=strategies, state_dir=root, resume_folder=folder)

    def run(self, *, progress: bool = False) -> CampaignResult:
        """Runs every strategy (for a campaign from :meth:`resume`, what is left of them);
        returns the trials and the comparison table."""
        result = None
        try:
            with ray_session(self.address, self.config, code=self.plan.shipped,
                             keep_out=[self.state_dir]):
                session = CampaignSession(
                    self.config, self.plan, tracking_uri=self.tracking_uri,
                    state_dir=self.state_dir, resume_folder=self.resume_folder, progress=progress,
                )
                result = session.run()
        except KeyboardInterrupt as err:
            if result is None:
                raise
            raise FinishedThenInterrupted(result) from err  # (while Ray shut down)
        return result


class FinishedThenInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM came after the campaign had finished (while its Ray shut down):
    every trial, run and model is written and its journal says FINISHED; ``result`` is the
    campaign's result. Nothing is left to resume."""

    def __init__(self, result: CampaignResult):
        super().__init__()
        self.result = result


def _function_text(fn: Any, field: str) -> str:
    """The reference of a function given from Python, as a campaign file would name it."""
    try:
        ref = ref_of_callable(fn)
    except ConfigError as err:
        raise CampaignError(str(err).replace("trainable:", f"{field}:", 1)) from None
    if ref.module == "__main__":
        raise CampaignError(
            f"{field}: {ref.function} is defined in __main__ (a notebook or the script being "
            "run), which Ray workers cannot import; put it in a .py file beside it and import "
            "it from there.")
    return ref.as_text()
