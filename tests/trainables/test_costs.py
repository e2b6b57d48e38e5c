"""The cost metrics (``n_params``, ``latency_ms``, ``train_s``) of every bundled family's final
metrics, and that measuring them changes no other metric.

Each family trains for real on a small bundled dataset. ``n_params`` is checked against the same
model built again by the family's own build function (and, for ``mlp`` and the linear models,
against the count worked out from the config). The surrogate ``lcbench`` trainable
(``benchmarks/lcbench.py``) is not a family of ``sweepforge.trainables`` and has no torch model
to count or time: it is left out, as are the test doubles other test modules register.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

from sweepforge.trainables import (
    COST_METRICS,
    MemoryCheckpointer,
    get_trainable,
    list_trainables,
    load_dataset,
)
from sweepforge.trainables._loop import TensorSplits, classification, fit
from sweepforge.trainables.costs import (
    TIMED_PASSES,
    WARMUP_PASSES,
    TrainClock,
    count_parameters,
    forward_latency_ms,
    model_costs,
)
from tests.trainables.cost_metrics import without_costs

BUNDLED = [name for name in list_trainables()
           if get_trainable(name).train_fn.__module__.startswith("sweepforge.trainables.")]

# name -> (dataset, config): two epochs each, small enough for a second or two on one thread; the
# families that draw random numbers while training (dropout, corruption, negative sampling) do.
CASES = {
    "mlp": ("iris", {"epochs": 2, "width": 16, "dropout": 0.2}),
    "mlp_regressor": ("diabetes", {"epochs": 2, "width": 16, "dropout": 0.1}),
    "linear_regression": ("diabetes", {"epochs": 2}),
    "logistic_regression": ("iris", {"epochs": 2}),
    "cnn": ("digits", {"epochs": 2, "width": 4, "depth": 2}),
    "resnet": ("digits", {"epochs": 2, "depth": 1}),
    "rnn": ("temporal_order", {"epochs": 2, "hidden_size": 8, "cell": "gru"}),
    "entity_embedding": ("store_sales", {"epochs": 2, "width": 16, "depth": 1, "batch_size": 64}),
    "autoencoder": ("digits", {"epochs": 2, "width": 32, "code_size": 4, "noise": "masking",
                               "noise_level": 0.2}),
    "unet": ("shapes", {"epochs": 2, "width": 2, "depth": 2, "dropout": 0.2}),
    "word2vec": ("python_docs", {"epochs": 2, "embedding_dim": 8}),
}


def _rebuilt(name, config, data) -> nn.Module:
    """The model family ``name`` trains for ``config`` on ``data``, built again from scratch."""
    n_outputs = data.n_classes if data.task == "classification" else 1
    if name in ("mlp", "mlp_regressor"):
        from sweepforge.trainables.mlp import build_mlp
        return build_mlp(config, data.n_features, n_outputs)
    if name in ("linear_regression", "logistic_regression"):
        from sweepforge.trainables.linear_regression import build_linear_model
        return build_linear_model(config, data.n_features, n_outputs)
    if name == "cnn":
        from sweepforge.trainables.cnn import build_cnn
        return build_cnn(config, data.image_shape, data.n_classes)
    if name == "resnet":
        from sweepforge.trainables.resnet import build_resnet
        return build_resnet(config, data.image_shape, data.n_classes)
    if name == "rnn":
        from sweepforge.trainables.rnn import build_rnn
        from sweepforge.trainables.sequence_datasets import sequence_shape
        return build_rnn(config, sequence_shape(data), n_outputs)
    if name == "entity_embedding":
        from sweepforge.trainables.entity_embedding import build_entity_embedding
        return build_entity_embedding(config, data, n_outputs)
    if name == "autoencoder":
        from sweepforge.trainables.autoencoder import build_autoencoder
        return build_autoencoder(config, data.n_features)
    if name == "unet":
        from sweepforge.trainables.unet import UNet
        return UNet(data.image_shape, data.n_classes, depth=config.depth, width=config.width,
                    activation=config.activation, batch_norm=config.batch_norm,
                    dropout=config.dropout)
    if name == "word2vec":
        from sweepforge.trainables.word2vec import Word2Vec
        size = len(data.vocabulary)
        return Word2Vec(torch.full((size,), 1 / size), torch.ones(size), dim=config.embedding_dim,
                        model=config.model, window=config.window, negatives=config.negatives)
    raise AssertionError(f"no builder for family {name!r}: add it here and to CASES")


@pytest.fixture(scope="module")
def datasets():
    return {dataset: load_dataset(dataset, seed=0) for dataset, _ in CASES.values()}


def test_every_bundled_family_has_a_case():
    assert sorted(CASES) == sorted(BUNDLED) and len(BUNDLED) == 11


@pytest.mark.parametrize("name", BUNDLED)
def test_final_metrics_hold_the_costs_of_the_trained_model(name, datasets):
    spec = get_trainable(name)
    dataset, values = CASES[name]
    data = datasets[dataset]
    config = spec.make_config(values, data)
    reports = []
    started = time.perf_counter()
    result = spec.train(config, data, reports.append, seed=7)
    wall_s = time.perf_counter() - started

    assert spec.metrics >= COST_METRICS  # what a campaign may name, and MLflow logs
    assert set(result) >= COST_METRICS and set(result) <= spec.metrics
    assert reports[-1] == result  # the last report carries them, with the test metrics
    assert all(not COST_METRICS & set(report) for report in reports[:-1])

    expected = sum(p.numel() for p in _rebuilt(name, config, data).parameters() if p.requires_grad)
    assert isinstance(result["n_params"], int) and result["n_params"] == expected > 0
    assert math.isfinite(result["latency_ms"]) and 0 < result["latency_ms"] < 1e3 * wall_s
    assert math.isfinite(result["train_s"]) and 0 < result["train_s"] < wall_s


@pytest.mark.parametrize("name", BUNDLED)
def test_measuring_the_costs_changes_no_other_metric(name, datasets):
    """Same seed, same metrics but the timings: twice straight, and 1 epoch + a resume (the
    costs of the 1-epoch run are measured before its checkpoint takes the RNG state, so a draw
    there would change epoch 2's dropout, noise or negative samples)."""
    spec = get_trainable(name)
    dataset, values = CASES[name]
    data = datasets[dataset]
    straight = spec.train(values, data, seed=7)
    again = spec.train(values, data, seed=7)
    assert without_costs(again) == without_costs(straight)
    assert again["n_params"] == straight["n_params"]

    keeper = MemoryCheckpointer()
    first = spec.train({**values, "epochs": 1}, data, seed=7, checkpoint=keeper)
    assert set(first) >= COST_METRICS and keeper.state["extra"]["train_s"] == first["train_s"]
    resumed = spec.train(values, data, seed=7, checkpoint=keeper)
    assert without_costs(resumed) == without_costs(straight)
    assert resumed["n_params"] == straight["n_params"]
    assert resumed["train_s"] > first["train_s"]  # epoch 1's seconds, from the checkpoint, + 2's

    # restored at its last epoch, nothing left to train: the saved metrics, costs included
    reports = []
    assert spec.train(values, data, reports.append, seed=7, checkpoint=keeper) == resumed
    assert reports == []


def test_mlp_metrics_are_those_from_before_the_costs_were_measured(datasets):
    """Values of the loop before cost metrics existed (torch 2.13 CPU, one thread). A different
    torch build may round differently in the last bits, hence rel=1e-6: a changed batch order or
    an extra random draw moves them by far more."""
    config = {"epochs": 3, "width": 16, "dropout": 0.2, "lr": 0.01, "batch_size": 16}
    result = get_trainable("mlp").train(config, datasets["iris"], seed=7)
    assert without_costs(result) == {
        "epoch": 3,
        "train_loss": pytest.approx(0.6024019453260634, rel=1e-6),
        "val_loss": pytest.approx(0.3473799526691437, rel=1e-6),
        "val_accuracy": pytest.approx(0.8666666746139526, rel=1e-6),
        "test_loss": pytest.approx(0.446204274892807, rel=1e-6),
        "test_accuracy": pytest.approx(0.8333333134651184, rel=1e-6),
    }
    # 4 inputs -> 16 -> 16 -> 3 classes, weights and biases
    assert result["n_params"] == (4 * 16 + 16) + (16 * 16 + 16) + (16 * 3 + 3) == 403


def test_linear_models_count_a_weight_per_input_and_output_plus_biases(datasets):
    linear = get_trainable("linear_regression").train({"epochs": 1}, datasets["diabetes"])
    logistic = get_trainable("logistic_regression").train({"epochs": 1}, datasets["iris"])
    assert linear["n_params"] == 10 * 1 + 1 and logistic["n_params"] == 4 * 3 + 3


def test_a_checkpoint_without_costs_gets_them_measured_when_restored(datasets):
    """A checkpoint written before the costs existed holds neither them nor ``train_s``: a trial
    restored at its last epoch measures size and latency then, and trained 0 s in this run."""
    spec, iris = get_trainable("mlp"), datasets["iris"]
    values = {"epochs": 2, "width": 16}
    keeper = MemoryCheckpointer()
    done = spec.train(values, iris, seed=1, checkpoint=keeper)
    keeper.state["metrics"] = without_costs(keeper.state["metrics"])
    del keeper.state["extra"]["train_s"]
    restored = spec.train(values, iris, seed=1, checkpoint=keeper)
    assert without_costs(restored) == without_costs(done)
    assert restored["n_params"] == done["n_params"] and restored["train_s"] == 0.0
    assert math.isfinite(restored["latency_ms"]) and restored["latency_ms"] > 0


def test_a_resumed_run_adds_its_training_seconds_to_the_checkpoints(datasets):
    spec, iris = get_trainable("mlp"), datasets["iris"]
    keeper = MemoryCheckpointer()
    spec.train({"epochs": 1}, iris, seed=1, checkpoint=keeper)
    keeper.state["extra"]["train_s"] = 1000.0  # as if epoch 1 had taken that long
    started = time.perf_counter()
    resumed = spec.train({"epochs": 2}, iris, seed=1, checkpoint=keeper)
    assert 1000.0 < resumed["train_s"] < 1000.0 + (time.perf_counter() - started)
    assert keeper.state["extra"]["train_s"] == resumed["train_s"]


def test_a_diverged_run_reports_nan_costs_like_every_other_metric(datasets):
    reports = []
    config = {"optimizer": "sgd", "lr": 1e10, "epochs": 5}
    result = get_trainable("mlp").train(config, datasets["iris"], reports.append)
    assert result["epoch"] < 5
    assert set(reports[-1]) == set(result) == get_trainable("mlp").metrics
    assert all(math.isnan(result[name]) for name in COST_METRICS)


class _Recorder(nn.Module):
    """A linear model that notes how it is called: mode, autograd, inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.calls: list[tuple[bool, bool, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((self.training, torch.is_grad_enabled(), x))
        return self.linear(x)


def test_latency_times_the_first_validation_batch_in_eval_mode_without_autograd():
    torch.manual_seed(0)
    splits = TensorSplits.from_dataset(load_dataset("iris", seed=0), torch.device("cpu"))
    model = _Recorder()
    result = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), splits, classification(),
                 epochs=1, batch_size=8, generator=torch.Generator().manual_seed(0))
    passes = WARMUP_PASSES + TIMED_PASSES
    # training batches, the validation split, the test split, then the latency passes
    latency, before = model.calls[-passes:], model.calls[-passes - 1]
    assert torch.equal(before[2], splits.x_test)
    for training, grad, x in latency:
        assert not training and not grad and torch.equal(x, splits.x_val[:8])
    assert result["n_params"] == 4 * 3 + 3 and result["latency_ms"] > 0


class _Noisy(nn.Module):
    """Draws from torch's global RNG even in eval mode (no bundled family does)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.frozen = nn.Parameter(torch.zeros(5), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x + torch.rand_like(x))


def test_latency_leaves_the_rng_the_weights_and_the_mode_alone():
    model = _Noisy().train()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    assert forward_latency_ms(model, torch.zeros(8, 4)) > 0
    assert torch.equal(torch.rand(4), expected)
    assert model.training
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def test_count_parameters_counts_trainable_ones_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared, _Noisy().linear)
    frozen = _Noisy()
    assert count_parameters(model) == 12 + 10
    assert count_parameters(frozen) == 10  # the 5 frozen values do not count


def test_model_costs_and_the_clock():
    clock = TrainClock(start_s=1.0)
    for _ in range(2):
        with clock:
            time.sleep(0.01)
    assert 1.02 <= clock.seconds < 2.0
    costs = model_costs(nn.Linear(4, 2), torch.zeros(3, 4), train_s=clock.seconds, repeats=1)
    assert costs["n_params"] == 10 and costs["train_s"] == clock.seconds
    with pytest.raises(ValueError, match="repeats >= 1"):
        forward_latency_ms(nn.Linear(4, 2), torch.zeros(3, 4), repeats=0)


def test_the_names_import_without_torch():
    """So that code which only checks a metric name (a campaign's config) need not load torch."""
    script = ("import sys\nfrom sweepforge.trainables import COST_METRICS\n"
              "print(sorted(COST_METRICS), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split("]")[1].strip() == "False"
    assert "'latency_ms', 'n_params', 'train_s'" in out.stdout
