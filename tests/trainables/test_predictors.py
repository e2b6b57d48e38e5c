"""A predictor rebuilt from a trial's checkpoint predicts from raw inputs exactly as the trial did.

Every family really trains (1-2 epochs on small bundled data) with a MemoryCheckpointer; the
predictor built from the last state must reproduce, bit for bit on the CPU, the test metrics the
trial reported and the outputs of a model restored the way the training loop restores one.
"""

from __future__ import annotations

import dataclasses
import functools
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from sweepforge.trainables import ConfigError, MemoryCheckpointer, get_trainable, load_dataset
from sweepforge.trainables._images import image_splits
from sweepforge.trainables._loop import TensorSplits, classification, regression
from sweepforge.trainables.checkpoint import DirectoryCheckpointer, restore
from sweepforge.trainables.cnn import build_cnn
from sweepforge.trainables.components import build_optimizer
from sweepforge.trainables.datasets import Dataset, split_dataset
from sweepforge.trainables.entity_embedding import build_entity_embedding, table_splits
from sweepforge.trainables.linear_regression import build_linear_model
from sweepforge.trainables.mlp import build_mlp
from sweepforge.trainables.predictors import (
    SUPPORTED,
    UNSUPPORTED,
    Predictor,
    predictor_from_state,
)
from sweepforge.trainables.resnet import build_resnet
from sweepforge.trainables.rnn import build_rnn, sequence_splits
from sweepforge.trainables.sequence_datasets import sequence_shape
from sweepforge.trainables.tables import load_table, table_arrays

CPU = torch.device("cpu")

CASES = {
    "mlp-iris": ("mlp", "iris", {"epochs": 2, "width": 16, "dropout": 0.2, "batch_norm": True}),
    "logistic_regression-wine": ("logistic_regression", "wine", {"epochs": 2}),
    "mlp_regressor-diabetes": ("mlp_regressor", "diabetes", {"epochs": 2, "dropout": 0.1}),
    "linear_regression-diabetes": ("linear_regression", "diabetes", {"epochs": 2, "l1": 1e-3}),
    "cnn-digits": ("cnn", "digits", {"epochs": 1, "depth": 2, "width": 4}),
    "resnet-digits": ("resnet", "digits", {"epochs": 1, "depth": 2, "dropout": 0.2}),
    "entity_embedding-store_sales": (
        "entity_embedding", "store_sales", {"epochs": 1, "depth": 1, "width": 16},
    ),
    "rnn-adding": ("rnn", "adding", {"epochs": 1, "hidden_size": 8}),
    "rnn-temporal_order": ("rnn", "temporal_order", {"epochs": 1, "hidden_size": 8, "cell": "gru"}),
}


@dataclass(frozen=True)
class Trial:
    name: str
    overrides: dict[str, Any]
    config: Any
    data: Dataset
    result: dict[str, float]
    state: dict[str, Any]


@functools.cache
def trial(case: str) -> Trial:
    """Train ``case`` once per test session and keep its last checkpoint state."""
    name, dataset, overrides = CASES[case]
    return train(name, load_dataset(dataset, seed=0), overrides)


def train(name: str, data: Dataset, overrides: dict[str, Any]) -> Trial:
    spec, keeper = get_trainable(name), MemoryCheckpointer()
    result = spec.train(overrides, data, seed=0, checkpoint=keeper)
    assert keeper.state is not None and keeper.state["epoch"] == overrides["epochs"]
    return Trial(name, overrides, spec.make_config(overrides), data, result, keeper.state)


