"""The autoencoder trainable reconstructs digits and MNIST better than PCA with the same code size,
in every variant (plain, denoising with Gaussian or masking noise, sparse); its noise is seeded
and resumable, its sparsity penalty makes the code sparse, and bad knobs are ConfigErrors."""

import math
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from sweepforge.trainables import (
    COST_METRICS,
    ConfigError,
    MemoryCheckpointer,
    get_trainable,
    load_dataset,
)
from sweepforge.trainables._loop import train_model
from sweepforge.trainables.autoencoder import (
    Autoencoder,
    AutoencoderConfig,
    Corruption,
    build_autoencoder,
    kl_sparsity,
    pca_mse,
    reconstruction,
    reconstruction_splits,
    sparsity_penalty,
    train_autoencoder,
)
from sweepforge.trainables.datasets import Dataset
from tests.trainables.cost_metrics import without_costs

METRICS = {
    "epoch",
    "train_loss",
    "val_loss",
    "val_mse",
    "val_pca_mse",
    "test_loss",
    "test_mse",
    "test_pca_mse",
    *COST_METRICS,
}
VARIANTS = {
    "plain": {},
    "denoising_gaussian": {"noise": "gaussian", "noise_level": 0.1},
    "denoising_masking": {"noise": "masking", "noise_level": 0.1},
    "sparse": {"sparsity_weight": 1e-3},
}
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", seed=0)


def _train_and_print(values, data):
    start = time.perf_counter()
    result = get_trainable("autoencoder").train(values, data, seed=0)
    print(
        f"autoencoder {values} on {data.name}: test_mse={result['test_mse']:.5f} "
        f"PCA={result['test_pca_mse']:.5f} "
        f"({result['test_mse'] / result['test_pca_mse']:.2f}x) in {time.perf_counter() - start:.1f} s"
    )
    return result


# On 64-pixel digits a code of 8 is the small bottleneck (PCA keeps ~78% of the variance); with
# 16 codes PCA is already close (plain AE 0.76x PCA, masking q=0.1 about 1.0x in 20 epochs).
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_reconstructs_digits_better_than_pca(variant, digits):
    result = _train_and_print({**VARIANTS[variant], "code_size": 8}, digits)
    assert result["test_mse"] < 0.9 * result["test_pca_mse"]
    assert result["val_mse"] < 0.9 * result["val_pca_mse"]


@pytest.mark.slow
def test_default_config_beats_pca_on_mnist_in_five_epochs(mnist):
    result = _train_and_print({"epochs": 5}, mnist)
    assert result["test_mse"] < 0.9 * result["test_pca_mse"]
    assert result["val_mse"] < 0.9 * result["val_pca_mse"]


@pytest.mark.slow
@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "plain"])
def test_denoising_and_sparse_variants_beat_pca_on_mnist(variant, mnist):
    result = _train_and_print({**VARIANTS[variant], "epochs": 5}, mnist)
    assert result["test_mse"] < result["test_pca_mse"]
    assert result["val_mse"] < result["val_pca_mse"]


def test_reports_once_per_epoch_with_the_pca_baseline(digits):
    reports = []
    result = train_autoencoder(AutoencoderConfig(epochs=3, width=32), digits, reports.append)
    assert [r["epoch"] for r in reports] == [1, 2, 3]
    assert all(set(r) == METRICS - COST_METRICS - {"test_loss", "test_mse", "test_pca_mse"}
               for r in reports[:2])
    assert reports[-1] == result and set(result) == METRICS
    assert set(get_trainable("autoencoder").metrics) == METRICS
    assert all(r["val_loss"] == r["val_mse"] for r in reports)
    assert len({r["val_pca_mse"] for r in reports}) == 1  # computed once
    assert reports[0]["val_mse"] > reports[-1]["val_mse"]


def test_pca_baseline_matches_sklearn_in_the_scaled_space(digits):
    splits = reconstruction_splits(digits, CPU)
    assert float(splits.x_train.min()) == 0.0 and float(splits.x_train.max()) == 1.0
    assert torch.equal(splits.x_val, torch.from_numpy(digits.X_val / 16.0))  # digits are 0..16
    pca = PCA(n_components=12, svd_solver="full").fit(splits.x_train.double().numpy())
    for part in ("val", "test"):
        x = getattr(splits, f"x_{part}").double().numpy()
        expected = np.mean((pca.inverse_transform(pca.transform(x)) - x) ** 2)
        assert pca_mse(splits, 12)[f"{part}_pca_mse"] == pytest.approx(expected, rel=1e-9)
    assert pca_mse(splits, 64)["val_pca_mse"] < 1e-20  # as many components as pixels: exact


def test_labels_are_ignored(digits):
    shuffled = Dataset(
        "digits",
        "classification",
        digits.X_train,
        np.roll(digits.y_train, 1),
        digits.X_val,
        np.zeros_like(digits.y_val),
        digits.X_test,
        digits.y_test,
        image_shape=digits.image_shape,
    )
    config = AutoencoderConfig(epochs=1, width=32)
    assert without_costs(train_autoencoder(config, shuffled, seed=2)) == without_costs(
        train_autoencoder(config, digits, seed=2)
    )


