"""The unet trainable segments the generated shapes with its defaults, reports pixel accuracy and
IoU every epoch, is reproducible, and rejects knob values and data that do not fit; the shapes
datasets are deterministic and their masks match their images."""

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from sweepforge.trainables import (
    COST_METRICS,
    ConfigError,
    Dataset,
    get_trainable,
    load_dataset,
)
from sweepforge.trainables.shape_datasets import (
    KINDS,
    MIN_CONTRAST,
    generate_shapes,
    load_shape_kinds,
    load_shapes,
)
from sweepforge.trainables.unet import (
    UNet,
    UNetConfig,
    foreground_iou,
    max_depth,
    segmentation,
    train_unet,
)
from tests.trainables.cost_metrics import reports_without_costs, without_costs

METRICS = {
    "epoch",
    "train_loss",
    "val_loss",
    "val_pixel_accuracy",
    "val_iou",
    "test_loss",
    "test_pixel_accuracy",
    "test_iou",
    *COST_METRICS,
}


@pytest.fixture(scope="module")
def shapes():
    return load_dataset("shapes", seed=0)


@pytest.fixture(scope="module")
def few_shapes(shapes):
    """64 training and 32 validation/test images of ``shapes``: enough to exercise training."""
    return Dataset(
        "few_shapes",
        "segmentation",
        shapes.X_train[:64],
        shapes.y_train[:64],
        shapes.X_val[:32],
        shapes.y_val[:32],
        shapes.X_test[:32],
        shapes.y_test[:32],
        shapes.image_shape,
    )


@pytest.fixture(scope="module")
def default_run(shapes):
    """One run of the default config on ``shapes`` (about 7 s on one idle thread)."""
    reports = []
    start = time.perf_counter()
    result = get_trainable("unet").train({}, shapes, reports.append, seed=0)
    return result, reports, time.perf_counter() - start


# --- the quality bar --------------------------------------------------------------------------


@pytest.mark.slow
def test_default_config_reaches_iou_0_8_on_the_test_split(default_run):
    result, _, seconds = default_run
    print(
        f"unet default on shapes: test_iou={result['test_iou']:.3f} "
        f"test_pixel_accuracy={result['test_pixel_accuracy']:.4f} in {seconds:.1f} s"
    )
    assert result["test_iou"] >= 0.8
    assert result["val_iou"] >= 0.8
    assert result["test_pixel_accuracy"] >= 0.95


@pytest.mark.slow
def test_reports_once_per_epoch_and_the_last_report_is_the_result(default_run):
    result, reports, _ = default_run
    assert [r["epoch"] for r in reports] == list(range(1, UNetConfig().epochs + 1))
    assert all(
        set(r) == METRICS - COST_METRICS - {"test_loss", "test_pixel_accuracy", "test_iou"}
        for r in reports[:-1]
    )
    assert reports[-1] == result and set(result) == METRICS
    assert reports[-1]["train_loss"] < reports[0]["train_loss"]


# --- the objective ----------------------------------------------------------------------------