@functools.cache
def table_trial() -> Trial:
    """entity_embedding trained on a small table whose categorical columns hold strings
    (``colour``) and numbers (``grade``), between numeric columns."""
    rng = np.random.default_rng(1)
    n = 300
    colour = rng.choice(["red", "green", "blue"], n)
    grade = rng.choice([10, 20, 30, 40], n)
    size = rng.normal(size=n)
    weight = rng.gamma(2.0, size=n)
    ok = np.where(size + (colour == "red") + 0.02 * grade > 1.0, "yes", "no")
    frame = pd.DataFrame({"size": size, "colour": colour, "weight": weight, "grade": grade,
                          "ok": ok})
    X, y, extras, task = table_arrays(frame, target="ok", categorical=["colour", "grade"])
    data = split_dataset("orders", task, X, y, seed=0, **extras)
    return train("entity_embedding", data, {"epochs": 2, "depth": 1, "width": 16,
                                            "batch_size": 32})


def table_predictor() -> tuple[Predictor, np.ndarray]:
    t = table_trial()
    assert t.data.levels == {1: ("blue", "green", "red"), 3: (10, 20, 30, 40)}
    return predictor_from_state(t.name, t.overrides, t.data, t.state), t.data.X_test


# --- references: what the family's own training code computes --------------------------------


def family_splits(name: str, config: Any, data: Dataset) -> tuple[TensorSplits, Any]:
    """The scaled splits and the objective the family's train function uses."""
    if name in ("mlp", "logistic_regression"):
        return TensorSplits.from_dataset(data, CPU, scaling="standard"), classification()
    if name in ("mlp_regressor", "linear_regression"):
        splits = TensorSplits.from_dataset(data, CPU, scaling="standard", target_scaling="standard")
        return splits, regression(splits.y_offset, splits.y_scale)
    if name in ("cnn", "resnet"):
        return image_splits(data, data.image_shape, CPU), classification()
    if name == "rnn":
        splits = sequence_splits(data, sequence_shape(data), CPU)
        if data.task == "classification":
            return splits, classification()
        return splits, regression(splits.y_offset, splits.y_scale)
    assert name == "entity_embedding"
    return table_splits(data, CPU, log_target=config.log_target)


def family_model(name: str, config: Any, data: Dataset) -> torch.nn.Module:
    n_outputs = data.n_classes if data.task == "classification" else 1
    if name in ("mlp", "mlp_regressor"):
        return build_mlp(config, data.n_features, n_outputs)
    if name in ("logistic_regression", "linear_regression"):
        return build_linear_model(config, data.n_features, n_outputs)
    if name == "cnn":
        return build_cnn(config, data.image_shape, n_outputs)
    if name == "resnet":
        return build_resnet(config, data.image_shape, n_outputs)
    if name == "rnn":
        return build_rnn(config, sequence_shape(data), n_outputs)
    return build_entity_embedding(config, data, n_outputs)


def restored_test_outputs(t: Trial, splits: TensorSplits) -> torch.Tensor:
    """Outputs on the scaled test split of a model restored as the loop restores one (model,
    optimizer, shuffling generator via checkpoint.restore), evaluated as evaluate() does."""
    with torch.random.fork_rng(devices=[]):  # restore() sets the global RNG state
        model = family_model(t.name, t.config, t.data)
        optimizer = build_optimizer(
            t.config.optimizer, model.parameters(), t.config.lr, t.config.weight_decay,
            t.config.momentum,
        )
        epoch = restore(t.state, model=model, optimizer=optimizer, generator=torch.Generator(),
                        device=CPU)
    assert epoch == t.overrides["epochs"]
    model.eval()
    with torch.inference_mode():
        return model(splits.x_test)


def original_test_targets(t: Trial, splits: TensorSplits) -> torch.Tensor:
    """The test targets in original units, as the family's metrics compute them."""
    if t.name != "entity_embedding":
        return splits.y_test * splits.y_scale + splits.y_offset
    z = splits.y_test.double() * splits.y_scale + splits.y_offset
    return z.exp() if t.config.log_target else z


