"""Checkpoints: exact resume, clones that keep their own learning rate, and safe loading."""

from __future__ import annotations

import pickle

import pytest
import torch

from sweepforge.trainables import (
    DirectoryCheckpointer,
    MemoryCheckpointer,
    get_trainable,
    load_dataset,
)
from sweepforge.trainables.checkpoint import CHECKPOINT_FILE, load_state_file
from sweepforge.trainables.components import dense as dense_module
from tests.trainables.cost_metrics import without_costs

# Dropout draws from torch's global RNG every step: resume is exact only if that RNG is restored.
NOISY_MLP = {"epochs": 3, "dropout": 0.3, "optimizer": "adam", "width": 32, "batch_size": 32}


@pytest.fixture(scope="module")
def wine():
    return load_dataset("wine", seed=0)


def test_resume_from_a_file_equals_a_straight_run(wine, tmp_path):
    spec = get_trainable("mlp")
    straight = spec.train(NOISY_MLP, wine, seed=5)
    spec.train({**NOISY_MLP, "epochs": 1}, wine, seed=5, checkpoint=DirectoryCheckpointer(tmp_path))
    assert (tmp_path / CHECKPOINT_FILE).is_file()
    assert load_state_file(tmp_path / CHECKPOINT_FILE)["epoch"] == 1
    resumed = spec.train(NOISY_MLP, wine, seed=5, checkpoint=DirectoryCheckpointer(tmp_path))
    assert without_costs(resumed) == without_costs(straight)


def test_a_finished_run_returns_its_saved_metrics_without_training(wine):
    spec, keeper = get_trainable("mlp"), MemoryCheckpointer()
    done = spec.train({**NOISY_MLP, "epochs": 2}, wine, seed=0, checkpoint=keeper)
    reports = []
    again = spec.train({**NOISY_MLP, "epochs": 2}, wine, reports.append, seed=0, checkpoint=keeper)
    assert again == done and reports == []


def test_a_clone_trains_with_its_own_learning_rate(wine):
    """What population-based training does: copy a good trial's state, change its knobs."""
    spec, parent = get_trainable("mlp"), MemoryCheckpointer()
    spec.train({**NOISY_MLP, "epochs": 1, "lr": 1e-3}, wine, seed=0, checkpoint=parent)
    child = MemoryCheckpointer(parent.state)
    spec.train({**NOISY_MLP, "epochs": 2, "lr": 0.05}, wine, seed=0, checkpoint=child)
    assert child.state["epoch"] == 2
    assert child.state["optimizer"]["param_groups"][0]["lr"] == 0.05
    assert parent.state["epoch"] == 1  # the parent's state is not changed by the clone


def test_a_pickled_object_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this would run on load",))

    path = tmp_path / CHECKPOINT_FILE
    path.write_bytes(pickle.dumps({"format": 1, "payload": Payload()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        DirectoryCheckpointer(tmp_path).load()


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / CHECKPOINT_FILE)
    with pytest.raises(ValueError, match="is not a sweepforge checkpoint"):
        DirectoryCheckpointer(tmp_path).load()


def test_a_trainable_without_checkpoint_support_says_so(wine):
    from dataclasses import dataclass

    from sweepforge.trainables import ConfigError, register_trainable

    @dataclass(frozen=True)
    class Knobs:
        epochs: int = 1

    @register_trainable("no_resume_test", config_cls=Knobs, metrics={"epoch"},
                        datasets=("wine",), task="classification")
    def train_no_resume(config, data, report=None, *, device="cpu", seed=0):
        return {"epoch": 1}

    spec = get_trainable("no_resume_test")
    assert not spec.supports_checkpoint
    assert spec.train({}, wine) == {"epoch": 1}
    with pytest.raises(ConfigError, match="cannot resume from checkpoints"):
        spec.train({}, wine, checkpoint=MemoryCheckpointer())


def _linear_output_dtypes(config, data) -> tuple[dict, set]:
    """Trains the real mlp with ``config``; returns its result and the (training?, dtype) of
    every output of its linear layers, seen by a global forward hook."""
    seen = set()

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.Linear):
            seen.add((module.training, output.dtype))

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        result = get_trainable("mlp").train(config, data, seed=0)
    finally:
        handle.remove()
    return result, seen


NO_ONEDNN = dense_module._onednn_problem() is not None


@pytest.mark.parametrize("backend", [
    "torch",
    pytest.param("onednn", marks=pytest.mark.skipif(NO_ONEDNN, reason="no oneDNN linear here")),
])
def test_amp_on_the_cpu_trains_in_bfloat16(wine, backend, monkeypatch):
    """As in a fresh worker process: the linear backend is first chosen (and oneDNN checked)
    inside the first forward pass, under autocast."""
    monkeypatch.setenv("SWEEPFORGE_LINEAR_BACKEND", backend)
    monkeypatch.setattr(dense_module, "_resolved", None)
    result, seen = _linear_output_dtypes({"epochs": 5, "amp": True, "lr": 3e-3}, wine)
    assert {dtype for training, dtype in seen if training} == {torch.bfloat16}  # the forward pass
    assert {dtype for training, dtype in seen if not training} == {torch.float32}  # evaluation
    assert result["val_accuracy"] > 0.8
    _, plain = _linear_output_dtypes({"epochs": 1, "lr": 3e-3}, wine)  # without amp: float32
    assert plain == {(True, torch.float32), (False, torch.float32)}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_amp_on_cuda_resumes_with_its_gradient_scaler(wine):
    spec, keeper = get_trainable("mlp"), MemoryCheckpointer()
    spec.train({**NOISY_MLP, "epochs": 1, "amp": True}, wine, seed=0, device="cuda", checkpoint=keeper)
    assert keeper.state["extra"]["grad_scaler"]  # the scaler's scale travels with the state
    result = spec.train({**NOISY_MLP, "amp": True}, wine, seed=0, device="cuda", checkpoint=keeper)
    assert result["val_accuracy"] > 0.8
