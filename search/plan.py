"""Turns a :class:`CampaignConfig` into a checked plan, before anything starts.

Every check that can fail on user input lives here, so a bad campaign stops before Ray starts
or an MLflow run is written: the space, the trainable and its knobs, the dataset, the metric,
batch sizes against the data, strategy names and options, GPUs, and the environment the
trainables read.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sweepforge.spaces import Categorical, Float, Int, Space, SpaceError
from sweepforge.trainables import (
    ConfigError,
    Dataset,
    TrainableSpec,
    check_environment,
)
from sweepforge.trainables.user_code import CodeFolder, code_folder
from sweepforge.trainables.user_data import TorchDatasetSplits, dataset_from_loader
from sweepforge.trainables.user_function import FunctionTrainableSpec, trainable_for

from .config import CampaignConfig, CampaignError, LoaderSource, TableSource
from .strategies.base import Strategy, StrategyError
from .strategies.objectives import Limit, Objectives
from .strategies.registry import make_strategy
from .tune.schedulers import check_scheduler
from .tune.worker import load_campaign_dataset


@dataclass(frozen=True)
class CampaignPlan:
    """A campaign whose every input has been checked; strategies are built fresh per run."""

    config: CampaignConfig
    space: Space
    trainable: TrainableSpec
    data: Any  # a Dataset, or what a user's loader returned for the user's own function
    fixed: dict[str, Any]
    strategies: dict[str, tuple[str, dict[str, Any]]]
    shipped: CodeFolder | None = None
    """The user's code folder that Ray sends to the workers of a cluster (``--address``), and
    the reference they load the function by from there; ``None`` when workers import it as the
    master does (one machine, a bundled name, an installed package)."""

    def new_strategy(self, name: str) -> Strategy:
        """A fresh strategy object for strategy ``name`` of this campaign."""
        kind, options = self.strategies[name]
        return _strategy(self.config, kind, options, self.space)

    @property
    def objectives(self) -> Objectives:
        """The campaign's objectives and hard limits, as the strategies are told them."""
        return objectives_of(self.config)

    def full_config(self, searched: dict[str, Any]) -> dict[str, Any]:
        """Every knob of a trial: the trainable's defaults, the fixed values, the searched ones."""
        return asdict(self.trainable.make_config({**self.fixed, **searched}))

    def planned_epochs(self, searched: dict[str, Any]) -> int | None:
        """The epochs a trial of ``searched`` trains when nothing stops it (``None`` for a
        trainable without an ``epochs`` knob)."""
        epochs = self.full_config(searched).get("epochs")
        return int(epochs) if isinstance(epochs, int) else None

    @property
    def scheduler_metric(self) -> tuple[str, str]:
        """The metric a scheduler stops trials on, and its direction: ``scheduler.metric``,
        else the campaign's."""
        scheduler, directions = self.config.scheduler, self.config.objective_directions
        metric = (scheduler.metric if scheduler is not None else None) or self.config.metric
        return metric, directions[metric]

    @property
    def test_metric(self) -> str | None:
        """The test-split twin of the campaign's metric (``val_accuracy`` ->
        ``test_accuracy``) when the trainable reports it, else ``None``."""
        metric = self.config.metric
        if metric.startswith("val_") and f"test_{metric[4:]}" in self.trainable.metrics:
            return f"test_{metric[4:]}"
        return None


def objectives_of(config: CampaignConfig) -> Objectives:
    """``config``'s objectives (``metric``/``mode`` alone: one) and ``constraints``."""
    directions = config.objective_directions
    return Objectives(tuple(directions), tuple(directions.values()),  # type: ignore[arg-type]
                      tuple(Limit(metric, bound.min, bound.max)
                            for metric, bound in config.constraints.items()))


def _strategy(config: CampaignConfig, kind: str, options: dict[str, Any], space: Space) -> Strategy:
    objectives = objectives_of(config)
    return make_strategy(
        kind, space, budget=config.budget.trial_cap, seed=config.seed, mode=config.mode,
        directions=objectives.directions, n_constraints=len(objectives.limits), options=options,
    )