# --- every supported family ---------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_the_predictor_reproduces_the_trial_bit_for_bit(case):
    t = trial(case)
    predictor = predictor_from_state(t.name, t.overrides, t.data, t.state)
    splits, objective = family_splits(t.name, t.config, t.data)
    outputs = predictor(torch.from_numpy(t.data.X_test))  # raw, unscaled test rows

    # 1. The test metrics the trial reported, recomputed from the predictor's outputs.
    metrics = objective.metrics(outputs, splits.y_test)
    for name in objective.names:
        assert metrics[name] == t.result[f"test_{name}"], name
    # 2. The outputs of the model restored by the training loop's path, on its scaled split.
    assert torch.equal(outputs, restored_test_outputs(t, splits))

    predicted = predictor.predict(t.data.X_test)
    if t.data.task == "classification":
        # Labels named as the Dataset names them (iris' species, digits 0..9, ...).
        assert predictor.classes == t.data.classes
        codes = outputs.argmax(dim=1).numpy()
        names = np.arange(t.data.n_classes) if t.data.classes is None else t.data.classes
        expected = np.asarray(names)[codes]
        assert predicted.dtype == expected.dtype and np.array_equal(predicted, expected)
        accuracy = float((torch.from_numpy(codes) == splits.y_test).float().mean())
        assert accuracy == t.result["test_accuracy"]
        proba = predictor.predict_proba(t.data.X_test)
        assert proba.shape == (len(t.data.X_test), t.data.n_classes)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
        assert np.array_equal(proba.argmax(axis=1), codes)
    else:
        # 3. Values in the target's original units: the trial's test MAE, exactly, and its R²
        # (up to float32 rounding) against the raw targets of the dataset itself.
        assert predicted.dtype == np.float64 and predicted.shape == t.data.y_test.shape
        y = original_test_targets(t, splits)
        mae = float((torch.from_numpy(predicted).to(y.dtype) - y).abs().mean())
        assert mae == t.result["test_mae"]
        raw = t.data.y_test.astype(np.float64)
        r2 = 1 - ((predicted - raw) ** 2).sum() / ((raw - raw.mean()) ** 2).sum()
        assert r2 == pytest.approx(t.result["test_r2"], rel=1e-4, abs=1e-5)
        with pytest.raises(ValueError, match="regressor"):
            predictor.predict_proba(t.data.X_test)


def test_every_family_is_either_supported_or_refused_with_a_reason():
    from sweepforge.trainables import list_trainables

    bundled = {name for name in list_trainables()  # not the ones other tests register
               if get_trainable(name).train_fn.__module__.startswith("sweepforge.trainables.")}
    assert set(SUPPORTED) | set(UNSUPPORTED) == bundled
    assert {name for name, *_ in CASES.values()} == set(SUPPORTED)


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_families_without_a_target_per_row_are_refused(name):
    with pytest.raises(ConfigError, match=f"trainable '{name}' has no predictor") as err:
        predictor_from_state(name, {}, load_dataset("digits"), {})
    assert err.value.field == "trainable"
    assert UNSUPPORTED[name] in str(err.value) and "mlp, mlp_regressor" in str(err.value)


def test_an_unknown_trainable_is_a_config_error():
    with pytest.raises(ConfigError, match="did you mean 'mlp'"):
        predictor_from_state("mpl", {}, load_dataset("iris"), {})


# --- labels, inputs, configs and states ---------------------------------------------------