def test_noisy_sparse_runs_are_seeded_and_resume_exactly(digits):
    spec = get_trainable("autoencoder")
    values = {
        "epochs": 2,
        "width": 32,
        "noise": "masking",
        "noise_level": 0.3,
        "sparsity_weight": 0.01,
    }
    straight = without_costs(spec.train(values, digits, seed=4))
    assert without_costs(spec.train(values, digits, seed=4)) == straight
    assert without_costs(spec.train(values, digits, seed=5)) != straight
    keeper = MemoryCheckpointer()
    spec.train({**values, "epochs": 1}, digits, seed=4, checkpoint=keeper)
    assert without_costs(spec.train(values, digits, seed=4, checkpoint=keeper)) == straight


def test_noise_changes_training_and_validation_sees_clean_inputs(digits):
    base = AutoencoderConfig(epochs=2, width=32)
    plain = train_autoencoder(base, digits)
    noisy = train_autoencoder(replace(base, noise="gaussian", noise_level=0.3), digits)
    assert noisy["train_loss"] > plain["train_loss"]  # harder: reconstruct clean from noisy
    assert noisy["val_mse"] != plain["val_mse"]
    # Zero noise is the plain autoencoder, whatever its kind.
    masked = train_autoencoder(replace(base, noise="masking"), digits)
    assert without_costs(masked) == without_costs(plain)


def test_training_leaves_the_callers_rng_alone(digits):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_autoencoder(
        AutoencoderConfig(epochs=1, width=16, noise="gaussian", noise_level=0.1), digits
    )
    assert torch.equal(torch.rand(3), expected)


def test_corruption_draws_noise_only_in_training_mode():
    x = torch.full((200, 50), 0.5)
    torch.manual_seed(0)
    masked = Corruption("masking", 0.3).train()(x)
    assert set(masked.unique().tolist()) == {0.0, 0.5}
    assert float((masked == 0).float().mean()) == pytest.approx(0.3, abs=0.02)
    noisy = Corruption("gaussian", 0.2).train()(x)
    assert float((noisy - x).std()) == pytest.approx(0.2, abs=0.01)
    for kind in ("gaussian", "masking"):
        assert torch.equal(Corruption(kind, 0.3).eval()(x), x)
    assert torch.equal(Corruption("none", 0.9).train()(x), x)


def test_kl_sparsity_is_zero_at_the_target_and_grows_away_from_it():
    rho = 0.05
    at_target = torch.full((10, 4), rho)
    assert float(kl_sparsity(at_target, rho)) == pytest.approx(0.0, abs=1e-7)
    code = torch.tensor([[0.2, 0.9], [0.4, 0.5]])  # unit means 0.3 and 0.7
    expected = sum(
        rho * math.log(rho / m) + (1 - rho) * math.log((1 - rho) / (1 - m)) for m in (0.3, 0.7)
    )
    assert float(kl_sparsity(code, rho)) == pytest.approx(expected, rel=1e-6)
    assert math.isfinite(float(kl_sparsity(torch.zeros(3, 2), rho)))  # clamped, not inf


def test_sparsity_penalty_reads_the_code_of_the_last_batch():
    model = Autoencoder(6, code_size=3, depth=1, width=4).train()
    penalty = sparsity_penalty(0.5, 0.1)(model)
    with pytest.raises(RuntimeError, match="forward pass first"):
        penalty()
    x = torch.rand(5, 6)
    model(x)
    expected = 0.5 * kl_sparsity(model.encode(x), 0.1)
    assert float(penalty().detach()) == pytest.approx(float(expected.detach()))
    assert sparsity_penalty(0.0, 0.1)(model) is None
    model.eval()(x)
    assert model.last_code is None  # evaluation keeps no graph around


def test_sparsity_weight_pulls_the_mean_code_activation_toward_the_target(digits):
    splits = reconstruction_splits(digits, CPU)

    def mean_activation(config):
        models = []

        def build():
            models.append(build_autoencoder(config, digits.n_features))
            return models[-1]

        penalty = sparsity_penalty(config.sparsity_weight, config.sparsity_target)
        result = train_model(
            build, config, splits, reconstruction(), device=CPU, seed=0, penalty=penalty
        )
        with torch.no_grad():
            return float(models[0].eval().encode(splits.x_val).mean()), result["val_mse"]

    plain = AutoencoderConfig(code_size=8, width=64, epochs=8)
    dense, _ = mean_activation(plain)
    sparse, val_mse = mean_activation(replace(plain, sparsity_weight=0.05))
    print(f"mean code activation: {dense:.3f} plain, {sparse:.3f} sparse (target 0.05)")
    assert dense > 0.3
    assert sparse < 0.12
    assert math.isfinite(val_mse)


def test_amp_trains_every_variant_to_finite_metrics(digits):
    values = {"epochs": 1, "width": 16, "amp": True, "sparsity_weight": 0.01}
    for noise in ("gaussian", "masking"):
        result = get_trainable("autoencoder").train(
            {**values, "noise": noise, "noise_level": 0.2}, digits
        )
        assert all(math.isfinite(v) for v in result.values())


