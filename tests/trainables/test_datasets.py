"""Bundled datasets: seeded, stratified train/val/test splits; clear errors for bad input."""

import dataclasses
import hashlib
import math
import pickle

import numpy as np
import pytest
from sklearn import datasets as skdatasets

from sweepforge.trainables import ConfigError, Dataset, list_datasets, load_dataset
from sweepforge.trainables.datasets import _REGISTRY, register_dataset, split_dataset

SIZES = {"digits": 1797, "iris": 150, "wine": 178, "breast_cancer": 569, "diabetes": 442}


def test_lists_the_bundled_datasets():
    bundled = ["digits", "iris", "wine", "breast_cancer", "diabetes", "mnist"]
    # in this order; a family's own datasets register when its module is first imported,
    # so where they land in the list depends on which tests ran first
    assert [name for name in list_datasets() if name in bundled] == bundled


@pytest.mark.parametrize("name", list(SIZES))
def test_split_sizes_dtypes_and_shapes(name):
    data = load_dataset(name, seed=0)
    n = SIZES[name]
    n_eval = math.ceil(0.2 * n)
    assert (len(data.y_val), len(data.y_test), data.n_train) == (n_eval, n_eval, n - 2 * n_eval)
    for part in ("train", "val", "test"):
        X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
        assert X.dtype == np.float32 and X.ndim == 2 and X.shape[1] == data.n_features
        assert y.dtype == (np.float32 if name == "diabetes" else np.int64)


def test_digits_training_split_has_1077_rows():
    assert load_dataset("digits").n_train == 1077


def test_task_and_class_count():
    assert load_dataset("digits").n_classes == 10
    assert load_dataset("breast_cancer").n_classes == 2
    diabetes = load_dataset("diabetes")
    assert (diabetes.task, diabetes.n_classes) == ("regression", 0)


def test_splits_partition_the_whole_dataset():
    data = load_dataset("wine", seed=3)
    _, y = skdatasets.load_wine(return_X_y=True)
    together = np.concatenate([data.y_train, data.y_val, data.y_test])
    assert np.array_equal(np.sort(together), np.sort(y))
    rows = np.concatenate([data.X_train, data.X_val, data.X_test])
    assert len(np.unique(rows, axis=0)) == len(y)


