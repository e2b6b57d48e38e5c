"""Runs a campaign's trials through Ray Tune: the trainable every strategy shares, and one or
more ``Tuner.fit()`` calls until the searcher has nothing more to hand out.

All strategies share each Tune run (actors are reused from trial to trial: without reuse Ray
Tune spends about 2 s per trial starting a worker on a 2-core machine), and a new run starts
every ``$SWEEPFORGE_TUNE_RUN_TRIALS`` trials: Tune keeps every trial of a run in memory. Under
PBT each strategy gets its own run, so that a population only ever clones its own strategy's
trials (see :mod:`.population`).

Example:
    >>> runner = TuneRunner(config, plan, searcher, callbacks=[logger], campaign_id=cid,
    ...                     storage_path=state.tune_root, tune_name=state.tune_name)  # doctest: +SKIP
    >>> runner.fit()   # raises KeyboardInterrupt after Ctrl-C, between two Tune steps  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweepforge.trainables.user_code import module_root

from ..config import LoaderSource
from .checkpoints import DropCheckpoints, refit_dirname, tune_trial_dirname
from .interrupt import InterruptFlag, StopOnInterrupt
from .memory import ForgetFinishedTrialStats
from .population import PopulationBridge, population, population_dirname
from .ray_setup import concurrency, trial_actors_on_idle_workers
from .schedulers import make_scheduler
from .searcher import RESUME_FROM, CampaignSearcher
from .trial_errors import StopOnMetricNotReported
from .worker import run_trial

if TYPE_CHECKING:
    from ray.tune import Callback

    from ..config import CampaignConfig
    from ..plan import CampaignPlan


class TuneRunner:
    """Ray Tune runs for one master session of a campaign.

    Args:
        config: the campaign.
        plan: its checked plan (trainable, data, space, fixed values).
        searcher: hands out every strategy's trials.
        callbacks: Tune callbacks of the campaign (the MLflow trial logger, a trial deadline),
            in the order Tune should call them.
        campaign_id: names the data in the workers' cache.
        storage_path: Ray Tune's storage (checkpoints) for this campaign.
        tune_name: this session's Tune experiment name.
    """

    def __init__(
        self, config: CampaignConfig, plan: CampaignPlan, searcher: CampaignSearcher, *,
        callbacks: Sequence[Callback], campaign_id: str, storage_path: Path, tune_name: str,
    ):
        self.config = config
        self.plan = plan
        self.searcher = searcher
        self.callbacks = list(callbacks)
        self.campaign_id = campaign_id
        self.storage_path = storage_path
        self.tune_name = tune_name

    def fit(self) -> None:
        """Runs trials until the searcher is done; ``KeyboardInterrupt`` after Ctrl-C (or a
        signal handled like it), once the Tune loop has stopped between two steps."""
        trainable = self._trainable()
        interrupt = InterruptFlag()
        with interrupt.armed():
            if self.config.scheduler is not None and self.config.scheduler.type == "pbt":
                for name in list(self.searcher.strategies):
                    with self.searcher.focused(name):
                        points, param_space = population(self.searcher)
                        if points and not interrupt.is_set:
                            self._tune_run(trainable, interrupt, points=points,
                                           param_space=param_space)
            else:
                # Tune keeps every trial of a run in memory; a new run every few thousand
                # trials keeps the master's memory level (the strategies live outside Tune)
                while not self.searcher.finished and not interrupt.is_set:
                    asked = self.searcher.n_asked
                    self._tune_run(trainable, interrupt,
                                   trials=min(self.searcher.remaining, trials_per_tune_run()))
                    if self.searcher.n_asked == asked:  # nothing more to ask (epochs spent)
                        break
            if interrupt.is_set:  # Ctrl-C (or SIGTERM) after the last step of the Tune loop
                raise interrupt.exception()

    def refit(self, config: dict[str, Any], data: Any, *, resume_from: str | None = None) -> None:
        """Trains ``config`` once on ``data`` (the campaign's final refit) as a one-trial Tune
        run: the same trial function and resources as every trial, no scheduler, the trial's
        folder named :data:`~.checkpoints.REFIT_DIRNAME` so a resume finds its checkpoints.
        ``resume_from``: a checkpoint folder of the refit's previous attempt.

        Raises ``KeyboardInterrupt`` after Ctrl-C (or SIGTERM), as :meth:`fit` does."""
        from ray import tune

        interrupt = InterruptFlag()
        param_space = {**config, **({RESUME_FROM: resume_from} if resume_from else {})}
        tuner = tune.Tuner(
            self._trainable(data=data, data_name="refit"),
            param_space=param_space,
            tune_config=tune.TuneConfig(num_samples=1, trial_dirname_creator=refit_dirname),
            run_config=tune.RunConfig(
                name=self.tune_name, storage_path=str(self.storage_path), verbose=0,
                failure_config=tune.FailureConfig(max_failures=self.config.max_failures),
                callbacks=[*self.callbacks, StopOnInterrupt(interrupt)],
            ),
        )
        with interrupt.armed(), trial_actors_on_idle_workers():
            tuner.fit()
            if interrupt.is_set:
                raise interrupt.exception()

    def _trainable(self, data: Any = None, data_name: str = "") -> Any:
        import ray
        from ray import tune

        config, plan, resources = self.config, self.plan, self.config.resources
        # the module that defines the train function (the user's own, for their function):
        # workers import it first, from the folder the master imported it from, or on a
        # cluster from the copy of that folder Ray sent them (their working directory)
        module = (getattr(plan.trainable, "user_fn", None) or plan.trainable.train_fn).__module__
        name, root = config.trainable, module_root(module)
        if plan.shipped is not None:
            name, root = plan.shipped.reference, None
        # the data goes once into Ray's object store; workers fetch it after importing the
        # user's modules (a loader may return objects of its own classes), so by reference
        data_roots = ()
        if isinstance(config.dataset, LoaderSource) and plan.shipped is None:
            data_roots = tuple(filter(None, [config.dataset.ref.folder()]))
        return tune.with_resources(
            tune.with_parameters(
                run_trial, trainable_name=name, trainable_module=module,
                trainable_root=root, data_roots=data_roots,
                data_ref=[ray.put(plan.data if data is None else data)],
                seed=config.seed,
                fixed=plan.fixed, cpus=resources.cpu, gpus=resources.gpu,
                data_key=f"{self.campaign_id}/{config.dataset}/{config.seed}/{data_name}",
                metric=config.metric,
                also_required=tuple(  # (field, metric) a user's function must report too
                    [("objectives", m) for m in plan.objectives.names if m != config.metric]
                    + [("constraints", m) for m in config.constraints
                       if m not in plan.objectives.names]),
            ),
            {"cpu": resources.cpu, "gpu": resources.gpu},
        )

    def _tune_run(
        self, trainable: Any, interrupt: InterruptFlag, *, trials: int = 0,
        points: list[dict[str, Any]] | None = None, param_space: dict[str, Any] | None = None,
    ) -> None:
        """One ``Tuner.fit()``: the searcher asks up to ``trials`` trials as workers free up,
        or (``points``) the population it asked beforehand runs."""
        from ray import tune

        config = self.config
        callbacks: list[Any] = [*self.callbacks, StopOnMetricNotReported(),  # (after the logger)
                                StopOnInterrupt(interrupt),
                                DropCheckpoints(at_end=points is not None),
                                ForgetFinishedTrialStats()]  # flat master memory
        search: dict[str, Any] = {"search_alg": self.searcher, "num_samples": trials,
                                  "trial_dirname_creator": tune_trial_dirname}
        if points is not None:  # PBT: Ray Tune's own generator hands out the population
            from ray.tune.search.basic_variant import BasicVariantGenerator

            search = {"search_alg": BasicVariantGenerator(points_to_evaluate=points),
                      "num_samples": len(points), "trial_dirname_creator": population_dirname}
            callbacks.insert(0, PopulationBridge(self.searcher))  # before the MLflow callback
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                **search,
                scheduler=make_scheduler(config.scheduler, space=self.plan.space,
                                         metric=self.plan.scheduler_metric[0],
                                         mode=self.plan.scheduler_metric[1],
                                         max_epochs=config.budget.max_epochs),
                # PBT's population is started whole (its members take turns on the CPUs);
                # Tune ignores the limit there and warns that it does
                max_concurrent_trials=None if points is not None else concurrency(config),
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=self.tune_name, storage_path=str(self.storage_path), verbose=0,
                # a failed trial (an error, a lost node) restarts from its last checkpoint
                failure_config=tune.FailureConfig(max_failures=config.max_failures),
                callbacks=callbacks,
            ),
        )
        with trial_actors_on_idle_workers():  # trial actors may take Ray's idle workers
            tuner.fit()


def trials_per_tune_run() -> int:
    """Trials per Ray Tune run: ``$SWEEPFORGE_TUNE_RUN_TRIALS``, default 2,000. Tune keeps
    about 27 KB per trial in the master until its run ends (BENCHMARKS.md, "Scale"); a new run
    costs a few seconds (new workers)."""
    try:
        return max(1, int(os.environ.get("SWEEPFORGE_TUNE_RUN_TRIALS", "2000")))
    except ValueError:
        return 2000
