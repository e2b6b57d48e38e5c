"""The campaign file: its schema (:class:`CampaignConfig`) and loading it from YAML.

A campaign file, every key (see README for the full reference)::

    name: quickstart            # MLflow experiment name; letters, digits, - _ .
    trainable: mlp              # a registered trainable (sweepforge.trainables.list_trainables()),
                                # or your own function: ./my_model.py:train, my_package.models:train
    dataset: digits             # a dataset that trainable accepts, or your own table:
                                # {path: sales.csv, target: price, categorical: [shop], task: regression}
                                # or your own loader: {loader: ./my_data.py:load}
    metric: val_accuracy        # a metric the trainable reports every epoch
    mode: max                   # max | min
    objectives: null            # instead of metric/mode, several: {val_accuracy: max, n_params: min}
    constraints: {}             # hard limits on reported metrics: {n_params: {max: 100000}}
    reference: null             # hypervolume's reference point: {val_accuracy: 0.5, n_params: 1e6}
    seed: 0                     # data split, trial seeds and every strategy's RNG
    budget: {trials: 20, max_epochs: 15}   # and/or epochs: 300 (total epochs per strategy)
    resources: {cpu: 1, gpu: 0}
    max_concurrent_trials: null # default: as many as the resources allow
    max_failures: 0             # restarts of a failed trial (from its last checkpoint)
    trial_timeout_s: null       # seconds a trial may run; past it the trial is stopped, FAILED
    scheduler: null             # early stopping or PBT: asha | hyperband | median | pbt, or
                                # {type: asha, grace_period: 1, reduction_factor: 3} (see below)
    fixed: {}                   # trainable knobs held constant (not searched)
    space: {...}                # see sweepforge.spaces
    strategies: {grid: {}, random: {}, optuna: {sampler: tpe}, evolutionary: {}}

Only ``yaml.safe_load`` reads the file.
"""

from __future__ import annotations

import os
import posixpath
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from sweepforge.trainables.user_code import FunctionRef, is_function_ref


