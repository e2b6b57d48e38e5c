"""Objectives: the batch loss each task minimises and the metrics it reports; the L1 penalty."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from torch import nn

from sweepforge.trainables._objectives import Objective, classification, l1_penalty, regression


def test_classification_reports_cross_entropy_and_accuracy():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [2.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 0, 0])
    objective = classification()
    metrics = objective.metrics(logits, labels)
    assert metrics["accuracy"] == 0.75
    assert metrics["loss"] == pytest.approx(float(F.cross_entropy(logits, labels)))
    assert float(objective.loss(logits, labels)) == pytest.approx(metrics["loss"])
    assert objective.loss_scale == 1.0


def test_regression_metrics_are_sklearns_in_original_units():
    rng = np.random.default_rng(0)
    y = rng.normal(150, 70, size=50)
    pred = y + rng.normal(0, 40, size=50)
    offset, scale = 152.0, 77.0
    objective = regression(offset, scale)

    def stored(values):
        return torch.tensor((values - offset) / scale, dtype=torch.float32)

    metrics = objective.metrics(stored(pred).reshape(-1, 1), stored(y))
    assert metrics["loss"] == pytest.approx(mean_squared_error(y, pred), rel=1e-4)
    assert metrics["r2"] == pytest.approx(r2_score(y, pred), rel=1e-4)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-4)
    # The batch loss is the MSE of the stored targets; loss_scale converts it to original units.
    batch_loss = float(objective.loss(stored(pred).reshape(-1, 1), stored(y)))
    assert batch_loss * objective.loss_scale == pytest.approx(metrics["loss"], rel=1e-4)


def test_r2_of_a_constant_target_is_finite():
    metrics = regression().metrics
    assert metrics(torch.ones(3), torch.ones(3))["r2"] == 1.0
    assert metrics(torch.zeros(3), torch.ones(3))["r2"] == 0.0


@pytest.mark.parametrize(("offset", "scale"), [(0.0, 0.0), (0.0, -1.0), (math.nan, 1.0)])
def test_regression_needs_a_positive_finite_scale(offset, scale):
    with pytest.raises(ValueError, match="finite offset and scale > 0"):
        regression(offset, scale)


def test_report_names_prefix_each_metric_with_its_split():
    assert classification().report_names() == {
        "epoch", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
        "n_params", "latency_ms", "train_s",  # the costs the loop adds after the last epoch
    }


def test_an_objective_must_report_a_loss():
    with pytest.raises(ValueError, match="must report 'loss'"):
        Objective(("accuracy",), F.cross_entropy, lambda outputs, targets: {})


def test_l1_penalty_sums_absolute_weights_but_not_biases():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.0]]))
        model[2].weight.fill_(-1.0)
        model[0].bias.fill_(100.0)
    penalty = l1_penalty(model, 0.1)
    assert penalty().item() == pytest.approx(0.1 * (3.5 + 2.0))
    penalty().backward()
    assert torch.allclose(model[0].weight.grad, torch.tensor([[0.1, -0.1], [0.1, 0.0]]))
    assert model[0].bias.grad is None


def test_l1_penalty_of_zero_strength_is_skipped_and_negative_is_rejected():
    assert l1_penalty(nn.Linear(2, 1), 0.0) is None
    with pytest.raises(ValueError, match="l1 strength must be finite and >= 0, got -1"):
        l1_penalty(nn.Linear(2, 1), -1)
