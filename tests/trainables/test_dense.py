"""Dense: nn.Linear with oneDNN products where MKL leaves AVX-512 unused.

Both backends are exercised on whatever machine runs the tests: the oneDNN one is forced on
with ``set_linear_backend("onednn")`` (skipped where this torch build has no oneDNN linear).
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sweepforge.trainables import ConfigError, get_trainable, load_dataset
from sweepforge.trainables.components import Dense, linear_backend, set_linear_backend
from sweepforge.trainables.components import dense as dense_module
from sweepforge.trainables.mlp import MLP
from tests.trainables.cost_metrics import without_costs

HAS_ONEDNN = dense_module._onednn_problem() is None
needs_onednn = pytest.mark.skipif(not HAS_ONEDNN, reason="this torch build has no oneDNN linear")

ZEN5 = "vendor_id\t: AuthenticAMD\ncpu family\t: 26\nflags\t\t: fpu sse avx2 avx512f avx512bw\n"
ZEN3 = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nflags\t\t: fpu sse avx2 fma\n"
XEON = "vendor_id\t: GenuineIntel\ncpu family\t: 6\nflags\t\t: fpu sse avx2 avx512f amx_tile\n"


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(autouse=True)
def _restore_backend(monkeypatch):
    """Each test chooses its backend; the process's choice comes back afterwards."""
    monkeypatch.setattr(dense_module, "_resolved", dense_module._resolved)


def _layer_and_batch(batch: int = 64, n_in: int = 784, n_out: int = 256):
    torch.manual_seed(0)
    return Dense(n_in, n_out), torch.randn(batch, n_in)


def _grads(layer: nn.Linear, x: torch.Tensor, forward) -> list[torch.Tensor]:
    x = x.clone().requires_grad_(True)
    out = forward(x, layer.weight, layer.bias)
    upstream = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
    return [out, *torch.autograd.grad(out, (x, layer.weight, layer.bias), upstream)]


@needs_onednn
def test_onednn_gives_f_linear_values_and_gradients():
    set_linear_backend("onednn")
    layer, x = _layer_and_batch()
    assert x.shape[0] * 784 * 256 >= dense_module.MIN_MULTIPLY_ADDS
    fast = _grads(layer, x, dense_module.linear)
    plain = _grads(layer, x, F.linear)
    for name, got, expected in zip(("output", "d/dx", "d/dW", "d/db"), fast, plain, strict=True):
        assert got.shape == expected.shape, name
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4, msg=name)


@needs_onednn
def test_onednn_runs_for_large_products_only(monkeypatch):
    set_linear_backend("onednn")
    calls = []
    real = dense_module._onednn_linear
    monkeypatch.setattr(dense_module, "_onednn_linear", lambda *a: calls.append(1) or real(*a))
    layer, x = _layer_and_batch()
    layer(x).sum().backward()
    assert len(calls) == 2  # forward and the weight gradient; x needs no gradient
    calls.clear()
    small, batch = _layer_and_batch(batch=8, n_in=64, n_out=32)
    expected = F.linear(batch, small.weight, small.bias)
    assert torch.equal(small(batch), expected)  # below MIN_MULTIPLY_ADDS: F.linear itself
    assert torch.equal(layer.double()(x.double()), F.linear(x.double(), layer.weight, layer.bias))
    assert calls == []


@needs_onednn
def test_second_derivatives_match_f_linear():
    """A gradient penalty differentiates the backward pass itself (create_graph=True)."""
    set_linear_backend("onednn")
    layer, x = _layer_and_batch()

    def penalty_grad(forward) -> torch.Tensor:
        inputs = x.clone().requires_grad_(True)
        out = forward(inputs, layer.weight, layer.bias).tanh().sum()
        (grad_x,) = torch.autograd.grad(out, inputs, create_graph=True)
        (grad_w,) = torch.autograd.grad(grad_x.square().sum(), layer.weight)
        return grad_w

    torch.testing.assert_close(
        penalty_grad(dense_module.linear), penalty_grad(F.linear), rtol=1e-3, atol=1e-4
    )


@needs_onednn
def test_seeded_mlp_training_is_repeatable_on_onednn(mnist):
    set_linear_backend("onednn")
    trainable = get_trainable("mlp")
    config = {"epochs": 2, "width": 256, "batch_size": 64}
    first = trainable.train(config, mnist, seed=3)
    assert without_costs(first) == without_costs(trainable.train(config, mnist, seed=3))
    assert first["val_accuracy"] > 0.85
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # oneDNN splits the work between threads: still repeatable
    try:
        again, more = (trainable.train(config, mnist, seed=3) for _ in range(2))
        assert without_costs(again) == without_costs(more)
    finally:
        torch.set_num_threads(before)


def test_state_dict_is_nn_linears(digits):
    model = MLP(64, 10, depth=2, width=32)
    plain = nn.Sequential(
        nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10)
    )
    plain.load_state_dict({k.removeprefix("layers."): v for k, v in model.state_dict().items()})
    x = torch.from_numpy(digits.X_val[:5])
    assert torch.equal(plain(x), model(x))
    assert all(isinstance(m, nn.Linear) for m in model.layers[::2])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_torchscript_and_autocast_keep_linear_behaviour():
    set_linear_backend("onednn" if HAS_ONEDNN else "torch")
    layer, x = _layer_and_batch()
    scripted = torch.jit.script(layer)
    torch.testing.assert_close(scripted(x), F.linear(x, layer.weight, layer.bias))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(x).dtype == torch.bfloat16


def test_auto_picks_onednn_only_for_avx512_processors_not_from_intel():
    assert dense_module._avx512_not_intel(ZEN5)
    assert not dense_module._avx512_not_intel(ZEN3)  # no AVX-512: MKL's AVX2 kernels are used
    assert not dense_module._avx512_not_intel(XEON)  # MKL dispatches AVX-512 here itself
    assert not dense_module._avx512_not_intel("")


def test_torch_backend_never_calls_onednn(monkeypatch):
    monkeypatch.setattr(dense_module, "_onednn_linear", lambda *a: pytest.fail("oneDNN called"))
    set_linear_backend("torch")
    assert linear_backend() == "torch"
    layer, x = _layer_and_batch()
    assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


def test_unknown_backend_names_what_is_allowed(monkeypatch):
    with pytest.raises(
        ConfigError,
        match=r"backend='mkl' is not a linear backend; use one of "
        r"auto, onednn, torch",
    ):
        set_linear_backend("mkl")
    monkeypatch.setattr(dense_module, "_resolved", None)
    monkeypatch.setenv("SWEEPFORGE_LINEAR_BACKEND", "fast")
    with pytest.raises(ConfigError, match="SWEEPFORGE_LINEAR_BACKEND='fast'"):
        linear_backend()


def test_a_wrong_onednn_result_is_refused(monkeypatch):
    """Fault injection: a oneDNN op that gives wrong numbers (e.g. after a torch upgrade
    changed its arguments) is never used: auto falls back with a warning, onednn raises."""
    monkeypatch.setattr(dense_module, "_onednn_linear", lambda x, w, b: torch.zeros(1))
    monkeypatch.setattr(dense_module, "_mkl_skips_avx512", lambda: True)
    with pytest.warns(UserWarning, match="using torch's linear layers, not oneDNN"):
        set_linear_backend("auto")
    assert linear_backend() == "torch"
    with pytest.raises(ConfigError, match="linear backend 'onednn' cannot be used here"):
        set_linear_backend("onednn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        set_linear_backend("torch")  # no check, no warning