class CampaignError(ValueError):
    """A campaign file or option is invalid; the message names the field, value and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(_Strict):
    """How much every strategy gets: ``trials`` trials of at most ``max_epochs`` epochs each,
    and/or ``epochs`` epochs in total (what a strategy with early stopping spends fairly).

    With ``epochs``, a strategy starts a trial only while its epochs spent plus what its running
    trials may still train leave room for a whole trial of ``max_epochs``: it never exceeds the
    total. Give ``trials`` too to cap the number of trials as well.
    """

    trials: int | None = Field(default=None, ge=1, description="trials per strategy")
    max_epochs: int = Field(default=10, ge=1, description="epochs per trial")
    epochs: int | None = Field(default=None, ge=1, description="epochs in total per strategy")

    @model_validator(mode="after")
    def _some_budget(self) -> Budget:
        if self.trials is None and self.epochs is None:
            raise ValueError("give `trials` (per strategy), `epochs` (in total per strategy) or both")
        if self.epochs is not None and self.epochs < self.max_epochs:
            raise ValueError(
                f"epochs={self.epochs} is less than one whole trial (max_epochs={self.max_epochs}); "
                "it must be at least max_epochs"
            )
        return self

    @property
    def trial_cap(self) -> int:
        """Trials a strategy may ask at most: ``trials``, else one per epoch of ``epochs``."""
        return self.trials if self.trials is not None else int(self.epochs or 0)


class Resources(_Strict):
    """What one trial reserves on a Ray worker; fractions allowed (``gpu: 0.5`` shares a GPU)."""

    cpu: float = Field(default=1.0, gt=0)
    gpu: float = Field(default=0.0, ge=0)


class TableSource(_Strict):
    """The user's own table as a campaign's dataset: a CSV or parquet file and its target.

    A relative ``path`` is resolved against the campaign file's folder (against the working
    directory when the campaign is not read from a file); it is stored absolute, so Ray workers
    read the same file. The file itself is read and checked when the campaign is planned (see
    :func:`sweepforge.trainables.tables.load_table`). ``str()`` gives the path: that is what
    MLflow shows as the campaign's ``dataset``.

    Example:
        >>> source = TableSource(path="/data/sales.csv", target="sales", categorical=["shop"])
        >>> str(source), source.categorical
        ('/data/sales.csv', ('shop',))
    """

    path: str = Field(description="a .csv or .parquet file")
    target: str = Field(description="the column to predict")
    categorical: tuple[str, ...] = Field(default=(), description="feature columns of categories")
    task: Literal["classification", "regression"] | None = Field(
        default=None, description="default: inferred from the target column"
    )

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str, info: ValidationInfo) -> str:
        if not path.strip():
            raise ValueError("must name a .csv or .parquet file")
        base = (info.context or {}).get("base_dir") or os.getcwd()
        return os.path.abspath(os.path.join(base, os.path.expanduser(path)))

    @field_validator("categorical", mode="before")
    @classmethod
    def _list_of_columns(cls, value: Any) -> Any:
        if isinstance(value, str):
            # a ValueError, not a TypeError: pydantic reports only ValueErrors as field errors
            raise ValueError(f"must be a list of column names, e.g. [{value}]")
        return value

    def __str__(self) -> str:
        return self.path


class LoaderSource(_Strict):
    """The user's own data, from a function they name: ``dataset: {loader: ./my_data.py:load}``.

    The loader is called once, in the master, while the campaign is planned; what it returns
    becomes the train function's data (:mod:`sweepforge.trainables.user_data`). A file's path
    is resolved against the campaign file's folder and stored absolute. ``str()`` gives
    ``module:function``, what MLflow shows as the campaign's ``dataset``.

    Example:
        >>> str(LoaderSource(loader="my_package.data:load"))
        'my_package.data:load'
    """

    loader: str = Field(description="path/to/file.py:function or package.module:function")
    target: str | None = Field(default=None, description="a DataFrame's target column")
    categorical: tuple[str, ...] = Field(default=(), description="a DataFrame's category columns")
    task: Literal["classification", "regression"] | None = Field(
        default=None, description="default: inferred from the target"
    )

    @field_validator("loader")
    @classmethod
    def _absolute(cls, loader: str, info: ValidationInfo) -> str:
        base = (info.context or {}).get("base_dir")
        return FunctionRef.parse(loader, base, field="dataset.loader").as_text()

    @property
    def ref(self) -> FunctionRef:
        return FunctionRef.parse(self.loader, field="dataset.loader")

    def __str__(self) -> str:
        return self.ref.name


SCHEDULER_OPTIONS: dict[str, dict[str, Any]] = {
    "asha": {"grace_period": 1, "reduction_factor": 3.0, "brackets": 1, "metric": None},
    "hyperband": {"reduction_factor": 3.0, "brackets": 3, "metric": None},
    "median": {"grace_period": 1, "min_samples_required": 3, "metric": None},
    "pbt": {"perturbation_interval": 2, "mutations": None, "quantile": 0.25,
            "resample_probability": 0.25, "perturbation_factors": (1.2, 0.8), "burn_in_period": 0},
}
"""Each scheduler type and its options with their defaults (``None``: required, or for
``metric``: the campaign's metric)."""


class Bound(_Strict):
    """One hard limit of ``constraints:``: ``{max: 100000}``, ``{min: 0.9}`` or both."""

    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Bound:
        if self.max is None and self.min is None:
            raise ValueError("give `max`, `min` or both, e.g. {max: 100000}")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"min={self.min:g} is above max={self.max:g}: no value can keep it")
        return self


