"""Segmentation datasets generated in code: noisy grayscale images of circles, rectangles and
triangles, with a class label for every pixel.

Two variants are registered, both fixed in size (1,000 images of 32x32 pixels, ``image_shape``
``(1, 32, 32)``) and drawn from one fixed seed, so every load gives the same arrays:

- ``shapes``: foreground vs background; ``y`` is 1 on every shape pixel, 0 elsewhere;
- ``shape_kinds``: the same images, ``y`` names the kind of shape on each pixel (0 background,
  1 circle, 2 rectangle, 3 triangle; see :data:`KINDS`), so a model must tell shapes apart.

Each image has a random background level, 1 to 3 shapes of random kind, size, place and
brightness (always at least :data:`MIN_CONTRAST` away from the background, brighter or darker),
and Gaussian pixel noise; pixels are clipped to ``[0, 1]``. A later shape covers an earlier one
where they overlap, in the image and in the mask alike. Rows are flattened images, like every
other image dataset; masks are flattened the same way.

Example:
    >>> from sweepforge.trainables import load_dataset
    >>> data = load_dataset("shapes", seed=0)
    >>> (data.task, data.n_train, len(data.y_val), data.image_shape, data.n_classes)
    ('segmentation', 600, 200, (1, 32, 32), 2)
"""

from __future__ import annotations

import functools

import numpy as np

from .datasets import ImageShape, register_dataset

KINDS = ("background", "circle", "rectangle", "triangle")
"""Class names of ``shape_kinds`` masks, by label."""

SHAPES_IMAGE_SHAPE: ImageShape = (1, 32, 32)
N_IMAGES = 1000
SEED = 20_240_611
MAX_SHAPES = 3
MIN_CONTRAST = 0.25  # least |shape level - background level|
NOISE_STD = 0.08


def generate_shapes(
    n_images: int, *, size: int = 32, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_images`` noisy ``size`` x ``size`` images and their per-pixel kind masks.

    The registered datasets call this with their fixed size and seed; tests and experiments may
    draw other amounts. The same arguments always give the same arrays.

    Returns:
        ``X`` ``(n_images, size * size)`` ``float32`` in ``[0, 1]`` and ``masks`` of the same
        shape, ``int64`` labels from :data:`KINDS`.

    Example:
        >>> X, masks = generate_shapes(4, size=16, seed=1)
        >>> X.shape, X.dtype, masks.dtype, int(masks.max()) <= 3
        ((4, 256), dtype('float32'), dtype('int64'), True)
    """
    if n_images < 1 or size < 16:
        raise ValueError(f"need n_images >= 1 and size >= 16, got {n_images=}, {size=}")
    rng = np.random.default_rng(seed)
    centres = np.arange(size) + 0.5
    yy, xx = np.meshgrid(centres, centres, indexing="ij")
    X = np.empty((n_images, size, size), dtype=np.float64)
    masks = np.zeros((n_images, size, size), dtype=np.int64)
    draw = {1: _circle, 2: _rectangle, 3: _triangle}
    for i in range(n_images):
        background = rng.uniform(0.0, 1.0)
        image = np.full((size, size), background)
        for _ in range(rng.integers(1, MAX_SHAPES + 1)):
            kind = int(rng.integers(1, len(KINDS)))
            inside = draw[kind](rng, yy, xx, size)
            image[inside] = _shape_level(rng, background)
            masks[i][inside] = kind
        X[i] = image + rng.normal(0.0, NOISE_STD, size=(size, size))
    X = np.clip(X, 0.0, 1.0).astype(np.float32)
    return X.reshape(n_images, -1), masks.reshape(n_images, -1)


@functools.cache
def _registered_images() -> tuple[np.ndarray, np.ndarray]:
    return generate_shapes(N_IMAGES, size=SHAPES_IMAGE_SHAPE[1], seed=SEED)  # square images


@register_dataset("shapes", task="segmentation", image_shape=SHAPES_IMAGE_SHAPE)
def load_shapes() -> tuple[np.ndarray, np.ndarray]:
    """Return the ``shapes`` dataset: 1,000 flat 32x32 images and foreground (1) masks.

    Example:
        >>> X, y = load_shapes()
        >>> X.shape, y.shape, sorted(np.unique(y).tolist())
        ((1000, 1024), (1000, 1024), [0, 1])
    """
    X, kinds = _registered_images()
    return X.copy(), (kinds > 0).astype(np.int64)


@register_dataset("shape_kinds", task="segmentation", image_shape=SHAPES_IMAGE_SHAPE)
def load_shape_kinds() -> tuple[np.ndarray, np.ndarray]:
    """Return the ``shape_kinds`` dataset: the ``shapes`` images with per-kind masks.

    Example:
        >>> X, y = load_shape_kinds()
        >>> sorted(np.unique(y).tolist())
        [0, 1, 2, 3]
    """
    X, kinds = _registered_images()
    return X.copy(), kinds.copy()


def _shape_level(rng: np.random.Generator, background: float) -> float:
    while True:
        level = rng.uniform(0.0, 1.0)
        if abs(level - background) >= MIN_CONTRAST:
            return level


def _circle(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, size: int) -> np.ndarray:
    radius = rng.uniform(3.0, 7.0)
    cy, cx = rng.uniform(radius, size - radius, size=2)
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2


def _rectangle(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, size: int) -> np.ndarray:
    height, width = rng.uniform(5.0, 14.0, size=2)
    top, left = rng.uniform(0.0, size - height), rng.uniform(0.0, size - width)
    return (yy >= top) & (yy <= top + height) & (xx >= left) & (xx <= left + width)


def _triangle(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, size: int) -> np.ndarray:
    # Vertices near the corners of an equilateral triangle, jittered, inside the image.
    radius = rng.uniform(5.0, 9.0)
    cy, cx = rng.uniform(radius, size - radius, size=2)
    angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(3) / 3 + rng.uniform(-0.4, 0.4, 3)
    vy, vx = cy + radius * np.sin(angles), cx + radius * np.cos(angles)
    sides = [
        (vx[j] - vx[i]) * (yy - vy[i]) - (vy[j] - vy[i]) * (xx - vx[i])
        for i, j in ((0, 1), (1, 2), (2, 0))
    ]
    return (np.all([s >= 0 for s in sides], axis=0)) | (np.all([s <= 0 for s in sides], axis=0))