def _first_proposal(name: str, strategy: Strategy) -> None:
    """Asks a throwaway ``strategy`` once: a sampler named by class can take its options and
    still refuse the space at its first proposal (``BruteForceSampler`` and a float without a
    step, ``GridSampler`` without every parameter), which would end the campaign mid-way."""
    try:
        strategy.ask()
    except Exception as err:  # noqa: BLE001 (whatever the library raises: named, before anything runs)
        raise CampaignError(
            f"strategies.{name}: its first proposal failed ({type(err).__name__}: {err}); "
            "change its sampler or options, or the space") from None


def plan_campaign(
    config: CampaignConfig, *, only: Sequence[str] | None = None, cuda_available: bool | None = None,
    ship_code: bool = False,
) -> CampaignPlan:
    """Checks ``config`` end to end and returns the plan; raises :class:`CampaignError`.

    ``ship_code``: the trials run on a Ray cluster, whose nodes get the user's code folder from
    Ray (:attr:`CampaignPlan.shipped`) rather than from this machine's disk."""
    strategies = _select_strategies(config, only)
    try:
        space = Space.from_dict(config.space)
    except SpaceError as err:
        raise CampaignError(f"space: {err}") from None
    try:
        trainable = trainable_for(config.trainable, metric=config.metric,
                                  knobs=[*space.names, *config.fixed],
                                  also=objectives_of(config).metrics)
    except ConfigError as err:
        raise CampaignError(_field_message("trainable", err)) from None
    data = _load_data(config, trainable)
    _check_objectives(config, trainable, data)
    fixed = _fixed_values(config, space, trainable)
    _check_knobs(space, fixed, trainable, data, config)
    scheduler_metric = (config.scheduler.metric if config.scheduler else None) or config.metric
    check_scheduler(config.scheduler, space=space, trainable=trainable, metric=scheduler_metric,
                    max_epochs=config.budget.max_epochs, fixed=fixed)
    for name, (kind, options) in strategies.items():
        try:
            strategy = _strategy(config, kind, options, space)
        except StrategyError as err:
            raise CampaignError(f"strategies.{name}: {err}") from None
        _first_proposal(name, strategy)
    _check_final(config, trainable, data)
    _check_gpu(config, cuda_available)
    _check_trainables_environment()
    _warn_without_checkpoints(config, trainable)
    shipped = code_folder(config.trainable) if ship_code else None
    return CampaignPlan(config, space, trainable, data, fixed, strategies, shipped)


def _check_objectives(config: CampaignConfig, trainable: TrainableSpec, data: Any) -> None:
    """Every objective and every hard limit reads a metric the trainable reports, one that
    fits the data (``val_r2`` needs regression data)."""
    reported = sorted(trainable.metrics - {"epoch"})
    fields = ([("metric", config.metric)] if config.objectives is None
              else [(f"objectives.{name}", name) for name in config.objectives])
    fields += [(f"constraints.{name}", name) for name in config.constraints]
    for field, metric in fields:
        if metric not in reported:
            raise CampaignError(
                f"{field}: trainable '{trainable.name}' does not report {metric!r}; "
                f"it reports: {', '.join(reported)}."
            )
        _check_metric_fits_data(field, metric, trainable, data)


def _check_final(config: CampaignConfig, trainable: TrainableSpec, data: Any) -> None:
    """``final:`` asks for a model this trainable can deliver: a bundled family with a
    predictor, or the user's own function (whose model is the one it returns)."""
    final = config.final
    if final.epochs != "best" and final.refit == "none":
        raise CampaignError(
            f"final.epochs: {final.epochs} applies to a refit, but final.refit is 'none' (the "
            "best trial's weights are kept as they are); set final.refit to 'train' or "
            "'train+val', or leave final.epochs out.")
    if final.epochs != "best" and "epochs" not in trainable.field_names():
        raise CampaignError(
            f"final.epochs: trainable '{trainable.name}' has no 'epochs' knob to set; leave "
            "final.epochs out (the refit trains as its config says).")
    if final.trains_on_val and not isinstance(data, (Dataset, TorchDatasetSplits)):
        raise CampaignError(
            f"final.refit: 'train+val' joins the training and validation splits that "
            f"sweepforge made, but the loader's data is a {type(data).__name__} handed to "
            "train unchanged; use 'train' (or have the loader return (X, y), a dict of "
            "train/val/test splits, a DataFrame or a map-style torch Dataset).")
    if final.refit == "none" and not final.register_as:
        return
    from sweepforge.trainables.predictors import has_predictor  # (imports torch)

    own = isinstance(trainable, FunctionTrainableSpec)  # (its model is what it returns)
    refused = None if own else has_predictor(trainable.name)
    if refused is not None:
        asked = "final.register" if final.register_as else "final.refit"
        raise CampaignError(f"{asked}: no model to deliver: {refused}.")