class FinalModel(_Strict):
    """``final:`` of a campaign: the model it ends with, after every strategy has run.

    * ``refit``: ``none`` (default) keeps the weights of the campaign's best trial;
      ``train`` trains its config once more on the training split, to ``epochs``;
      ``train+val`` on the training and validation splits together. A refit is evaluated on the
      test split and logged as the campaign run's model.
    * ``epochs``: ``best`` (default) trains as many epochs as the best trial's config says (a
      trial a scheduler stopped early is refit to its full epochs), or a number.
    * ``register``: a registered model name in the MLflow Model Registry; the final model
      becomes a new version of it.

    Every strategy's best trial is logged as an MLflow Model whatever ``final`` says.

    Example:
        >>> FinalModel.model_validate({"refit": "train+val", "register": "digits-mlp"}).epochs
        'best'
    """

    refit: Literal["none", "train", "train+val"] = "none"
    epochs: Literal["best"] | int = Field(default="best", description="'best' or a number >= 1")
    # `register` in the file; a field of that name would hide pydantic's BaseModel.register
    register_as: str | None = Field(default=None, alias="register")

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=False,
                              validate_by_alias=True, serialize_by_alias=True)

    @property
    def trains_on_val(self) -> bool:
        """Whether the refit trains on the validation split too (``train+val``): its validation
        value is then not held out."""
        return self.refit == "train+val"

    @field_validator("register_as")
    @classmethod
    def _registry_name(cls, name: str | None) -> str | None:
        """The names MLflow's Model Registry takes (its stores check the same rules; a test
        holds this to the real Registry): not blank, no '/' or ':', and not one a path would
        resolve to another name ('.', '..', '..x')."""
        if name is None:
            return None
        if not name.strip():
            raise ValueError("must name a registered model, e.g. digits-mlp")
        if "/" in name or ":" in name:
            raise ValueError("a registered model's name cannot hold '/' or ':'")
        normal = posixpath.normpath(name)
        if normal != name or normal == "." or normal.startswith(".."):
            raise ValueError(f"MLflow refuses names that resolve to another name as a path "
                             f"(this one to {normal!r})")
        return name

    @field_validator("epochs", mode="before")
    @classmethod
    def _whole_epochs(cls, epochs: Any) -> Any:
        if epochs == "best" or (isinstance(epochs, int) and not isinstance(epochs, bool)
                                and epochs >= 1):
            return epochs
        raise ValueError("must be 'best' or a whole number of epochs >= 1")