def digest(data: Dataset) -> str:
    """A checksum of a dataset's six arrays: their names, dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for part in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        array = getattr(data, part)
        h.update(f"{part}{array.dtype}{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def test_naming_the_labels_left_the_arrays_and_the_split_as_they_were():
    # Checksums computed with the code before Dataset.classes existed, same seeds.
    assert digest(load_dataset("iris", seed=0)) == (
        "13df6e4b26cdb5256f15cf879a2115ac1cca3e2843bb7c76552ae050dfa06288")
    assert digest(load_dataset("iris", seed=3)) == (
        "757247a3bbba2c93651e23b888003b7127e370463fe6a9147f13594c5a21bb43")
    # ... and the same arrays as a split that never heard of the names.
    X, y = skdatasets.load_iris(return_X_y=True)
    plain = split_dataset("iris", "classification", X, y, seed=3)
    assert plain.classes is None and digest(plain) == digest(load_dataset("iris", seed=3))


@pytest.mark.parametrize(
    ("name", "classes"),
    [
        ("iris", ("setosa", "versicolor", "virginica")),
        ("wine", ("class_0", "class_1", "class_2")),
        ("breast_cancer", ("malignant", "benign")),
        ("digits", tuple(range(10))),
        ("diabetes", None),
    ],
)
def test_bundled_datasets_keep_the_names_of_their_labels(name, classes):
    data = load_dataset(name, seed=0)
    assert data.classes == classes
    if classes is not None:
        assert len(data.classes) == data.n_classes
        assert all(type(c) in (str, int) for c in data.classes)  # plain values, not numpy's
    sklearn = getattr(skdatasets, f"load_{name}")()
    if classes is not None:  # label i of the Dataset is sklearn's target_names[i]
        assert list(classes) == sklearn.target_names.tolist()


def test_other_bundled_datasets_name_their_labels_where_they_mean_something():
    mnist = load_dataset("mnist", seed=0)
    assert mnist.classes == tuple(range(10))  # label i is the digit i
    order = load_dataset("temporal_order", seed=0)
    assert order.classes == ("XX", "XY", "YX", "YY")  # the two symbols, in their order
    for name in ("adding", "store_sales", "shapes", "shape_kinds"):  # no class names
        assert load_dataset(name, seed=0).classes is None, name


def test_dataset_keeps_classes_as_a_tuple_of_plain_values():
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    named = Dataset("toy", "classification", X, y, X, y, X, y, classes=np.array(["no", "yes"]))
    assert named.classes == ("no", "yes") and type(named.classes[0]) is str
    numbered = Dataset("toy", "classification", X, y, X, y, X, y, classes=[np.int64(3), 7])
    assert numbered.classes == (3, 7) and type(numbered.classes[0]) is int
    assert Dataset("toy", "classification", X, y, X, y, X, y).classes is None
    again = pickle.loads(pickle.dumps(named))
    assert again.classes == ("no", "yes")
    assert dataclasses.replace(named, name="copy").classes == ("no", "yes")


@pytest.mark.parametrize(
    ("task", "y", "classes", "match"),
    [
        ("classification", [0, 1, 0, 1], ("a",), "must be a list of 2 different values"),
        ("classification", [0, 1, 0, 1], ("a", "b", "c"), "must be a list of 2 different"),
        ("classification", [0, 1, 0, 1], ("a", "a"), "must be a list of 2 different values"),
        ("classification", [0, 1, 0, 1], "ab", "must be a list of 2 different values"),
        ("classification", [0, 1, 0, 1], {"a": 0, "b": 1}, "must be a list of 2"),
        ("regression", [0.5, 1.5, 0.5, 1.5], ("a", "b"), "the task is 'regression'"),
    ],
)
def test_dataset_checks_its_classes(task, y, classes, match):
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match=match):
        Dataset("toy", task, X, y, X, y, X, y, classes=classes)


def test_dataset_checks_its_levels():
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    ok = Dataset("toy", "classification", X, y, X, y, X, y, categories={0: 2, 2: 3},
                 levels={0: np.array(["a", "b"])})
    assert ok.levels == {0: ("a", "b")}
    for levels, match in [({1: ("a", "b")}, "column 1, which is not a categorical column"),
                          ({2: ("a", "b")}, r"levels\[2\]=.* must be a list of 3 different"),
                          ({0: ("a", "a")}, "must be a list of 2 different values"),
                          (("a", "b"), "must map a categorical column's index")]:
        with pytest.raises(ValueError, match=match):
            Dataset("toy", "classification", X, y, X, y, X, y, categories={0: 2, 2: 3},
                    levels=levels)


def test_same_seed_gives_the_same_split_and_another_seed_another():
    a, b = load_dataset("iris", seed=7), load_dataset("iris", seed=7)
    c = load_dataset("iris", seed=8)
    for part in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        assert np.array_equal(getattr(a, part), getattr(b, part))
    assert not np.array_equal(a.X_train, c.X_train)


def test_classification_splits_are_stratified():
    data = load_dataset("digits", seed=1)
    full = np.concatenate([data.y_train, data.y_val, data.y_test])
    share = np.bincount(full) / len(full)
    for y in (data.y_train, data.y_val, data.y_test):
        expected = share * len(y)
        assert np.all(np.abs(np.bincount(y, minlength=10) - expected) <= 1.5)


def test_custom_fractions():
    data = load_dataset("iris", val_fraction=0.1, test_fraction=0.3)
    assert (data.n_train, len(data.y_val), len(data.y_test)) == (90, 15, 45)


def test_unknown_name_lists_known_ones_with_a_close_match():
    with pytest.raises(ConfigError) as err:
        load_dataset("digit")
    assert str(err.value) == (
        "unknown dataset 'digit' (did you mean 'digits'?); "
        f"known datasets: {', '.join(list_datasets())}"
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": 0.0}, r"val_fraction=0.0 is out of range; it must satisfy 0 < val_"),
        ({"test_fraction": 1.5}, r"test_fraction=1.5 is out of range"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, r"leaves no training data"),
        ({"val_fraction": 0.01}, r"validation split would hold 2 rows, fewer than its 3 classes"),
    ],
)
def test_bad_fractions_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        load_dataset("iris", **kwargs)


def test_dataset_checks_its_arrays():
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="the val split needs"):
        Dataset("toy", "classification", X, y, X, y[:3], X, y)
    with pytest.raises(ConfigError, match="task='clustering' is not allowed"):
        Dataset("toy", "clustering", X, y, X, y, X, y)


def test_a_registered_loader_slots_in():
    try:
        register_dataset("ramp", task="regression")(
            lambda: (np.arange(40.0).reshape(20, 2), np.arange(20.0))
        )
        data = load_dataset("ramp")
        assert "ramp" in list_datasets()
        assert (data.n_train, data.task) == (12, "regression")
        with pytest.raises(ValueError, match="already registered"):
            register_dataset("ramp", task="regression")(lambda: (None, None))
    finally:
        _REGISTRY.pop("ramp", None)