def _field_message(field: str, err: ConfigError) -> str:
    """``err``'s message led by the campaign field it is about (once)."""
    text = str(err)
    return text if text.startswith(field) else f"{field}: {text}"


def _warn_without_checkpoints(config: CampaignConfig, trainable: TrainableSpec) -> None:
    if (isinstance(trainable, FunctionTrainableSpec) and not trainable.supports_checkpoint
            and config.budget.max_epochs > 1):
        warnings.warn(
            f"trainable {trainable.name} takes no `checkpoint` argument: a trial that is retried "
            "(max_failures), moved off a lost node or resumed after a kill starts again from "
            "epoch 0 (README, \"Search your own model\", says how to keep a checkpoint).",
            UserWarning, stacklevel=3,
        )


def _load_loader_data(source: LoaderSource, seed: int) -> Any:
    """Calls the user's loader once and makes its result the train functions' data."""
    try:
        load = source.ref.load(field="dataset.loader")
    except ConfigError as err:
        raise CampaignError(str(err)) from None
    try:
        result = load()
    except Exception as err:  # noqa: BLE001  (the user's code: any error, shown whole)
        shown = "".join(traceback.format_exception(err)).rstrip()
        raise CampaignError(f"dataset.loader: {source} raised:\n{shown}") from None
    try:
        return dataset_from_loader(result, name=str(source), seed=seed, target=source.target,
                                   task=source.task, categorical=source.categorical)
    except ConfigError as err:
        raise CampaignError(_field_message(f"dataset.{err.field or 'loader'}", err)) from None


def _load_data(config: CampaignConfig, trainable: TrainableSpec) -> Any:
    """The campaign's dataset, split with its seed: a registered one the trainable lists, the
    user's table (any table whose task the trainable trains on), or what the user's loader
    returns (a :class:`Dataset`, or the user's own kind of data for their own function)."""
    source = config.dataset
    if isinstance(source, LoaderSource):
        data = _load_loader_data(source, config.seed)
        if not isinstance(trainable, FunctionTrainableSpec) and (
                not isinstance(data, Dataset) or data.task not in trainable.data_tasks):
            got = f"{data.task} data" if isinstance(data, Dataset) else type(data).__name__
            raise CampaignError(
                f"dataset.loader: {source} gives {got}, but trainable '{trainable.name}' trains "
                f"on {' or '.join(trainable.data_tasks)} data; return (X, y) of that kind."
            )
        return data
    if isinstance(source, TableSource):
        try:
            data = load_campaign_dataset(source, config.seed)
        except ConfigError as err:
            raise CampaignError(f"dataset.{err.field or 'path'}: {err}") from None
        if data.task not in trainable.data_tasks:
            raise CampaignError(
                f"dataset.task: table '{source.path}' is {data.task} data (target "
                f"{source.target!r}), but trainable '{trainable.name}' trains on "
                f"{' or '.join(trainable.data_tasks)} data."
            )
        return data
    if not isinstance(trainable, FunctionTrainableSpec) and source not in trainable.datasets:
        raise CampaignError(
            f"dataset: trainable '{trainable.name}' does not accept dataset {source!r}; "
            f"it accepts: {', '.join(trainable.datasets)} (or your own table: "
            "{path: ..., target: ...})."
        )
    try:
        return load_campaign_dataset(source, config.seed)
    except ConfigError as err:
        raise CampaignError(f"dataset: {err}") from None


# Metrics only one kind of target has. A "supervised" family learns whatever target its data
# has (e.g. entity_embedding: class labels or prices), so it declares both kinds of metric but
# reports only the ones of its data.
_TARGET_METRICS = {"accuracy": "classification", "r2": "regression", "mae": "regression",
                   "mape": "regression"}


