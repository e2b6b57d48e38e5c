"""The rnn trainable: LSTM and GRU learn sequence tasks that need memory, far past the
memoryless baseline they report beside their own metrics; the model, its initialisation and
gradient clipping do what the knobs say; bad knobs and non-sequence data are refused."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from sweepforge.trainables import ConfigError, Dataset, get_trainable, load_dataset
from sweepforge.trainables.components import clip_gradients_before_step
from sweepforge.trainables.rnn import (
    RecurrentNet,
    RNNConfig,
    initialize_recurrent,
    train_rnn,
)
from sweepforge.trainables.sequence_datasets import (
    ORDER_SYMBOLS,
    adding_problem,
    sequence_shape,
    temporal_order,
)
from tests.trainables.cost_metrics import reports_without_costs, without_costs


@pytest.fixture(scope="module")
def adding():
    return load_dataset("adding", seed=0)


@pytest.fixture(scope="module")
def order():
    return load_dataset("temporal_order", seed=0)


@pytest.fixture(scope="module")
def small_order():
    """400 temporal-order sequences under the registered name, so they keep its (60, 6) shape."""
    X, y = temporal_order(400, 60, seed=2)
    return Dataset(
        "temporal_order",
        "classification",
        X[:200],
        y[:200],
        X[200:300],
        y[200:300],
        X[300:],
        y[300:],
    )


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_solve_the_50_step_adding_problem(cell, adding):
    reports = []
    result = train_rnn(RNNConfig(cell=cell, epochs=3), adding, reports.append, seed=0)
    print(
        f"{cell} on adding: test_loss={result['test_loss']:.4f} "
        f"(baseline {result['test_baseline_mse']:.3f})"
    )
    # Predicting the training mean scores Var(U1 + U2) = 1/6; the cells get 10x below that.
    assert 0.14 < result["val_baseline_mse"] < 0.19
    assert result["val_loss"] < result["val_baseline_mse"] / 10
    assert result["test_loss"] < result["test_baseline_mse"] / 10
    assert result["test_r2"] > 0.9
    assert set(reports[0]) == {
        "epoch",
        "train_loss",
        "val_loss",
        "val_r2",
        "val_mae",
        "val_baseline_mse",
    }


@pytest.mark.slow
def test_lstm_solves_the_60_step_temporal_order_problem(order):
    result = train_rnn(RNNConfig(cell="lstm", epochs=2), order, seed=0)
    print(
        f"lstm on temporal_order: test_accuracy={result['test_accuracy']:.3f} "
        f"(baseline {result['test_baseline_accuracy']:.3f})"
    )
    assert result["val_baseline_accuracy"] < 0.3  # four classes, about a quarter each
    assert result["val_accuracy"] > 0.95 and result["test_accuracy"] > 0.95


def test_same_seed_same_reports_other_seed_other_result(small_order):
    config = RNNConfig(cell="gru", hidden_size=8, num_layers=2, dropout=0.2, epochs=2)
    first, second = [], []
    train_rnn(config, small_order, first.append, seed=5)
    train_rnn(config, small_order, second.append, seed=5)
    assert reports_without_costs(first) == reports_without_costs(second) and len(first) == 2
    assert without_costs(train_rnn(config, small_order, seed=6)) != without_costs(first[-1])


def test_adding_rows_are_step_major_and_the_target_is_the_marked_sum():
    X, y = adding_problem(50, 10, seed=3)
    steps = X.reshape(50, 10, 2)  # row[t * F + f] is feature f at step t
    markers = steps[..., 1]
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, :5].sum(axis=1) == 1).all()  # one mark in each half
    np.testing.assert_allclose((steps[..., 0] * markers).sum(axis=1), y, rtol=1e-6)


def test_temporal_order_labels_name_the_order_of_x_and_y():
    X, y = temporal_order(200, 20, seed=1)
    symbols = X.reshape(200, 20, len(ORDER_SYMBOLS)).argmax(axis=2)
    for row, label in zip(symbols, y):
        relevant = [ORDER_SYMBOLS[s] for s in row if ORDER_SYMBOLS[s] in "XY"]
        assert ["XX", "XY", "YX", "YY"].index("".join(relevant)) == label
    assert np.bincount(y, minlength=4).min() > 30  # every order occurs


def test_sequence_shape_of_registered_and_other_datasets(adding, order):
    assert sequence_shape(adding) == (50, 2)
    assert sequence_shape(order) == (60, 6)
    assert sequence_shape(load_dataset("diabetes")) == (10, 1)  # a univariate series
    X = np.zeros((4, 7), dtype=np.float32)
    wrong = Dataset("adding", "regression", X, np.zeros(4), X, np.zeros(4), X, np.zeros(4))
    with pytest.raises(ConfigError, match=r"50 steps x 2 features = 100 values.*have 7") as e:
        sequence_shape(wrong)
    assert e.value.field == "dataset"


def test_a_table_trains_as_a_univariate_series():
    result = get_trainable("rnn").train({"epochs": 1, "hidden_size": 8}, load_dataset("wine"))
    assert all(math.isfinite(v) for v in result.values())
    assert {"val_accuracy", "val_baseline_accuracy", "test_baseline_accuracy"} <= set(result)


def test_text_data_is_refused():
    with pytest.raises(ConfigError, match=r"text dataset but trainable 'rnn'") as e:
        get_trainable("rnn").train({"epochs": 1}, load_dataset("python_docs"))
    assert e.value.field == "dataset"


@pytest.mark.parametrize(("cell", "kind"), [("rnn", nn.RNN), ("lstm", nn.LSTM), ("gru", nn.GRU)])
def test_cell_layers_and_directions_shape_the_network(cell, kind):
    model = RecurrentNet(
        (7, 3), 4, cell=cell, hidden_size=5, num_layers=2, dropout=0.3, bidirectional=True
    )
    assert isinstance(model.recurrent, kind)
    assert (model.recurrent.num_layers, model.recurrent.dropout) == (2, 0.3)
    assert model.head.in_features == 10  # both directions' final states
    assert model(torch.randn(6, 21)).shape == (6, 4)
    single = RecurrentNet((7, 3), 1, cell=cell, num_layers=1, dropout=0.3)
    assert single.recurrent.dropout == 0.0  # nothing to drop between layers


def test_the_head_reads_the_final_state_of_the_top_layer():
    model = RecurrentNet((4, 1), 1, cell="gru", hidden_size=3, num_layers=2)
    x = torch.randn(2, 4)
    outputs, _ = model.recurrent(x.reshape(2, 4, 1))
    torch.testing.assert_close(model(x), model.head(outputs[:, -1]))


def test_each_gate_block_is_initialised_on_its_own_and_lstm_forget_bias_is_one():
    model = RecurrentNet((5, 3), 2, cell="lstm", hidden_size=50)
    initialize_recurrent(model, "xavier_uniform")
    weights = model.recurrent.weight_ih_l0.detach()  # 4 gate blocks of (50, 3)
    bound = math.sqrt(6 / (50 + 3))  # one gate's fans, not the stacked (200, 3) matrix's
    assert weights.abs().max() <= bound and weights.abs().max() > 0.8 * bound
    bias = model.recurrent.bias_ih_l0.detach()
    assert bias[50:100].eq(1).all() and bias[:50].eq(0).all() and bias[100:].eq(0).all()
    assert model.recurrent.bias_hh_l0.detach().eq(0).all()
    gru = RecurrentNet((5, 3), 2, cell="gru", hidden_size=4)
    initialize_recurrent(gru, "zeros")
    assert all(p.detach().eq(0).all() for p in gru.parameters())


def test_gradients_are_clipped_to_the_threshold_before_each_step():
    layer = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    clip_gradients_before_step(optimizer, layer, 0.25)
    layer(torch.full((4, 3), 50.0)).square().sum().backward()
    before = torch.cat([p.grad.flatten() for p in layer.parameters()])
    optimizer.step()
    after = torch.cat([p.grad.flatten() for p in layer.parameters()])
    assert before.norm() > 100
    assert after.norm() == pytest.approx(0.25, rel=1e-5)
    torch.testing.assert_close(after / after.norm(), before / before.norm())  # same direction


def test_grad_clip_changes_training_and_zero_turns_it_off(adding):
    config = {"epochs": 1, "hidden_size": 8, "cell": "rnn"}
    spec = get_trainable("rnn")
    off = spec.train({**config, "grad_clip": 0.0}, adding, seed=0)
    tight = spec.train({**config, "grad_clip": 0.01}, adding, seed=0)
    assert off["train_loss"] != tight["train_loss"]


@pytest.mark.parametrize(
    ("values", "field", "match"),
    [
        (
            {"cell": "transformer"},
            "cell",
            r"cell='transformer' is not allowed; choose one of: rnn, lstm, gru",
        ),
        (
            {"hidden_size": 0},
            "hidden_size",
            r"hidden_size=0 is out of range; it must satisfy hidden_size >= 1",
        ),
        (
            {"num_layers": 5},
            "num_layers",
            r"num_layers=5 is out of range; it must satisfy 1 <= num_layers <= 4",
        ),
        ({"dropout": 1.0}, "dropout", r"dropout=1.0 is out of range"),
        (
            {"grad_clip": -1},
            "grad_clip",
            r"grad_clip=-1.0 is out of range; it must satisfy grad_clip >= 0",
        ),
        ({"bidirectional": "yes"}, "bidirectional", r"bidirectional='yes' is not a boolean"),
        ({"init": "orthogonal"}, "init", r"init='orthogonal' is not allowed"),
        ({"optimizer": "nesterov", "momentum": 0}, "momentum", r"momentum=0.0 is out of range"),
        ({"hidden": 8}, "hidden", r"unknown field 'hidden' \(did you mean 'hidden_size'\?\)"),
    ],
)
def test_bad_knob_values_are_config_errors_naming_the_field(values, field, match):
    with pytest.raises(ConfigError, match=match) as e:
        get_trainable("rnn").make_config(values)
    assert e.value.field == field