def test_string_labels_of_a_table_come_back_as_strings(tmp_path):
    rng = np.random.default_rng(0)
    colour = rng.choice(["red", "green", "blue"], 300)
    size = rng.normal(size=300).round(3)
    ok = np.where(size + 1.5 * (colour == "red") > 0.5, "yes", "no")
    frame = pd.DataFrame({"colour": colour, "size": size, "ok": ok})
    frame.to_csv(tmp_path / "orders.csv", index=False)
    data = load_table(tmp_path / "orders.csv", target="ok", categorical=["colour"], seed=0)
    # The Dataset keeps the labels of its codes (sorted levels), so the caller names nothing.
    classes = data.classes
    _, codes, _, _ = table_arrays(frame, target="ok", categorical=["colour"])
    assert classes == ("no", "yes") and (np.asarray(classes)[codes] == ok).all()

    overrides = {"epochs": 2, "depth": 1, "width": 16, "batch_size": 32}
    t = train("entity_embedding", data, overrides)
    predictor = predictor_from_state("entity_embedding", overrides, data, t.state)
    assert predictor.classes == ("no", "yes")
    labels = predictor.predict(data.X_test)
    assert labels.dtype.kind == "U" and set(labels) <= {"no", "yes"}
    truth = np.asarray(classes)[data.y_test]
    assert float(torch.from_numpy(labels == truth).float().mean()) == t.result["test_accuracy"]
    proba = predictor.predict_proba(data.X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (np.asarray(classes)[proba.argmax(axis=1)] == labels).all()

    unknown = data.X_test[:2].copy()
    unknown[1, 0] = 3.0  # colour has levels 0..2
    with pytest.raises(ValueError, match="'colour' must hold a code 0..2, but row 1 holds 3.0"):
        predictor.predict(unknown)
    with pytest.raises(ConfigError, match="each of the 2 classes") as err:
        predictor_from_state("entity_embedding", overrides, data, t.state, classes=("no",))
    assert err.value.field == "classes"
    # Labels given explicitly win over the Dataset's.
    renamed = predictor_from_state("entity_embedding", overrides, data, t.state,
                                   classes=("N", "Y"))
    assert renamed.classes == ("N", "Y")
    assert renamed.predict(data.X_test).tolist() == [{"no": "N", "yes": "Y"}[label]
                                                     for label in labels]


def test_an_iris_predictor_names_the_species_without_being_told():
    t = trial("mlp-iris")
    assert t.data.classes == ("setosa", "versicolor", "virginica")
    predictor = predictor_from_state("mlp", t.overrides, t.data, t.state)  # no classes=
    labels = predictor.predict(t.data.X_test)
    assert labels.dtype.kind == "U" and set(labels) <= set(t.data.classes)
    truth = np.asarray(t.data.classes)[t.data.y_test]
    assert float(np.mean(labels == truth)) == pytest.approx(t.result["test_accuracy"])
    assert "classes=('setosa', 'versicolor', 'virginica')" in repr(predictor)
    numbered = predictor_from_state("mlp", t.overrides, t.data, t.state, classes=(10, 20, 30))
    assert set(numbered.predict(t.data.X_test).tolist()) <= {10, 20, 30}


def test_a_dataset_without_names_predicts_codes():
    t = trial("mlp-iris")
    unnamed = dataclasses.replace(t.data, classes=None)
    predictor = predictor_from_state("mlp", t.overrides, unnamed, t.state)
    assert predictor.classes is None
    predicted = predictor.predict(t.data.X_test)
    assert predicted.dtype == np.int64
    assert np.array_equal(predicted, predictor_from_state(
        "mlp", t.overrides, t.data, t.state).predict_proba(t.data.X_test).argmax(axis=1))


def test_a_config_dataclass_or_mapping_give_the_same_predictor():
    t = trial("mlp-iris")
    from_mapping = predictor_from_state("mlp", t.overrides, t.data, t.state)
    from_config = predictor_from_state("mlp", t.config, t.data, t.state)
    X = torch.from_numpy(t.data.X_val)
    assert torch.equal(from_mapping(X), from_config(X))
    with pytest.raises(TypeError, match="MLPConfig or a mapping"):
        predictor_from_state("mlp", ["epochs"], t.data, t.state)


def test_building_leaves_the_rng_alone_and_a_predictor_stays_in_eval_mode():
    t = trial("mlp-iris")  # dropout and batch norm: training mode would change the outputs
    before = torch.get_rng_state()
    predictor = predictor_from_state("mlp", t.overrides, t.data, t.state)
    assert torch.equal(torch.get_rng_state(), before)
    expected = predictor.predict_proba(t.data.X_test)
    predictor.train()
    assert not any(module.training for module in predictor.modules())
    assert np.array_equal(predictor.predict_proba(t.data.X_test), expected)
    assert not any(p.requires_grad for p in predictor.parameters())
    assert not predictor(torch.from_numpy(t.data.X_test)).requires_grad


def test_inputs_are_raw_rows_float64_or_images():
    t = trial("cnn-digits")
    predictor = predictor_from_state("cnn", t.overrides, t.data, t.state)
    X = t.data.X_test
    expected = predictor(torch.from_numpy(X))
    assert torch.equal(predictor(torch.from_numpy(X.reshape(-1, 1, 8, 8))), expected)
    assert torch.equal(predictor(torch.from_numpy(X.reshape(-1, 8, 8))), expected)
    assert np.array_equal(predictor.predict(X.astype(np.float64)), predictor.predict(X))
    assert np.array_equal(predictor.predict(X.tolist()), predictor.predict(X))
    with pytest.raises(ValueError, match=r"rows of 64 raw features or images \(1, 8, 8\)"):
        predictor.predict(X[:, :10])


def test_a_state_that_does_not_fit_is_refused():
    t = trial("mlp-iris")
    with pytest.raises(ValueError, match="weights do not fit the 'mlp' model"):
        predictor_from_state("mlp", {**t.overrides, "width": 8}, t.data, t.state)
    with pytest.raises(ValueError, match="must be a checkpoint state"):
        predictor_from_state("mlp", t.overrides, t.data, t.state["model"])
    d = trial("linear_regression-diabetes")
    with pytest.raises(ConfigError, match="labels of a classifier") as err:
        predictor_from_state("linear_regression", d.overrides, d.data, d.state, classes=(1, 2))
    assert err.value.field == "classes"


def test_a_state_read_back_from_a_checkpoint_file_gives_the_same_predictor(tmp_path):
    t = trial("logistic_regression-wine")
    DirectoryCheckpointer(tmp_path).save(t.state)
    from_file = DirectoryCheckpointer(tmp_path).load()  # torch.load(weights_only=True)
    X = torch.from_numpy(t.data.X_test)
    expected = predictor_from_state(t.name, t.overrides, t.data, t.state)(X)
    assert torch.equal(predictor_from_state(t.name, t.overrides, t.data, from_file)(X), expected)


def test_a_pickled_predictor_predicts_the_same_in_a_fresh_process(tmp_path):
    """The pytorch flavour of MLflow pickles the whole module: torch.save / torch.load(
    weights_only=False) in a new interpreter must give the same predictions."""
    cases = {
        "mlp": ("mlp-iris", None),  # string labels: the species names iris keeps
        "cnn": ("cnn-digits", None),  # batch norm, images
        "entity_embedding": ("entity_embedding-store_sales", None),  # codes, log target
    }
    predictors = {}
    for name, (case, classes) in cases.items():
        t = trial(case)
        predictors[name] = predictor_from_state(name, t.overrides, t.data, t.state, classes=classes)
        assert isinstance(predictors[name], Predictor)
        torch.save(predictors[name], tmp_path / f"{name}.pt")
        np.save(tmp_path / f"{name}-X.npy", t.data.X_test)
    script = (
        "import sys, numpy as np, torch\n"
        "for name in sys.argv[2:]:\n"
        "    path = sys.argv[1] + '/' + name\n"
        "    predictor = torch.load(path + '.pt', weights_only=False)\n"
        "    assert not predictor.training, name\n"
        "    np.save(path + '-out.npy', predictor.predict(np.load(path + '-X.npy')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path), *predictors],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for name, predictor in predictors.items():
        fresh = np.load(tmp_path / f"{name}-out.npy")
        expected = predictor.predict(trial(cases[name][0]).data.X_test)
        assert fresh.dtype == expected.dtype and np.array_equal(fresh, expected), name
    assert np.load(tmp_path / "mlp-out.npy")[0] in ("setosa", "versicolor", "virginica")



# --- raw tables: pandas DataFrames of level values in, as a user or MLflow's pyfunc holds them


def test_raw_frame_holds_level_values_and_round_trips_bit_for_bit():
    predictor, X = table_predictor()
    frame = predictor.raw_frame(X)
    assert list(frame.columns) == ["size", "colour", "weight", "grade"]
    assert frame["colour"].dtype == object and frame["grade"].dtype == object
    assert frame["colour"].tolist() == [("blue", "green", "red")[int(c)] for c in X[:, 1]]
    assert frame["grade"].tolist() == [(10, 20, 30, 40)[int(c)] for c in X[:, 3]]
    assert frame["size"].dtype == np.float64 and frame["weight"].dtype == np.float64
    rows = predictor.rows(frame)
    assert rows.dtype == np.float32 and np.array_equal(rows.view(np.uint32), X.view(np.uint32))
    assert np.array_equal(predictor.predict(frame), predictor.predict(X))
    assert np.array_equal(predictor.predict_proba(frame), predictor.predict_proba(X))
    assert torch.equal(predictor(frame), predictor(torch.from_numpy(X)))
    # Arrays pass through rows() as they are: their categorical columns already hold codes.
    assert np.array_equal(predictor.rows(X.astype(np.float64)), X)


def test_a_categorical_column_without_level_names_takes_codes_and_a_regressor_round_trips():
    t = trial("entity_embedding-store_sales")  # store, day_of_week, month: codes, no levels
    predictor = predictor_from_state(t.name, t.overrides, t.data, t.state)
    assert predictor.levels == {} and predictor.target is not None
    X = t.data.X_test
    frame = predictor.raw_frame(X)
    assert list(frame.columns) == list(t.data.feature_names)
    assert frame["store"].dtype == np.int64 and frame["store"].tolist() == X[:, 0].tolist()
    assert np.array_equal(predictor.predict(frame), predictor.predict(X))  # float64, exactly
    with pytest.raises(ValueError, match="'store' must hold a code 0..999, but row 1 holds 1000"):
        predictor.predict(frame.assign(store=[0, 1000, *frame["store"][2:]]))
    names = frame.astype({"store": object})
    names.loc[2, "store"] = "shop 17"
    with pytest.raises(ValueError, match=r"categorical column 'store' has no level names kept, "
                       r"so it must hold codes 0\.\.999, but it holds 'shop 17' \(row 2\)"):
        predictor.predict(names)


def test_a_predictor_without_feature_names_takes_columns_by_position():
    t = trial("mlp-iris")
    predictor = predictor_from_state("mlp", t.overrides, t.data, t.state)
    frame = predictor.raw_frame(t.data.X_test)
    assert list(frame.columns) == ["x0", "x1", "x2", "x3"]
    assert np.array_equal(predictor.predict(frame), predictor.predict(t.data.X_test))
    renamed = frame.set_axis(["a", "b", "c", "d"], axis=1)
    assert np.array_equal(predictor.predict(renamed), predictor.predict(t.data.X_test))
    with pytest.raises(ValueError, match="by position: it needs 4 columns, got 5"):
        predictor.predict(frame.assign(x4=1.0))


def test_raw_frame_refuses_an_image_predictor():
    t = trial("cnn-digits")
    predictor = predictor_from_state("cnn", t.overrides, t.data, t.state)
    with pytest.raises(ValueError, match=r"takes images \(1, 8, 8\): pass it arrays"):
        predictor.raw_frame(t.data.X_test)


def test_columns_in_any_order_and_extra_columns_give_the_same_predictions():
    predictor, X = table_predictor()
    expected = predictor.predict_proba(X)
    frame = predictor.raw_frame(X)
    shuffled = frame[["grade", "weight", "colour", "size"]].assign(comment="n/a", ok="yes")
    shuffled.index = np.arange(len(frame))[::-1] * 7  # labels of rows play no part
    assert np.array_equal(predictor.predict_proba(shuffled), expected)
    # A pandas category whose own codes differ from the training codes, numbers where the
    # training levels were ints, numbers written as strings: the same rows.
    retyped = frame.assign(
        colour=pd.Categorical(frame["colour"], categories=["red", "green", "blue"]),
        grade=frame["grade"].astype(np.float64),
        size=frame["size"].map(repr),
    )
    assert np.array_equal(predictor.predict_proba(retyped), expected)


def test_a_missing_column_is_named_with_the_expected_ones():
    predictor, X = table_predictor()
    frame = predictor.raw_frame(X).assign(comment="n/a")
    with pytest.raises(ValueError) as err:
        predictor.predict(frame.drop(columns=["weight", "colour"]))
    message = str(err.value)
    assert "lacks columns 'colour', 'weight' of the 'entity_embedding' predictor" in message
    assert "it takes columns 'size', 'colour', 'weight', 'grade'" in message
    with pytest.raises(ValueError, match="lacks column 'size' of"):
        predictor.rows(frame.drop(columns=["size"]))


def test_an_unseen_or_missing_level_is_named_with_its_row_and_the_allowed_levels():
    predictor, X = table_predictor()
    frame = predictor.raw_frame(X[:6])
    frame.index = frame.index + 100  # rows are counted by position, not by label
    unseen = frame.copy()
    unseen.iloc[2, unseen.columns.get_loc("colour")] = "purple"
    with pytest.raises(ValueError) as err:
        predictor.predict(unseen)
    assert str(err.value) == (
        "categorical column 'colour' holds a level never seen in training: 'purple' (row 2); "
        "its levels: 'blue', 'green', 'red'"
    )
    several = frame.assign(grade=[10, 50, 20, 60, 50, 30])
    with pytest.raises(ValueError, match=r"'grade' holds levels never seen in training: "
                       r"50 \(row 1\), 60 \(row 3\); its levels: 10, 20, 30, 40$"):
        predictor.predict(several)
    codes = frame.assign(colour=[0, 1, 2, 0, 1, 2])  # codes where level values belong
    with pytest.raises(ValueError, match=r"'colour' holds levels never seen in training: 0 "):
        predictor.predict_proba(codes)
    missing = frame.copy()
    missing.iloc[4, missing.columns.get_loc("colour")] = None
    with pytest.raises(ValueError, match=r"categorical column 'colour' is missing \(NaN/None\) "
                       r"at row 4; it must hold one of its levels: 'blue', 'green', 'red'"):
        predictor(missing)


def test_a_non_numeric_value_in_a_numeric_column_is_named():
    predictor, X = table_predictor()
    frame = predictor.raw_frame(X[:6]).astype({"weight": object})
    frame.iloc[3, frame.columns.get_loc("weight")] = "heavy"
    with pytest.raises(ValueError) as err:
        predictor.predict(frame)
    assert str(err.value) == "column 'weight' must be numeric, but it holds 'heavy' (row 3)"
    dates = predictor.raw_frame(X[:6]).assign(size=pd.Timestamp("2024-01-01"))
    with pytest.raises(ValueError, match="column 'size' must be numeric, but it holds "):
        predictor.predict(dates)


# --- missing and infinite values: refused with the column and rows, never a silent NaN -------


def test_a_missing_or_infinite_number_is_refused_by_a_regressor_and_a_classifier():
    """An empty cell of a numeric column (NaN once pandas reads it) used to give a NaN value
    (an empty prediction) or a label from the argmax of NaNs; training refuses such rows, so
    predicting does too, naming the column and its rows (as the CLI exits 2 on ValueError)."""
    regressor = trial("mlp_regressor-diabetes")  # arrays, no feature names
    classifier, X = table_predictor()  # a frame of raw values, named columns
    cases = [
        (predictor_from_state(regressor.name, regressor.overrides, regressor.data,
                              regressor.state), regressor.data.X_test[:8].copy(), 2, "column 2"),
        (classifier, classifier.raw_frame(X[:8]), 2, "column 'weight'"),
    ]
    for predictor, rows, j, named in cases:
        assert len(predictor.predict(rows)) == 8  # the rows as they are predict
        missing, infinite = rows.copy(), rows.copy()
        if isinstance(rows, pd.DataFrame):
            missing.iloc[[1, 4], j] = np.nan
            infinite.iloc[5, j] = -np.inf
        else:
            missing[[1, 4], j] = np.nan
            infinite[5, j] = -np.inf
        calls = [predictor.predict, predictor, predictor.raw_frame]
        if predictor.task == "classification":
            calls.append(predictor.predict_proba)
        for call in calls:
            with pytest.raises(ValueError) as err:
                call(missing)
            assert str(err.value) == (
                f"numeric {named} is missing (NaN/empty) at rows 1, 4; every numeric feature "
                "needs a finite value: fill or drop these rows"
            )
        with pytest.raises(ValueError, match=rf"^numeric {named} is infinite at row 5; every "):
            predictor.predict(infinite)


def test_an_empty_cell_read_from_a_csv_is_refused_with_its_rows(tmp_path):
    """As `sweepforge predict --input rows.csv` reads a table: empty cells of a numeric column
    beyond the first few rows are listed as '...'; a second bad column is named too."""
    predictor, X = table_predictor()
    frame = predictor.raw_frame(X[:10])
    frame.loc[[0, 3, 6, 9], "size"] = np.nan
    frame.loc[7, "weight"] = np.inf
    frame.to_csv(tmp_path / "rows.csv", index=False)
    table = pd.read_csv(tmp_path / "rows.csv")
    assert table["size"].isna().sum() == 4
    with pytest.raises(ValueError) as err:
        predictor.predict(table)
    assert str(err.value) == (
        "numeric column 'size' is missing (NaN/empty) at rows 0, 3, 6, ...; every numeric "
        "feature needs a finite value: fill or drop these rows (column 'weight' too)"
    )


def test_a_missing_category_is_refused_whether_it_holds_levels_or_codes():
    predictor, X = table_predictor()  # colour keeps its level names
    frame = predictor.raw_frame(X[:6])
    for missing in (None, np.nan):
        holed = frame.copy()
        holed.iloc[3, holed.columns.get_loc("colour")] = missing
        with pytest.raises(ValueError, match=r"^categorical column 'colour' is missing "
                           r"\(NaN/None\) at row 3; it must hold one of its levels"):
            predictor.predict_proba(holed)
    t = trial("entity_embedding-store_sales")  # store: codes, no level names
    coded = predictor_from_state(t.name, t.overrides, t.data, t.state)
    rows = t.data.X_test[:6].copy()
    rows[2, 0] = np.nan
    with pytest.raises(ValueError) as err:
        coded.predict(rows)
    assert str(err.value) == (
        "categorical 'store' is missing (NaN/None) at row 2; it must hold a code 0..999: fill "
        "or drop these rows"
    )
    table = coded.raw_frame(t.data.X_test[:6]).astype({"store": object})
    table.loc[2, "store"] = None
    with pytest.raises(ValueError, match=r"^categorical 'store' is missing \(NaN/None\) at row 2"):
        coded.predict(table)


def test_images_with_a_missing_pixel_are_refused():
    t = trial("cnn-digits")
    predictor = predictor_from_state("cnn", t.overrides, t.data, t.state)
    images = t.data.X_test[:4].reshape(-1, 1, 8, 8).copy()
    images[2, 0, 3, 5] = np.nan
    with pytest.raises(ValueError) as err:
        predictor.predict(images)
    assert str(err.value) == (
        "pixel (0, 3, 5) of the (1, 8, 8) images (feature 29 of a flattened row) is "
        "missing (NaN/empty) at row 2; every numeric feature needs a finite value: fill or drop "
        "these rows"
    )
