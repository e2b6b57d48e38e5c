"""Hyperparameter importance over all trials, by Optuna's fANOVA evaluator.

The trials are copied into an in-memory Optuna study (distributions from
:func:`._rows.param_specs`), and ``optuna.importance.get_param_importances`` does the rest.
Knobs that some trials lack (conditional ones) are left out, since fANOVA needs every knob in
every trial; the note says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ._rows import ParamSpec, scored

# Optuna's fANOVA computes marginal variances in Python, so its cost grows faster than the
# trial count (about 3 min for 2,000 trials with its defaults on 2 CPUs). On the benchmark's
# 10,000-trial campaign these settings take 1.7 s and give the importances of the defaults on
# 2,000 trials within 0.005 (optimizer 0.62, lr 0.38, every other knob under 0.01).
MAX_TRIALS = 500  # above this, a seeded random sample of the scored trials
N_TREES = 32
MAX_DEPTH = 8

NO_VARIANCE = "No importance to show:"
# Optuna's fANOVA raises a RuntimeError with this when the metric varies in no tree.
ZERO_VARIANCE = "zero total variance in all trees"


@dataclass(frozen=True)
class Importance:
    """Importances (summing to 1) by knob, most important first; ``note`` explains gaps."""

    values: dict[str, float]
    note: str = ""


def importance(
    trials: pd.DataFrame, specs: list[ParamSpec], mode: str, seed: int = 0
) -> Importance:
    """fANOVA importance of each knob for the metric, over every scored trial."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    done = scored(trials)
    usable = [s for s in specs if not s.constant and s.present > 0]
    always = [s for s in usable if done["config"].map(lambda c, n=s.name: n in c).all()]
    notes = []
    partial = [s.name for s in usable if s not in always]
    if partial:
        notes.append(f"Left out because some trials do not set them: {', '.join(partial)}.")
    if len(done) < 2 or not always:
        why = "fewer than 2 scored trials" if len(done) < 2 else "no knob varies in every trial"
        return Importance({}, " ".join([f"Importance needs more data: {why}.", *notes]))
    if done["value"].astype(float).nunique() == 1:  # fANOVA would find no variance to share
        same = f"every scored trial has the same value ({float(done['value'].iloc[0]):.6g})"
        why = f"{same}, so no knob explains a difference"
        return Importance({}, " ".join([f"{NO_VARIANCE} {why}.", *notes]))
    if len(done) > MAX_TRIALS:
        done = done.sample(n=MAX_TRIALS, random_state=seed)
        notes.append(f"Computed on a random {MAX_TRIALS:,} of the scored trials (seed {seed}).")

    distributions = {s.name: _distribution(s) for s in always}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
    study.add_trials(
        [
            optuna.trial.create_trial(
                params={name: config[name] for name in distributions},
                distributions=distributions,
                value=float(value),
            )
            for config, value in zip(done["config"], done["value"])
        ]
    )
    evaluator = FanovaImportanceEvaluator(n_trees=N_TREES, max_depth=MAX_DEPTH, seed=seed)
    try:
        values = get_param_importances(study, evaluator=evaluator, params=list(distributions))
    except RuntimeError as err:
        # Trials that differ can still give no variance: a sample of them (above MAX_TRIALS),
        # or every tree's bootstrap draw, may hold only equal values.
        if ZERO_VARIANCE not in str(err):
            raise
        flat = "the metric varies too little across the trials for fANOVA to explain"
        return Importance({}, " ".join([f"{NO_VARIANCE} {flat}.", *notes]))
    return Importance({k: float(v) for k, v in values.items()}, " ".join(notes))


def _distribution(spec: ParamSpec):  # type: ignore[no-untyped-def]
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if spec.kind == "categorical":
        return CategoricalDistribution(list(spec.choices))
    if spec.kind == "int":
        return IntDistribution(int(spec.low or 0), int(spec.high or 0), log=spec.log)
    return FloatDistribution(spec.low or 0.0, spec.high or 0.0, log=spec.log)
