"""``Dense``: ``nn.Linear`` whose large CPU float32 matmuls can run in oneDNN instead of MKL.

PyTorch's x86 builds run float32 matmuls in MKL, and MKL takes its AVX-512 kernels only on
Intel processors. On an AMD EPYC with full-width AVX-512 (Zen 5), MKL runs at about 100
GFLOP/s on one core where oneDNN, which PyTorch ships for its convolutions, reaches about
220 (BENCHMARKS.md, "Trainable throughput"). ``Dense`` sends a layer's forward pass and both
backward matmuls to oneDNN when that backend is on and the call is large enough to gain; every
other call is plain :func:`torch.nn.functional.linear`. Weights, ``state_dict`` and
initialization are exactly ``nn.Linear``'s, so a model built here loads into plain
``nn.Linear`` layers and back.

Which backend runs (:func:`linear_backend`):

* ``SWEEPFORGE_LINEAR_BACKEND`` (``auto``, ``onednn`` or ``torch``) sets it for a process, or
  :func:`set_linear_backend` at run time;
* ``auto`` (the default) picks oneDNN on x86-64 processors that are not Intel's and have
  AVX-512, where MKL leaves it unused, and torch's own linear elsewhere;
* before oneDNN is first used, a small product is checked against ``F.linear``: on a mismatch
  ``auto`` falls back to torch with a warning, and an explicit ``onednn`` raises.

The two backends round differently (a few units in the last place); each is deterministic on
its own, so a seed gives the same run on the same machine.

Example:
    >>> import torch
    >>> layer = Dense(784, 256)
    >>> layer(torch.zeros(64, 784)).shape
    torch.Size([64, 256])
    >>> isinstance(layer, torch.nn.Linear)
    True
"""

from __future__ import annotations

import platform
import warnings
from functools import cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._environment import LINEAR_BACKEND_VAR as ENV_VAR
from .._environment import LINEAR_BACKENDS, check_linear_backend_name, linear_backend_setting
from .._errors import ConfigError
from ._torch_compat import (
    ONEDNN_LINEAR_OP,
    functorch_transforms_active,
    has_onednn_linear,
    onednn_linear,
)

__all__ = [
    "LINEAR_BACKENDS",
    "Dense",
    "check_linear_backend",
    "linear",
    "linear_backend",
    "set_linear_backend",
]

# Below about 4 million multiply-adds per call, oneDNN's fixed cost per call (~10 us, against
# ~3 us for MKL) and the Python backward outweigh its faster kernels (measured on Zen 5: a
# 64 x 256 -> 256 layer trains 1.25x faster, a 64 x 64 -> 128 layer 0.6x as fast).
MIN_MULTIPLY_ADDS = 1 << 22

_resolved: str | None = None  # the backend in use once decided ("onednn" or "torch")


class Dense(nn.Linear):
    """A drop-in ``nn.Linear`` that runs large CPU float32 products in oneDNN where that is
    faster (see the module docstring); anything else goes to ``F.linear`` unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return F.linear(x, self.weight, self.bias)
        return linear(x, self.weight, self.bias)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, in oneDNN when :func:`linear_backend` is ``"onednn"`` and
    the call qualifies: 2-D contiguous float32 CPU input, at least :data:`MIN_MULTIPLY_ADDS`,
    no autocast, not being traced or compiled."""
    if (_resolved or linear_backend()) != "onednn" or not _qualifies(x, weight, bias):
        return F.linear(x, weight, bias)
    if torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    ):
        return _OneDNNLinear.apply(x, weight, bias)
    return _onednn_linear(x, weight, bias)


def linear_backend() -> str:
    """The backend :class:`Dense` uses for large layers in this process: ``"onednn"`` or
    ``"torch"`` (decided once, on first use; see the module docstring)."""
    global _resolved
    if _resolved is None:
        _resolved = _resolve(_from_env())
    return _resolved


def set_linear_backend(name: str) -> None:
    """Choose ``"auto"``, ``"onednn"`` or ``"torch"`` for this process (overrides
    ``SWEEPFORGE_LINEAR_BACKEND``); the choice is checked now, and a refused one changes nothing.

    Raises:
        ConfigError: an unknown name, or ``"onednn"`` where oneDNN is missing or wrong.
    """
    global _resolved
    _resolved = check_linear_backend(name)


def check_linear_backend(name: str, *, what: str = "backend") -> str:
    """The backend ``name`` (``"auto"``, ``"onednn"`` or ``"torch"``) comes to on this machine,
    ``"onednn"`` or ``"torch"``, without choosing it for the process.

    Raises:
        ConfigError: an unknown name, or ``"onednn"`` where oneDNN is missing or wrong; the
            message names ``what`` (e.g. the environment variable that gave ``name``).
    """
    return _resolve(check_linear_backend_name(name, what))