def test_model_layout_mirrors_the_encoder():
    model = Autoencoder(64, code_size=8, depth=2, width=32, activation="tanh")
    encoder = [type(m).__name__ for m in model.encoder]
    assert encoder == ["Dense", "Tanh", "Dense", "Tanh", "Dense"]
    assert [m.out_features for m in model.encoder if isinstance(m, torch.nn.Linear)] == [32, 32, 8]
    assert [m.out_features for m in model.decoder if isinstance(m, torch.nn.Linear)] == [32, 32, 64]
    shallow = Autoencoder(64, code_size=4, depth=0)
    assert len(shallow.encoder) == len(shallow.decoder) == 1
    out = model.eval()(torch.rand(3, 64))
    assert out.shape == (3, 64) and bool(((out > 0) & (out < 1)).all())


@pytest.mark.parametrize(
    ("values", "field", "match"),
    [
        ({"noise": "salt"}, "noise", r"noise='salt' is not allowed; choose one of: none, gaussian"),
        (
            {"noise": "masking", "noise_level": 1.0},
            "noise_level",
            r"noise_level=1.0 is out of range; it must satisfy 0 <= noise_level < 1",
        ),
        (
            {"noise": "gaussian", "noise_level": -0.1},
            "noise_level",
            r"noise_level=-0.1 is out of range; it must satisfy noise_level >= 0",
        ),
        (
            {"sparsity_target": 0.0},
            "sparsity_target",
            r"sparsity_target=0.0 is out of range; it must satisfy 0 < sparsity_target < 1",
        ),
        ({"sparsity_target": 1.0}, "sparsity_target", r"sparsity_target=1.0 is out of range"),
        ({"sparsity_weight": -1}, "sparsity_weight", r"sparsity_weight=-1.0 is out of range"),
        (
            {"code_size": 0},
            "code_size",
            r"code_size=0 is out of range; it must satisfy code_size >= 1",
        ),
        ({"depth": 9}, "depth", r"depth=9 is out of range; it must satisfy 0 <= depth <= 8"),
        ({"code": 8}, "code", r"unknown field 'code' \(did you mean 'code_size'\?\)"),
    ],
)
def test_bad_knob_values_are_config_errors_naming_the_field(values, field, match):
    with pytest.raises(ConfigError, match=match) as e:
        get_trainable("autoencoder").make_config(values)
    assert e.value.field == field


def test_tabular_and_regression_data_are_refused():
    spec = get_trainable("autoencoder")
    with pytest.raises(
        ConfigError, match=r"dataset 'wine' has no image_shape.*: digits, mnist"
    ) as e:
        spec.train({"epochs": 1}, load_dataset("wine"))
    assert e.value.field == "dataset"
    with pytest.raises(ConfigError, match=r"'diabetes' is a regression dataset") as e:
        spec.train({"epochs": 1}, load_dataset("diabetes"))
    assert e.value.field == "dataset"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda_with_noise_and_sparsity(digits):
    config = AutoencoderConfig(epochs=3, noise="masking", noise_level=0.2, sparsity_weight=1e-3)
    result = train_autoencoder(config, digits, device="cuda", seed=1)
    assert all(math.isfinite(v) for v in result.values())
    assert result["val_mse"] < 0.05  # the mean image alone scores 0.074


def test_batch_norm_sits_between_each_hidden_layer_and_its_activation_on_both_sides():
    model = Autoencoder(64, code_size=8, depth=2, width=32, activation="tanh", batch_norm=True)
    for side in (model.encoder, model.decoder):
        kinds = [type(m).__name__ for m in side]
        assert kinds == ["Dense", "RowBatchNorm", "Tanh"] * 2 + ["Dense"]
        assert [m.bias is None for m in side if isinstance(m, torch.nn.Linear)] == [True, True, False]
    assert "RowBatchNorm" not in repr(Autoencoder(64, depth=2))  # off by default
    assert len(Autoencoder(64, depth=0, batch_norm=True).encoder) == 1  # no hidden layer, no norm
    built = build_autoencoder(AutoencoderConfig(batch_norm=True), 2, torch.tensor([0.5, 0.9]))
    assert [round(p, 4) for p in torch.sigmoid(built.decoder[-1].bias).tolist()] == [0.5, 0.9]


def test_batch_norm_trains_and_resumes_exactly(digits):
    spec = get_trainable("autoencoder")
    values = {"epochs": 2, "width": 32, "batch_norm": True, "noise": "masking",
              "noise_level": 0.2, "sparsity_weight": 0.01}
    straight = spec.train(values, digits, seed=4)
    assert all(math.isfinite(v) for v in straight.values())
    plain = spec.train({**values, "batch_norm": False}, digits, seed=4)
    assert without_costs(straight) != without_costs(plain)
    keeper = MemoryCheckpointer()
    spec.train({**values, "epochs": 1}, digits, seed=4, checkpoint=keeper)
    assert "encoder.1.running_var" in keeper.state["model"]
    resumed = spec.train(values, digits, seed=4, checkpoint=keeper)
    assert without_costs(resumed) == without_costs(straight)