def _one_hot_logits(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Logits ``(n, k, pixels)`` whose argmax is ``labels`` ``(n, pixels)``."""
    return nn.functional.one_hot(labels, n_classes).permute(0, 2, 1).float() * 5.0


def test_a_perfect_prediction_scores_iou_and_accuracy_1():
    masks = torch.tensor([[0, 1, 1, 0], [2, 2, 0, 1]])
    m = segmentation(3).metrics(_one_hot_logits(masks, 3), masks)
    assert m["pixel_accuracy"] == 1.0 and m["iou"] == 1.0 and m["loss"] < 0.02


def test_predicting_only_background_scores_iou_0_whatever_the_pixel_accuracy():
    masks = torch.zeros(2, 100, dtype=torch.int64)
    masks[:, :5] = 1
    m = segmentation(2).metrics(_one_hot_logits(torch.zeros_like(masks), 2), masks)
    assert m["pixel_accuracy"] == pytest.approx(0.95) and m["iou"] == 0.0


def test_iou_is_pooled_over_the_split_and_averaged_over_foreground_classes():
    # class 1: 2 hits of 3 pixels in the union; class 2: 1 hit of 2; background is not counted
    predicted = torch.tensor([[1, 1, 2, 0], [1, 2, 0, 0]])
    masks = torch.tensor([[1, 1, 2, 0], [2, 2, 0, 1]])
    assert foreground_iou(predicted, masks, 3) == pytest.approx((2 / 4 + 2 / 3) / 2)
    # a class in neither prediction nor truth is left out of the mean
    assert foreground_iou(predicted, masks, 5) == pytest.approx((2 / 4 + 2 / 3) / 2)
    assert (
        foreground_iou(torch.zeros(3, dtype=torch.int64), torch.zeros(3, dtype=torch.int64), 2)
        == 1.0
    )


def test_segmentation_loss_is_per_pixel_cross_entropy():
    logits = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0))
    masks = torch.tensor([[0, 1, 2, 0], [1, 1, 0, 2]])
    expected = -torch.log_softmax(logits, dim=1).gather(1, masks.unsqueeze(1)).mean()
    assert float(segmentation(3).loss(logits, masks)) == pytest.approx(float(expected))


# --- the model --------------------------------------------------------------------------------


def test_levels_double_channels_and_the_decoder_takes_the_skip_connections():
    model = UNet((1, 32, 32), 2, depth=3, width=4, activation="elu", dropout=0.5)
    first_convs = [block[0] for block in model.encoder] + [model.bottleneck[0]]
    assert [(c.in_channels, c.out_channels) for c in first_convs] == [
        (1, 4),
        (4, 8),
        (8, 16),
        (16, 32),
    ]
    # each decoder level gets its upsampled input (halved by a 1x1 conv) beside the skip
    assert [(r.in_channels, r.out_channels) for r in model.reduce] == [(8, 4), (16, 8), (32, 16)]
    assert [block[0].in_channels for block in model.decoder] == [8, 16, 32]
    assert [type(m).__name__ for m in model.encoder[0]] == [
        "Conv2d",
        "BatchNorm2d",
        "ELU",
        "Conv2d",
        "BatchNorm2d",
        "ELU",
    ]
    assert isinstance(model.dropout, nn.Dropout) and model.head.out_channels == 2
    assert model(torch.zeros(3, 1024)).shape == (3, 2, 1024)
    plain = UNet((1, 32, 32), 4, depth=1, width=2, batch_norm=False)
    assert [type(m).__name__ for m in plain.encoder[0]] == ["Conv2d", "ReLU", "Conv2d", "ReLU"]
    assert plain.encoder[0][0].bias is not None and isinstance(plain.dropout, nn.Identity)


def test_the_skip_connections_carry_fine_detail_to_the_output():
    # Changing one input pixel changes the logits there even with the bottleneck's output zeroed
    torch.manual_seed(0)
    model = UNet((1, 32, 32), 2, depth=2, width=8, batch_norm=False).eval()
    with torch.no_grad():
        for parameter in model.bottleneck.parameters():
            parameter.zero_()
        x = torch.rand(1, 1024)
        poked = x.clone()
        poked[0, 5 * 32 + 7] += 10.0
        changed = (model(poked) - model(x)).abs().sum(dim=1).reshape(32, 32) > 0
    assert changed[5, 7] and not changed[20:, 20:].any()


def test_odd_image_sizes_line_up_with_their_skips():
    assert max_depth((1, 28, 28)) == 3 and max_depth((3, 32, 16)) == 3
    model = UNet((3, 28, 20), 3, depth=3, width=2)
    assert model(torch.zeros(2, 3 * 28 * 20)).shape == (2, 3, 28 * 20)


# --- training ---------------------------------------------------------------------------------


def test_same_seed_same_reports_other_seed_other_result(few_shapes):
    config = UNetConfig(epochs=2, width=2, depth=2, dropout=0.2)
    first, second = [], []
    train_unet(config, few_shapes, first.append, seed=3)
    train_unet(config, few_shapes, second.append, seed=3)
    assert reports_without_costs(first) == reports_without_costs(second)
    assert without_costs(train_unet(config, few_shapes, seed=4)) != without_costs(first[-1])


@pytest.mark.parametrize(
    "knobs",
    [
        {"activation": "tanh", "batch_norm": False, "init": "xavier_normal"},
        {"activation": "leaky_relu", "optimizer": "momentum", "lr": 0.05, "dropout": 0.3},
        {"activation": "elu", "optimizer": "adamw", "weight_decay": 0.01, "depth": 4},
    ],
)
def test_other_knobs_train_to_finite_metrics(knobs, few_shapes):
    result = train_unet(UNetConfig(epochs=1, width=2, **knobs), few_shapes)
    assert set(result) == METRICS and all(math.isfinite(v) for v in result.values())


def test_training_with_several_classes_reports_mean_foreground_iou():
    X, kinds = load_shape_kinds()
    data = Dataset(
        "few_kinds",
        "segmentation",
        X[:64],
        kinds[:64],
        X[64:96],
        kinds[64:96],
        X[96:128],
        kinds[96:128],
        (1, 32, 32),
    )
    result = train_unet(UNetConfig(epochs=1, width=2, depth=2), data)
    assert data.n_classes == len(KINDS) and 0.0 <= result["test_iou"] <= 1.0


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "match"),
    [
        ({"depth": 7}, "depth", r"depth=7 is out of range; it must satisfy 1 <= depth <= 6"),
        ({"depth": 0}, "depth", r"depth=0 is out of range"),
        ({"width": 0}, "width", r"width=0 is out of range; it must satisfy width >= 1"),
        ({"batch_norm": "yes"}, "batch_norm", r"batch_norm='yes' is not a boolean"),
        ({"dropout": 1.0}, "dropout", r"dropout=1.0 is out of range"),
        ({"lr": 0}, "lr", r"lr=0.0 is out of range"),
        ({"activation": "relu6"}, "activation", r"activation='relu6' is not allowed"),
        ({"init": "kaiming"}, "init", r"init='kaiming' is not allowed; choose one of"),
        ({"epochs": 0}, "epochs", r"epochs=0 is out of range"),
        ({"levels": 2}, "levels", r"unknown field 'levels'.*valid fields: lr, batch_size"),
    ],
)
def test_bad_knob_values_are_config_errors_naming_the_field(values, field, match):
    with pytest.raises(ConfigError, match=match) as e:
        get_trainable("unet").make_config(values)
    assert e.value.field == field


def test_depth_too_large_for_32x32_images_is_caught_before_training(shapes):
    spec = get_trainable("unet")
    with pytest.raises(
        ConfigError, match=r"depth=5 is too large for 32x32 images.*1 <= depth <= 4"
    ) as e:
        spec.make_config({"depth": 5}, shapes)
    assert e.value.field == "depth"
    with pytest.raises(ConfigError, match=r"depth=5 is too large"):
        train_unet(UNetConfig(depth=5), shapes)
    with pytest.raises(ConfigError, match=r"depth=4 is too large for 8x8 images"):
        UNet((1, 8, 8), 2, depth=4)
    spec.make_config({"depth": 4}, shapes)


def test_a_classification_dataset_is_refused_by_the_task_check():
    digits = load_dataset("digits")
    with pytest.raises(
        ConfigError,
        match=r"'digits' is a classification dataset but trainable 'unet' trains "
        r"on segmentation data; choose one of: shapes, shape_kinds",
    ) as e:
        get_trainable("unet").train({"epochs": 1}, digits)
    assert e.value.field == "dataset"
    with pytest.raises(ConfigError, match=r"trains on segmentation data"):
        train_unet(UNetConfig(epochs=1), digits)  # called directly, past the registry


def test_classifiers_refuse_the_segmentation_datasets(shapes):
    with pytest.raises(ConfigError, match=r"'shapes' is a segmentation dataset") as e:
        get_trainable("cnn").make_config({}, shapes)
    assert e.value.field == "dataset"


# --- the datasets -----------------------------------------------------------------------------


def test_shapes_are_registered_segmentation_images_split_600_200_200(shapes):
    kinds = load_dataset("shape_kinds", seed=0)
    for data, n_classes in ((shapes, 2), (kinds, len(KINDS))):
        assert data.task == "segmentation" and data.image_shape == (1, 32, 32)
        assert (data.n_train, len(data.y_val), len(data.y_test)) == (600, 200, 200)
        assert data.n_classes == n_classes and data.y_train.shape == (600, 1024)
        assert data.X_train.min() >= 0.0 and data.X_train.max() <= 1.0
    assert np.array_equal(shapes.X_test, kinds.X_test)  # the same images, other masks
    assert np.array_equal(shapes.y_test, (kinds.y_test > 0).astype(np.int64))


def test_generation_is_deterministic_and_seeded():
    X, masks = load_shapes()
    again_X, again_masks = load_shapes()
    assert np.array_equal(X, again_X) and np.array_equal(masks, again_masks)
    first, second, other = (generate_shapes(20, seed=s) for s in (7, 7, 8))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_every_image_shows_a_shape_and_the_masks_cover_a_sensible_share():
    _, kinds = load_shape_kinds()
    foreground = kinds > 0
    assert foreground.any(axis=1).all()
    assert 0.05 < foreground.mean() < 0.35
    assert set(np.unique(kinds).tolist()) == set(range(len(KINDS)))
    assert all(0.2 < share < 0.5 for share in np.bincount(kinds[foreground])[1:] / foreground.sum())


def test_masks_line_up_with_the_images():
    X, masks = load_shapes()
    # shape pixels stray from the background level by at least the drawn contrast (less noise);
    # background pixels only by the noise. A mask shifted or transposed breaks this.
    stand_out = []
    for image, mask in zip(X[:300], masks[:300].astype(bool), strict=True):
        level = np.median(image[~mask])
        stand_out.append(np.abs(image[mask] - level).mean() - np.abs(image[~mask] - level).mean())
    assert np.mean(np.array(stand_out) > MIN_CONTRAST / 2) > 0.95
    shifted = [
        np.abs(image[mask] - np.median(image[~mask])).mean()
        for image, mask in zip(X[:300], np.roll(masks[:300], 16, axis=1).astype(bool), strict=True)
    ]
    assert np.mean(shifted) < np.mean(stand_out)
