"""RowBatchNorm: nn.BatchNorm1d over rows that also takes a one-row training batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sweepforge.trainables.components import RowBatchNorm


def test_it_is_batchnorm1d_on_batches_of_several_rows():
    torch.manual_seed(0)
    x = torch.randn(16, 5)
    ours, plain = RowBatchNorm(5).train(), nn.BatchNorm1d(5).train()
    torch.testing.assert_close(ours(x), plain(x))
    assert ours.state_dict().keys() == plain.state_dict().keys()
    for key, value in ours.state_dict().items():
        torch.testing.assert_close(value, plain.state_dict()[key], msg=key)
    torch.testing.assert_close(ours.eval()(x), plain.eval()(x))


def test_a_one_row_training_batch_uses_the_running_statistics_and_keeps_them():
    norm = RowBatchNorm(3).train()
    norm(torch.randn(8, 3) * 4 + 2)
    before = {k: v.clone() for k, v in norm.state_dict().items()}
    row = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    out = norm(row)
    expected = (row - before["running_mean"]) / torch.sqrt(before["running_var"] + norm.eps)
    torch.testing.assert_close(out, expected)
    out.sum().backward()  # gradients still flow to the input and the affine parameters
    assert row.grad is not None and norm.weight.grad is not None
    for key, value in norm.state_dict().items():
        assert torch.equal(value, before[key]), key
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3).train()(row)  # what the plain layer does