class SchedulerConfig(_Strict):
    """``scheduler:`` of a campaign: one of Ray Tune's trial schedulers, applied to every strategy.

    * ``asha``: asynchronous successive halving (``grace_period`` epochs before any stop,
      ``reduction_factor``, ``brackets``);
    * ``hyperband``: asynchronous Hyperband, i.e. ASHA over several brackets, each with a larger
      grace period (``reduction_factor``, ``brackets``). Tune's synchronous
      ``HyperBandScheduler`` halves a bracket only once it is full (27 trials at the first rung
      for 27 epochs and a factor of 3), so with trials proposed one at a time it stopped nothing
      in a 36-trial campaign;
    * ``median``: the median stopping rule (``grace_period``, ``min_samples_required``);
    * ``pbt``: population-based training (``perturbation_interval`` epochs, ``mutations``: the
      searched parameters it may change, ``quantile``, ``resample_probability``,
      ``perturbation_factors``, ``burn_in_period``).

    ``metric`` (ASHA, Hyperband, median): the metric it compares trials on; by default the
    campaign's. With several ``objectives`` it must name one of them (PBT is refused).

    A bare name (``scheduler: asha``) takes the defaults of :data:`SCHEDULER_OPTIONS`.

    Example:
        >>> SchedulerConfig.model_validate("asha").grace_period
        1
    """

    type: Literal["asha", "hyperband", "median", "pbt"]
    grace_period: int | None = Field(default=None, ge=1)
    reduction_factor: float | None = Field(default=None, gt=1)
    brackets: int | None = Field(default=None, ge=1)
    min_samples_required: int | None = Field(default=None, ge=1)
    perturbation_interval: int | None = Field(default=None, ge=1)
    burn_in_period: int | None = Field(default=None, ge=0)
    mutations: tuple[str, ...] | None = Field(default=None, min_length=1)
    quantile: float | None = Field(default=None, gt=0, le=0.5)
    resample_probability: float | None = Field(default=None, ge=0, le=1)
    perturbation_factors: tuple[float, float] | None = None
    metric: str | None = Field(default=None, description="the objective it stops trials on")

    @model_validator(mode="before")
    @classmethod
    def _options_of_its_type(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            raw = {"type": raw}
        if not isinstance(raw, dict):
            return raw
        kind = raw.get("type")
        if kind not in SCHEDULER_OPTIONS:
            raise ValueError(
                f"unknown scheduler type {kind!r}; choose one of {', '.join(SCHEDULER_OPTIONS)}"
            )
        allowed = SCHEDULER_OPTIONS[kind]
        # another type's option left empty is no option: a dumped config (a journal's header,
        # the campaign.yaml logged to MLflow) holds every field, null where it does not apply
        raw = {key: value for key, value in raw.items() if value is not None or key in allowed}
        unknown = sorted(set(raw) - set(allowed) - {"type"})
        if unknown:
            raise ValueError(
                f"scheduler {kind!r} has no option {', '.join(map(repr, unknown))}; "
                f"its options are: {', '.join(allowed)}"
            )
        if kind == "pbt" and not raw.get("mutations"):
            raise ValueError(
                "scheduler 'pbt' needs `mutations`: the searched parameters it may change, "
                "e.g. mutations: [lr, dropout]"
            )
        return {**allowed, **raw}


def _dataset_kind(value: Any) -> str:
    if isinstance(value, LoaderSource) or (isinstance(value, dict) and "loader" in value):
        return "loader"
    return "table" if isinstance(value, (dict, TableSource)) else "name"


DatasetChoice = Annotated[
    Annotated[str, Tag("name")] | Annotated[TableSource, Tag("table")]
    | Annotated[LoaderSource, Tag("loader")],
    Discriminator(_dataset_kind),
]
"""A registered dataset's name, a :class:`TableSource` or a :class:`LoaderSource` mapping."""


class CampaignConfig(_Strict):
    """A validated campaign file. Build it with :func:`load_campaign_config`.

    Example:
        >>> CampaignConfig(name="demo", trainable="mlp", dataset="digits",
        ...                metric="val_accuracy", budget={"trials": 4},
        ...                space={"lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": True}},
        ...                strategies={"random": {}}).budget.trials
        4
    """

    name: str
    trainable: str
    dataset: DatasetChoice
    metric: str
    mode: Literal["max", "min"] = "max"
    objectives: dict[str, Literal["max", "min"]] | None = Field(
        default=None, description="several objectives, each 'max' or 'min' (then no metric/mode)")
    constraints: dict[str, Bound] = Field(default_factory=dict)
    reference: dict[str, float] | None = Field(
        default=None, description="the hypervolume's reference point, one value per objective")
    seed: int = 0
    budget: Budget
    resources: Resources = Resources()
    max_failures: int = Field(
        default=0, ge=0, le=100,
        description="times Ray Tune restarts a failed trial from its last checkpoint",
    )
    max_concurrent_trials: int | None = Field(default=None, ge=1)
    trial_timeout_s: float | None = Field(
        default=None, gt=0, description="seconds a trial may run before it is stopped as FAILED"
    )
    scheduler: SchedulerConfig | None = None
    final: FinalModel = FinalModel()
    fixed: dict[str, Any] = Field(default_factory=dict)
    space: dict[str, Any]
    strategies: dict[str, dict[str, Any]]

    @property
    def trainable_name(self) -> str:
        """What MLflow, the tables and the report show: a bundled name, or ``module:function``."""
        return FunctionRef.parse(self.trainable).name if is_function_ref(self.trainable) else self.trainable

    @field_validator("trainable")
    @classmethod
    def _trainable_ref(cls, trainable: str, info: ValidationInfo) -> str:
        """A bundled name as it is; a function reference with its file's path made absolute
        (resolved against the campaign file's folder), so a resume from anywhere finds it."""
        if not is_function_ref(trainable):
            return trainable
        return FunctionRef.parse(trainable, (info.context or {}).get("base_dir")).as_text()

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
            raise ValueError(
                "must start with a letter or digit and hold only letters, digits, '-', '_' or '.' "
                "(at most 100 characters), since it names an MLflow experiment and folders"
            )
        return name

    @model_validator(mode="before")
    @classmethod
    def _objectives_or_metric(cls, raw: Any) -> Any:
        """``objectives:`` replaces ``metric``/``mode``: its first objective becomes the
        campaign's metric (the best trial, the model, the schedulers' default)."""
        if not isinstance(raw, dict) or raw.get("objectives") is None:
            return raw
        given = [key for key in ("metric", "mode") if key in raw]
        if given:
            raise ValueError(
                f"give either `objectives` (several, each max or min) or `metric`/`mode` (one), "
                f"not both; this file has objectives and {' and '.join(given)}: move "
                f"{raw.get('metric', 'the metric')} into objectives")
        objectives = raw["objectives"]
        if not isinstance(objectives, dict) or not objectives:
            raise ValueError(
                "objectives: must map each metric to max or min, e.g. "
                f"{{val_accuracy: max, n_params: min}} (got {objectives!r})")
        first = next(iter(objectives))
        mode = {"mode": objectives[first]} if objectives[first] in ("max", "min") else {}
        return {**raw, "metric": first, **mode}  # (a misspelt direction: objectives' error)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Dumped as it was written: with ``objectives``, no ``metric``/``mode`` (a dump is read
        back on resume)."""
        data = handler(self)
        if self.objectives is not None:
            data.pop("metric", None)
            data.pop("mode", None)
        return data

    @property
    def objective_directions(self) -> dict[str, str]:
        """Every objective and its direction: ``objectives``, or ``{metric: mode}``."""
        return dict(self.objectives) if self.objectives is not None else {self.metric: self.mode}

    @property
    def multi_objective(self) -> bool:
        """True with more than one objective."""
        return len(self.objective_directions) > 1

    @model_validator(mode="after")
    def _objectives_fit(self) -> CampaignConfig:
        objectives = self.objective_directions
        if self.reference is not None and set(self.reference) != set(objectives):
            raise ValueError(
                f"reference: must give one value for each objective ({', '.join(objectives)}), "
                f"got {', '.join(self.reference) or 'none'}")
        scheduler = self.scheduler
        if scheduler is None:
            return self
        if scheduler.metric is not None and scheduler.metric not in objectives:
            raise ValueError(
                f"scheduler.metric: {scheduler.metric!r} is not an objective of this campaign; "
                f"it stops trials on one of: {', '.join(objectives)}")
        if len(objectives) > 1 and scheduler.type == "pbt":
            raise ValueError(
                "scheduler: 'pbt' exploits the best trials by one metric, but the campaign has "
                f"{len(objectives)} objectives ({', '.join(objectives)}); use asha, hyperband "
                "or median with scheduler.metric, or one objective")
        if len(objectives) > 1 and scheduler.metric is None:
            raise ValueError(
                f"scheduler.metric: {scheduler.type} stops trials on one metric, and the campaign "
                f"has {len(objectives)} objectives; name the one it compares trials on, e.g. "
                f"{{type: {scheduler.type}, metric: {next(iter(objectives))}}}")
        return self

    @field_validator("strategies")
    @classmethod
    def _some_strategies(cls, strategies: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if not strategies:
            raise ValueError("must name at least one strategy, e.g. {random: {}}")
        for name in strategies:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,49}", name):
                raise ValueError(f"strategy name {name!r} must hold only letters, digits, '-', '_' or '.'")
            if name == "final":
                raise ValueError("strategy name 'final' is taken by the final refit (final.refit); "
                                 "name the strategy otherwise, e.g. final_tpe: {kind: optuna}")
        return strategies

    def strategy_kinds(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """Each strategy's run name -> (kind, options). ``kind`` defaults to the name itself,
        so ``optuna_gp: {kind: optuna, sampler: gp}`` runs a second Optuna strategy."""
        out = {}
        for name, options in self.strategies.items():
            options = dict(options or {})
            out[name] = (str(options.pop("kind", name)), options)
        return out


def load_campaign_config(path: str | Path) -> CampaignConfig:
    """Reads and validates a campaign YAML file; raises :class:`CampaignError` on any problem."""
    path = Path(path)
    if not path.is_file():
        raise CampaignError(f"campaign file '{path}' does not exist (or is not a file).")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except DuplicateKeyError as err:
        raise CampaignError(f"campaign file '{path}': {err}") from None
    except yaml.YAMLError as err:
        raise CampaignError(f"campaign file '{path}' is not valid YAML: {err}") from None
    except UnicodeDecodeError as err:
        raise CampaignError(f"campaign file '{path}' is not UTF-8 text: {err}") from None
    if not isinstance(raw, dict):
        raise CampaignError(
            f"campaign file '{path}' must hold a mapping of keys (name, trainable, ...), "
            f"got {type(raw).__name__}."
        )
    return parse_campaign_config(raw, source=str(path), base_dir=path.parent)


class DuplicateKeyError(yaml.YAMLError):
    """A mapping in the campaign file gives the same key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader (it builds plain Python values only, never objects), except
    that a key given twice in one mapping is an error instead of the last one silently winning:
    ``space: {lr: ..., lr: ...}`` would otherwise search one of the two ranges."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader's own error says so below
                continue
            seen[key] = line
            if first is not None:
                raise DuplicateKeyError(
                    f"key {key!r} is given twice (lines {first} and {line}); a key may appear "
                    "only once in a mapping: keep one of them."
                )
        return super().construct_mapping(node, deep=deep)


