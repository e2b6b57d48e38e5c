"""Population-based training with sweepforge's strategies.

Ray Tune's ``PopulationBasedTraining`` refuses a search algorithm: it changes running trials'
configs, which a searcher would not know of. So under PBT each strategy proposes its whole
population before the Tune run starts (:func:`population`; for Optuna and the evolutionary
strategy that is mostly their random start-up), and PBT does the optimising from there:
every ``perturbation_interval`` epochs a trial in the bottom quantile takes the checkpoint of
one in the top quantile and perturbs the mutated parameters.

The configs go to Ray Tune as ``points_to_evaluate`` of its ``BasicVariantGenerator``, each
tagged with the id the :class:`~.searcher.CampaignSearcher` knows it by
(:data:`~.searcher.POPULATION_KEY`), and Ray Tune's trial ids are mapped onto those ids when a
trial first starts (:class:`PopulationBridge`). The searcher is still the one that asks,
journals and tells the strategies: a trial's final value is told against the config its
strategy proposed (PBT's changes to it are recorded as lineage in MLflow, see
:mod:`..tracking.trial_logger`). A campaign killed mid-way resumes like any other.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from .searcher import POPULATION_KEY, UNSET, CampaignSearcher

if TYPE_CHECKING:
    from ray.tune.experiment import Trial


def population(searcher: CampaignSearcher) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Asks every trial the campaign has left, in the searcher's usual order; returns the
    configs (tagged with their ids) and the ``param_space`` that lets Ray Tune take them as
    they are (a placeholder per parameter; a config without one gets :data:`UNSET`)."""
    from ray import tune

    points = []
    while True:
        key = f"pbt-{uuid.uuid4().hex[:12]}"
        config = searcher.suggest(key)
        if not isinstance(config, dict):  # FINISHED, or an epoch budget fully reserved
            break
        points.append({**config, POPULATION_KEY: key})
    names = sorted({name for point in points for name in point})
    placeholders = {name: tune.choice([UNSET]) for name in names}
    return [{**dict.fromkeys(names, UNSET), **point} for point in points], placeholders


class PopulationBridge(Callback):
    """Tells the searcher what Ray Tune tells a searcher, under the ids it asked with.

    It must come before the MLflow callback (which looks trials up with ``searcher.trial_key``).
    """

    def __init__(self, searcher: CampaignSearcher):
        self.searcher = searcher
        self._ids: dict[str, str] = {}  # Ray trial id -> the searcher's key

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "searcher": None}

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        if trial.trial_id in self._ids:  # unpaused by PBT: its config now carries a donor's key
            return
        key = trial.config[POPULATION_KEY]
        self._ids[trial.trial_id] = key
        self.searcher.rename_trial(key, trial.trial_id)

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict,
                        **info: Any) -> None:
        self.searcher.on_trial_result(trial.trial_id, result)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.searcher.on_trial_complete(trial.trial_id, trial.last_result)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.searcher.on_trial_complete(trial.trial_id, trial.last_result, error=True)


def population_dirname(trial: Trial) -> str:
    """A PBT trial's folder, named by its searcher key (what the journal records)."""
    from .checkpoints import trial_dirname

    return trial_dirname(str(trial.config.get(POPULATION_KEY, trial.trial_id)))
