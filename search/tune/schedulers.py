"""A campaign's ``scheduler:`` as one of Ray Tune's trial schedulers, checked before anything runs.

sweepforge writes no scheduler of its own: ``asha`` is Tune's ``ASHAScheduler``, ``hyperband``
the same asynchronous scheduler over several brackets (Tune's asynchronous Hyperband), ``median``
its ``MedianStoppingRule`` and ``pbt`` its ``PopulationBasedTraining``. They all count time in
the trainable's own ``epoch`` metric, so a trial resumed from a checkpoint keeps its place.

Every strategy of the campaign runs under the same scheduler. A trial that a scheduler stops
before its last epoch is told to its strategy as PRUNED (see :mod:`.searcher`).

Example:
    >>> from sweepforge.search.config import SchedulerConfig
    >>> scheduler = make_scheduler(SchedulerConfig.model_validate("asha"), space=None,
    ...                            metric="val_accuracy", mode="max", max_epochs=20)
    >>> type(scheduler).__name__
    'AsyncHyperBandScheduler'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sweepforge.spaces import Categorical, Float, Int, Space
from sweepforge.trainables import COST_METRICS

from ..config import CampaignError, SchedulerConfig

if TYPE_CHECKING:
    from ray.tune.schedulers import TrialScheduler

    from sweepforge.trainables import TrainableSpec

TIME_ATTR = "epoch"
"""The result key schedulers count time in: the epoch the trainable reports."""


def check_scheduler(
    scheduler: SchedulerConfig | None, *, space: Space, trainable: TrainableSpec, metric: str,
    max_epochs: int, fixed: dict[str, Any],
) -> None:
    """Raises :class:`CampaignError` when ``scheduler`` cannot work for this campaign: the
    trainable does not report ``metric`` epoch by epoch, a grace period or interval longer than
    a trial, or PBT mutating what is not searched or a trainable that cannot checkpoint."""
    if scheduler is None:
        return
    kind = scheduler.type
    if "epochs" not in trainable.field_names() or TIME_ATTR not in trainable.metrics:
        raise CampaignError(
            f"scheduler: trainable '{trainable.name}' has no `epochs` knob: it reports once, when "
            f"training ends, so scheduler {kind!r} has nothing to compare along the way. Remove "
            "`scheduler:` for this trainable."
        )
    if metric.startswith("test_"):
        raise CampaignError(
            f"scheduler: metric {metric!r} is reported only after the last epoch, so scheduler "
            f"{kind!r} cannot compare trials along the way; use the validation metric "
            f"'val_{metric[5:]}' as the campaign's metric."
        )
    if metric in COST_METRICS:
        raise CampaignError(
            f"scheduler: metric {metric!r} is a cost measured only after the last epoch, so "
            f"scheduler {kind!r} cannot compare trials along the way; search it without "
            "`scheduler:`, or make a validation metric the campaign's metric."
        )
    for option in ("grace_period", "perturbation_interval"):
        value = getattr(scheduler, option)
        if value is not None and value > max_epochs:
            raise CampaignError(
                f"scheduler.{option}: {value} epochs is more than a whole trial "
                f"(budget.max_epochs={max_epochs}); it must be at most {max_epochs}."
            )
    if kind == "pbt":
        _check_pbt(scheduler, space, trainable, fixed)


def _check_pbt(scheduler: SchedulerConfig, space: Space, trainable: TrainableSpec,
               fixed: dict[str, Any]) -> None:
    if not trainable.supports_checkpoint:
        raise CampaignError(
            f"scheduler: pbt clones running trials through their checkpoints, but trainable "
            f"'{trainable.name}' cannot save one (its train function takes no `checkpoint=`)."
        )
    for name in scheduler.mutations or ():
        if name not in space:
            where = "is fixed" if name in fixed else "is not in the space"
            raise CampaignError(
                f"scheduler.mutations: {name!r} {where}; pbt may only change searched "
                f"parameters: {', '.join(space.names) or '(the space is empty)'}."
            )
        if name == "epochs":
            raise CampaignError(
                "scheduler.mutations: 'epochs' cannot mutate; pbt changes how a trial trains, "
                "not how long."
            )
        if space[name].when is not None:
            raise CampaignError(
                f"scheduler.mutations: {name!r} is conditional (active only for some configs); "
                "pbt may only change parameters every trial has."
            )


def make_scheduler(
    scheduler: SchedulerConfig | None, *, space: Space | None, metric: str, mode: str,
    max_epochs: int,
) -> TrialScheduler | None:
    """Ray Tune's scheduler for ``scheduler`` (``None`` for none); run :func:`check_scheduler`
    first."""
    if scheduler is None:
        return None
    from ray.tune import schedulers

    common = {"time_attr": TIME_ATTR, "metric": metric, "mode": mode}
    if scheduler.type in ("asha", "hyperband"):
        return schedulers.ASHAScheduler(
            **common, max_t=max_epochs, grace_period=scheduler.grace_period or 1,
            reduction_factor=scheduler.reduction_factor, brackets=scheduler.brackets,
        )
    if scheduler.type == "median":
        return schedulers.MedianStoppingRule(
            **common, grace_period=scheduler.grace_period,
            min_samples_required=scheduler.min_samples_required,
        )
    assert space is not None, "pbt needs the campaign's space"
    mutations = {name: _tune_domain(space[name]) for name in scheduler.mutations or ()}
    # PBT's coin flips (exploit, resample, which factor) come from Python's global `random`
    return schedulers.PopulationBasedTraining(
        **common,
        perturbation_interval=scheduler.perturbation_interval,
        burn_in_period=scheduler.burn_in_period,
        hyperparam_mutations=mutations,
        quantile_fraction=scheduler.quantile,
        resample_probability=scheduler.resample_probability,
        perturbation_factors=tuple(scheduler.perturbation_factors or (1.2, 0.8)),
        custom_explore_fn=_Clip(space, tuple(mutations)),
        log_config=False,  # sweepforge records lineage in MLflow (see _trial_logger)
    )


def _tune_domain(param: Float | Int | Categorical) -> Any:
    """The Tune distribution PBT resamples ``param`` from (and perturbs numbers by factors)."""
    from ray import tune

    if isinstance(param, Categorical):
        return list(param.choices)
    if isinstance(param, Float):
        return (tune.loguniform if param.log else tune.uniform)(param.low, param.high)
    if param.log:
        return tune.lograndint(param.low, param.high + 1)
    return tune.qrandint(param.low, param.high, param.step)


class _Clip:
    """PBT's ``custom_explore_fn``: a perturbed value (e.g. lr times 1.2) is put back inside its
    parameter's range and step, so a mutated trial is always a config of the space."""

    def __init__(self, space: Space, names: tuple[str, ...]):
        self.space, self.names = space, names

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        for name in self.names:
            param = self.space[name]
            if isinstance(param, Categorical) or name not in config:
                continue
            value = min(max(config[name], param.low), param.high)
            if isinstance(param, Int):
                value = param.low + round((value - param.low) / param.step) * param.step
                value = int(min(value, param.high))
            config[name] = value
        return config