def _check_metric_fits_data(field: str, metric: str, trainable: TrainableSpec,
                            data: Dataset) -> None:
    if trainable.task != "supervised":
        return
    needs = _TARGET_METRICS.get(metric.split("_", 1)[-1])
    if needs is not None and needs != data.task:
        fitting = sorted(
            m for m in trainable.metrics - {"epoch"}
            if _TARGET_METRICS.get(m.split("_", 1)[-1], data.task) == data.task
        )
        raise CampaignError(
            f"{field}: {metric!r} needs {needs} data, but dataset '{data.name}' is {data.task} "
            f"data; trainable '{trainable.name}' reports on it: {', '.join(fitting)}."
        )


def _select_strategies(
    config: CampaignConfig, only: Sequence[str] | None
) -> dict[str, tuple[str, dict[str, Any]]]:
    kinds = config.strategy_kinds()
    if not only:
        return kinds
    unknown = [name for name in only if name not in kinds]
    if unknown:
        raise CampaignError(
            f"--strategies: {', '.join(unknown)} not in this campaign; it has: {', '.join(kinds)}."
        )
    return {name: kinds[name] for name in only}


def _fixed_values(config: CampaignConfig, space: Space, trainable: TrainableSpec) -> dict[str, Any]:
    fields = trainable.field_names()
    fixed = dict(config.fixed)
    for where, names in (("space", space.names), ("fixed", list(fixed))):
        for name in names:
            if name not in fields:
                raise CampaignError(
                    f"{where}.{name}: trainable '{trainable.name}' has no knob {name!r}; "
                    f"its knobs are: {', '.join(fields)}."
                )
    both = sorted(set(fixed) & set(space.names))
    if both:
        raise CampaignError(f"fixed: {both} are also in the space; a knob is either fixed or searched.")
    if "epochs" in fields and "epochs" not in space and "epochs" not in fixed:
        fixed["epochs"] = config.budget.max_epochs
    return fixed


def _check_knobs(
    space: Space, fixed: dict[str, Any], trainable: TrainableSpec, data: Dataset,
    config: CampaignConfig,
) -> None:
    """Builds the trainable's config at every extreme of every parameter, against the data;
    the other parameters at their first extreme (not the trainable's defaults, which the
    space replaces: a default batch size larger than a small table is never trained)."""
    base = {**{param.name: _extremes(param)[0] for param in space}, **fixed}
    try:
        made = trainable.make_config(base, data)
    except ConfigError as err:
        if err.field in space.names:
            raise CampaignError(f"space.{err.field}: {err}") from None
        if err.field and err.field not in fixed:  # a default the campaign file never set
            raise CampaignError(
                f"{err.field} (trainable {trainable.name!r}'s default; the campaign does not set "
                f"it): {err}; set it under `fixed:` or search it in `space:`") from None
        raise CampaignError(f"fixed: {err}") from None
    if "epochs" in fixed:
        _check_epochs("fixed.epochs", made, config)
    for param in space:
        for value in _extremes(param):
            try:
                made = trainable.make_config({**base, param.name: value}, data)
            except ConfigError as err:
                raise CampaignError(f"space.{param.name}: {err}") from None
            if param.name == "epochs":
                _check_epochs("space.epochs", made, config)


def _check_epochs(field: str, made: Any, config: CampaignConfig) -> None:
    """A trial's epochs within ``budget.max_epochs``: the schedulers' last rung and the epoch
    budget count whole trials by it."""
    epochs, most = getattr(made, "epochs", None), config.budget.max_epochs
    if isinstance(epochs, int) and epochs > most:
        raise CampaignError(
            f"{field}: {epochs} epochs exceeds budget.max_epochs={most}; lower it, or raise "
            "budget.max_epochs.")


def _extremes(param: Float | Int | Categorical) -> list[Any]:
    if isinstance(param, Categorical):
        return list(param.choices)
    return [param.low, param.high]


def _check_trainables_environment() -> None:
    # A bad environment variable the trainables read would otherwise fail every trial.
    try:
        check_environment()
    except ConfigError as err:
        raise CampaignError(str(err)) from None


def _check_gpu(config: CampaignConfig, cuda_available: bool | None) -> None:
    if config.resources.gpu <= 0:
        return
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    if not cuda_available:
        raise CampaignError(
            f"resources.gpu: {config.resources.gpu} GPU(s) per trial were asked for, but this machine "
            "has no CUDA GPU that PyTorch can use. Set `resources: {gpu: 0}` to run on the CPU, or "
            "pass --address to join a Ray cluster that has GPUs."
        )
