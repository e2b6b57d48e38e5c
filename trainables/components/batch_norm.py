"""``RowBatchNorm``: batch normalization of the features of a batch of rows (``nn.BatchNorm1d``)
that also takes a training batch of one row.

``nn.BatchNorm1d`` refuses a one-row batch in training mode (one value per feature has no
variance). A row-shaped model meets one whenever the training split leaves a last batch of one
row, or with ``batch_size=1``; this layer normalizes such a batch with its running statistics,
as in evaluation, and leaves them unchanged. Parameters, buffers and ``state_dict`` are
``nn.BatchNorm1d``'s.

Example:
    >>> import torch
    >>> norm = RowBatchNorm(3).train()
    >>> [round(v, 3) for v in norm(torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]))[0].tolist()]
    [-1.0, 0.0, 1.0]
    >>> norm(torch.ones(1, 3)).shape
    torch.Size([1, 3])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RowBatchNorm"]


class RowBatchNorm(nn.BatchNorm1d):
    """``nn.BatchNorm1d(num_features)`` over ``(rows, features)`` batches; a one-row training
    batch is normalized with the running statistics (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1 and self.running_mean is not None:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias,
                training=False, momentum=0.0, eps=self.eps,
            )
        return super().forward(x)