def parse_campaign_config(
    raw: dict[str, Any], source: str = "campaign", base_dir: str | Path | None = None
) -> CampaignConfig:
    """Validates a campaign mapping; errors list every bad field with what is allowed.

    ``base_dir`` is where a relative ``dataset.path`` starts (default: the working directory).
    """
    try:
        context = {"base_dir": os.fspath(base_dir) if base_dir is not None else None}
        return CampaignConfig.model_validate(raw, context=context)
    except ValidationError as err:
        raise CampaignError(f"{source}: invalid campaign:\n" + _explain(err)) from None


def _explain(err: ValidationError) -> str:
    lines = []
    for issue in err.errors():
        loc = _without_tags(issue["loc"])
        where = ".".join(str(part) for part in loc) or "(top level)"
        if issue["type"] == "extra_forbidden":
            model = _model_at(issue["loc"][:-1])  # (with a union's tag: it names the model)
            allowed = (", ".join(f.alias or name for name, f in model.model_fields.items())
                       if model else "see the README")
            lines.append(f"  - unknown key '{where}'; allowed keys here: {allowed}")
        elif issue["type"] == "missing":
            lines.append(f"  - missing required key '{where}'")
        elif not loc:  # a rule across keys: its message names them
            lines.append("  - " + str(issue["msg"]).removeprefix("Value error, "))
        elif loc == ("dataset",):
            lines.append(
                f"  - dataset: must be a registered dataset's name or a mapping {{path: ..., "
                f"target: ..., categorical: [...], task: ...}} (got {issue.get('input')!r})"
            )
        else:
            message = str(issue["msg"]).removeprefix("Value error, ").removeprefix(f"{where}: ")
            lines.append(f"  - {where}: {message} (got {issue.get('input')!r})")
    return "\n".join(lines)


