"""Scalers learn their statistics from the training split only."""

import numpy as np
import pytest

from sweepforge.trainables import MinMaxScaler, Standardizer, load_dataset


def test_standardizer_gives_zero_mean_unit_std_on_the_fitted_data():
    X = load_dataset("wine").X_train
    Z = Standardizer().fit_transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-4)


def test_standardizer_applies_training_statistics_to_other_data():
    scaler = Standardizer().fit(np.array([[0.0], [2.0]]))
    assert scaler.transform(np.array([[4.0]])).tolist() == [[3.0]]


def test_constant_columns_stay_finite():
    X = load_dataset("digits").X_train  # some pixels are always blank
    assert np.isfinite(Standardizer().fit_transform(X)).all()
    assert np.isfinite(MinMaxScaler().fit_transform(X)).all()


def test_minmax_scales_the_fitted_data_to_the_unit_interval():
    Z = MinMaxScaler().fit_transform(load_dataset("iris").X_train)
    np.testing.assert_allclose(Z.min(axis=0), 0)
    np.testing.assert_allclose(Z.max(axis=0), 1)


def test_misuse_is_reported():
    with pytest.raises(RuntimeError, match="must be fitted"):
        Standardizer().transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="2 columns, got shape"):
        Standardizer().fit(np.zeros((3, 2))).transform(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        MinMaxScaler().fit(np.zeros(3))
