"""The private torch APIs the trainables rely on still exist and behave as relied on.

Each failure names the torch version: a torch upgrade that moves one of them must be noticed
here, not as a silent fallback to slower layers (see ``trainables/components/_torch_compat.py``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sweepforge.trainables.components import _torch_compat as compat

VERSION = f"torch {torch.__version__}"

needs_mkldnn = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="this torch build has no oneDNN at all"
)


@needs_mkldnn
def test_the_onednn_linear_op_exists():
    assert compat.has_onednn_linear(), (
        f"{VERSION}: {compat.ONEDNN_LINEAR_OP} is gone; Dense would fall back to F.linear "
        "everywhere. Update trainables/components/_torch_compat.py."
    )


@needs_mkldnn
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("layout", ["contiguous", "transposed views"])
def test_the_onednn_linear_op_computes_f_linear(bias, layout):
    generator = torch.Generator().manual_seed(0)
    x, weight, b = (torch.randn(shape, generator=generator) for shape in ((6, 5), (3, 5), (3,)))
    if layout == "transposed views":  # how Dense's backward passes its operands
        x, weight = x.t().contiguous().t(), weight.t().contiguous().t()
    b = b if bias else None
    try:
        got = compat.onednn_linear(x, weight, b)
    except (RuntimeError, TypeError, AttributeError) as error:
        pytest.fail(f"{VERSION}: {compat.ONEDNN_LINEAR_OP}(x, w, b, 'none', [], '') failed, "
                    f"its signature changed? {type(error).__name__}: {error}")
    expected = F.linear(x, weight, b)
    assert got.shape == expected.shape and got.dtype == expected.dtype, (
        f"{VERSION}: {compat.ONEDNN_LINEAR_OP} gave {tuple(got.shape)} {got.dtype}, "
        f"F.linear {tuple(expected.shape)} {expected.dtype}"
    )
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5), (
        f"{VERSION}: {compat.ONEDNN_LINEAR_OP} no longer computes x @ w.T + b "
        f"(largest difference {float((got - expected).abs().max()):.3g})"
    )


def test_functorch_says_when_a_transform_is_active():
    assert hasattr(torch._C, "_are_functorch_transforms_active"), (
        f"{VERSION}: torch._C._are_functorch_transforms_active is gone; Dense could send "
        "vmap'd products to oneDNN. Update trainables/components/_torch_compat.py."
    )
    seen = []

    def row(x: torch.Tensor) -> torch.Tensor:
        seen.append(compat.functorch_transforms_active())
        return x * 2

    torch.func.vmap(row)(torch.ones(3, 2))
    assert seen == [True] and not compat.functorch_transforms_active(), (
        f"{VERSION}: torch._C._are_functorch_transforms_active() gave {seen} inside vmap "
        f"and {compat.functorch_transforms_active()} outside; expected [True] and False"
    )