class _OneDNNLinear(torch.autograd.Function):
    """``x @ weight.T + bias`` with the forward and both backward products in oneDNN.

    The backward is itself built from this function, so a second derivative (e.g. a gradient
    penalty, ``create_graph=True``) works as it does through ``F.linear``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn_linear(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()  # e.g. the stride-0 gradient of out.sum()
        # Transposes are passed as views: oneDNN reads a transposed weight operand through its
        # strides and copies a transposed input itself.
        product = _OneDNNLinear.apply if torch.is_grad_enabled() else _onednn_linear
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = product(grad, weight.t(), None)
        if ctx.needs_input_grad[1]:
            grad_w = product(grad.t(), x.t(), None)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum(0)
        return grad_x, grad_w, grad_b


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
    return onednn_linear(x, weight, bias)  # a private torch op: see _torch_compat


def _qualifies(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    return (
        x.dim() == 2
        and x.device.type == "cpu"
        and weight.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and (bias is None or bias.dtype == torch.float32)
        and x.shape[0] * weight.shape[0] * weight.shape[1] >= MIN_MULTIPLY_ADDS
        and x.is_contiguous()
        and not _cpu_autocast_enabled()
        and not torch.jit.is_tracing()
        and not _compiling()
        # vmap / torch.func cannot see through the custom function: F.linear there
        and not functorch_transforms_active()
    )


def _cpu_autocast_enabled() -> bool:
    try:
        return torch.is_autocast_enabled("cpu")
    except TypeError:  # torch < 2.4 takes no device type
        return torch.is_autocast_cpu_enabled()


def _compiling() -> bool:
    is_compiling = getattr(torch.compiler, "is_compiling", None)  # torch >= 2.3
    return bool(is_compiling()) if is_compiling is not None else False


def _from_env() -> str:
    return check_linear_backend_name(linear_backend_setting(), ENV_VAR)


def _resolve(requested: str) -> str:
    if requested == "torch":
        return "torch"
    if requested == "auto" and not _mkl_skips_avx512():
        return "torch"
    problem = _onednn_problem()
    if problem is None:
        return "onednn"
    if requested == "onednn":
        raise ConfigError(f"linear backend 'onednn' cannot be used here: {problem}", field=ENV_VAR)
    warnings.warn(f"sweepforge: using torch's linear layers, not oneDNN: {problem}", stacklevel=3)
    return "torch"


def _onednn_problem() -> str | None:
    """Why oneDNN's linear cannot be used here, or None when it gives F.linear's results."""
    if not has_onednn_linear():
        return f"this torch build has no oneDNN linear ({ONEDNN_LINEAR_OP})"
    generator = torch.Generator().manual_seed(0)
    x, weight, bias, grad = (
        torch.randn(shape, generator=generator) for shape in ((12, 20), (7, 20), (7,), (12, 7))
    )
    try:  # in float32 even when first used under autocast (amp), where F.linear gives bfloat16
        with torch.autocast("cpu", enabled=False):
            checks = {
                "forward": (_onednn_linear(x, weight, bias), F.linear(x, weight, bias)),
                "input gradient": (_onednn_linear(grad, weight.t(), None), grad @ weight),
                "weight gradient": (_onednn_linear(grad.t(), x.t(), None), grad.t() @ x),
            }
    except RuntimeError as error:  # an op whose signature changed
        return f"it failed on a small product ({error})"
    for name, (got, expected) in checks.items():
        if got.shape != expected.shape or not torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
            return f"its {name} differs from F.linear's on a small product"
    return None


@cache
def _mkl_skips_avx512() -> bool:
    """True on x86-64 processors with AVX-512 that are not Intel's: MKL's AVX-512 kernels are
    dispatched only on Intel CPUs, oneDNN's on any CPU that has the instructions."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
            return _avx512_not_intel(file.read(1 << 16))
    except OSError:  # not Linux: keep torch's default
        return False


def _avx512_not_intel(cpuinfo: str) -> bool:
    """Whether ``/proc/cpuinfo`` text describes a non-Intel processor with AVX-512."""
    fields = {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in cpuinfo.splitlines())
        if key.strip() in ("vendor_id", "flags")
    }
    vendor, flags = fields.get("vendor_id", ""), fields.get("flags", "").split()
    return bool(vendor) and vendor != "GenuineIntel" and "avx512f" in flags