def _without_tags(loc: tuple) -> tuple:
    """``('dataset', 'table', 'target')`` -> ``('dataset', 'target')``: the union's tag is not a
    key of the file."""
    if len(loc) >= 2 and loc[0] == "dataset" and loc[1] in ("name", "table", "loader"):
        return (loc[0], *loc[2:])
    return tuple(loc)


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The model at pydantic's location ``loc``, where a tagged union's field is followed by
    the tag of the member that was validated (``('dataset', 'loader')``: :class:`LoaderSource`)."""
    model: type[BaseModel] = CampaignConfig
    parts = list(loc)
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        annotation = getattr(field, "annotation", None)
        if parts and dict in (typing.get_origin(a) for a in (annotation, *typing.get_args(annotation))):
            parts.pop(0)  # a mapping's key (constraints.<metric>): its values are the models
        members = _tagged_members(annotation)
        if parts and parts[0] in members:
            annotation = members[parts.pop(0)]
        found = _model_in(annotation)
        if found is None:
            return None
        model = found
    return model


def _tagged_members(annotation: Any) -> dict[str, Any]:
    """A tagged union's members by tag (``dataset``: name, table, loader); ``{}`` otherwise."""
    members = {}
    for member in typing.get_args(annotation):
        for meta in typing.get_args(member)[1:]:
            if isinstance(meta, Tag):
                members[meta.tag] = typing.get_args(member)[0]
    return members


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds: itself, or the one model of a union (``dataset``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
