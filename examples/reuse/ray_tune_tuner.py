"""A sweepforge trainable inside a plain Ray Tune ``Tuner``, checkpointed every epoch.

    python examples/reuse/ray_tune_tuner.py

Each epoch's metrics go to ``tune.report`` together with a checkpoint (model, optimizer, epoch,
RNG state), so Tune can resume a trial, and schedulers that copy trials (population-based
training) can clone one. Tune's ASHA scheduler stops poor trials early here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator

from sweepforge.trainables import DirectoryCheckpointer, get_trainable, load_dataset
from sweepforge.trainables.checkpoint import CHECKPOINT_FILE, State, load_state_file


class TuneCheckpointer:
    """Resumes from Tune's checkpoint of this trial; keeps each epoch's state for the report."""

    def __init__(self) -> None:
        self.latest: State | None = None

    def load(self) -> State | None:
        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as folder:
            return load_state_file(Path(folder) / CHECKPOINT_FILE)

    def save(self, state: State) -> None:
        self.latest = state  # the trainable saves before it reports; report() writes it out


def train_mlp_on_digits(config: dict[str, Any]) -> None:
    torch.set_num_threads(1)  # one CPU per trial (Tune's default): no oversubscription
    checkpointer = TuneCheckpointer()

    def report(metrics: dict[str, float]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            DirectoryCheckpointer(folder).save(checkpointer.latest)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    get_trainable("mlp").train(config, load_dataset("digits", seed=0), report, seed=0,
                               checkpoint=checkpointer)


def main(num_samples: int = 8, epochs: int = 8, storage: str | None = None) -> tune.ResultGrid:
    tuner = tune.Tuner(
        train_mlp_on_digits,
        param_space={
            "lr": tune.loguniform(1e-4, 3e-2),
            "optimizer": tune.choice(["nesterov", "adam"]),
            "width": tune.choice([32, 64, 128]),
            "epochs": epochs,
        },
        tune_config=tune.TuneConfig(
            metric="val_accuracy", mode="max", num_samples=num_samples,
            search_alg=BasicVariantGenerator(random_state=0),  # the same configs every run
            scheduler=ASHAScheduler(max_t=epochs, grace_period=2),
        ),
        run_config=tune.RunConfig(storage_path=storage or tempfile.mkdtemp(prefix="tune-"),
                                  verbose=0),
    )
    results = tuner.fit()
    best = results.get_best_result()
    print(f"best val_accuracy {best.metrics['val_accuracy']:.3f} with {best.config}")
    return results


if __name__ == "__main__":
    main()
