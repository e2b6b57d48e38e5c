"""The campaign file: its schema (:class:`CampaignConfig`) and loading it from YAML.

A campaign file, every key (see README for the full reference)::

    name: quickstart            # MLflow experiment name; letters, digits, - _ .
    trainable: mlp              # a registered trainable (sweepforge.trainables.list_trainables())
    dataset: digits             # a dataset that trainable accepts
    metric: val_accuracy        # a metric the trainable reports every epoch
    mode: max                   # max | min
    seed: 0                     # data split, trial seeds and every strategy's RNG
    budget: {trials: 20, max_epochs: 15}
    resources: {cpu: 1, gpu: 0}
    max_concurrent_trials: null # default: as many as the resources allow
    fixed: {}                   # trainable knobs held constant (not searched)
    space: {...}                # see sweepforge.spaces
    strategies: {grid: {}, random: {}, optuna: {sampler: tpe}, evolutionary: {}}

Only ``yaml.safe_load`` reads the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class CampaignError(ValueError):
    """A campaign file or option is invalid; the message names the field, value and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budget(_Strict):
    """How much every strategy gets: ``trials`` trials of at most ``max_epochs`` epochs each."""

    trials: int = Field(ge=1, description="trials per strategy")
    max_epochs: int = Field(default=10, ge=1, description="epochs per trial")


class Resources(_Strict):
    """What one trial reserves on a Ray worker; fractions allowed (``gpu: 0.5`` shares a GPU)."""

    cpu: float = Field(default=1.0, gt=0)
    gpu: float = Field(default=0.0, ge=0)


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
    dataset: str
    metric: str
    mode: Literal["max", "min"] = "max"
    seed: int = 0
    budget: Budget
    resources: Resources = Resources()
    max_concurrent_trials: int | None = Field(default=None, ge=1)
    fixed: dict[str, Any] = Field(default_factory=dict)
    space: dict[str, Any]
    strategies: dict[str, dict[str, Any]]

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
            raise ValueError(
                "must start with a letter or digit and hold only letters, digits, '-', '_' or '.' "
                "(at most 100 characters), since it names an MLflow experiment and folders"
            )
        return name

    @field_validator("strategies")
    @classmethod
    def _some_strategies(cls, strategies: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if not strategies:
            raise ValueError("must name at least one strategy, e.g. {random: {}}")
        for name in strategies:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,49}", name):
                raise ValueError(f"strategy name {name!r} must hold only letters, digits, '-', '_' or '.'")
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
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise CampaignError(f"campaign file '{path}' is not valid YAML: {err}") from None
    except UnicodeDecodeError as err:
        raise CampaignError(f"campaign file '{path}' is not UTF-8 text: {err}") from None
    if not isinstance(raw, dict):
        raise CampaignError(
            f"campaign file '{path}' must hold a mapping of keys (name, trainable, ...), "
            f"got {type(raw).__name__}."
        )
    return parse_campaign_config(raw, source=str(path))


def parse_campaign_config(raw: dict[str, Any], source: str = "campaign") -> CampaignConfig:
    """Validates a campaign mapping; errors list every bad field with what is allowed."""
    try:
        return CampaignConfig.model_validate(raw)
    except ValidationError as err:
        raise CampaignError(f"{source}: invalid campaign:\n" + _explain(err)) from None


def _explain(err: ValidationError) -> str:
    lines = []
    for issue in err.errors():
        where = ".".join(str(part) for part in issue["loc"]) or "(top level)"
        if issue["type"] == "extra_forbidden":
            model = _model_at(issue["loc"][:-1])
            allowed = ", ".join(model.model_fields) if model else "see the README"
            lines.append(f"  - unknown key '{where}'; allowed keys here: {allowed}")
        elif issue["type"] == "missing":
            lines.append(f"  - missing required key '{where}'")
        else:
            lines.append(f"  - {where}: {issue['msg']} (got {issue.get('input')!r})")
    return "\n".join(lines)


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] = CampaignConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model
