"""Offline images: generated shapes (circle, star, square, triangle) and scikit-image's sample photographs.

Nothing here touches the network. :func:`shape_images` draws its random numbers from a seeded
``torch.Generator`` (the same stream on every machine) and rasterises each shape on a 4x finer
grid with ``skimage.draw.polygon`` (``skimage.draw.disk`` for the circle), then averages each
4x4 block, so edges are anti-aliased.

Geometry of one shape in a ``size x size`` image: its outer radius is ``R = scale * size / 2``
(every vertex lies on the circle of radius R; the circle is that disk), its centre is
uniform over the positions that keep that circle inside the image, and it is turned by a
uniform angle when ``rotate`` is True. The square and triangle are regular polygons, the star
has 5 points with inner radius ``STAR_INNER * R``. For the same R the areas are, in units of
R^2: circle pi ~ 3.14, square 2, triangle 1.30, star 1.18.
"""

from __future__ import annotations

import math

import numpy as np
import skimage.color
import skimage.data
import skimage.draw
import skimage.transform
import skimage.util
import torch

from . import _validate as check

SHAPES = ("circle", "star", "square", "triangle")
STAR_INNER = 0.4
SUPERSAMPLE = 4
SAMPLE_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "coins", "moon", "page", "text", "clock",
                 "brick", "grass", "gravel", "rocket", "horse")

__all__ = ["SHAPES", "STAR_INNER", "SAMPLE_IMAGES", "draw_shape", "shape_images", "sample_image"]


def _outline(kind: str, radius: float, angle: float) -> np.ndarray:
    """Polygon vertices (V, 2) as (row, col) offsets from the centre, counter-clockwise on screen.

    The square and triangle have their vertices at distance ``radius``; the star alternates
    ``radius`` and ``STAR_INNER * radius`` over 10 vertices. At ``angle = 0`` the triangle and the
    star point up; ``angle`` (radians) turns them counter-clockwise.
    """
    corners, first = {"star": (10, 90.0), "square": (4, 45.0), "triangle": (3, 90.0)}[kind]
    theta = angle + np.deg2rad(first) + 2 * np.pi * np.arange(corners) / corners
    r = np.full(corners, float(radius))
    if kind == "star":
        r[1::2] *= STAR_INNER
    return np.stack([-r * np.sin(theta), r * np.cos(theta)], axis=1)    # up is -row


def draw_shape(kind: str, size: int = 32, center=None, scale: float = 0.8, angle: float = 0.0) -> torch.Tensor:
    """One filled white shape on black, anti-aliased: (size, size) float64 in [0, 1].

    Args:
        kind: one of :data:`SHAPES`.
        size: image height and width in pixels.
        center: (row, col) in pixels (pixel ``i`` covers ``[i, i + 1)``); default the image centre.
        scale: outer radius as a fraction of half the image, ``R = scale * size / 2``.
        angle: rotation in radians, counter-clockwise.
    """
    check.choice("draw_shape", "kind", kind, SHAPES)
    check.integer("draw_shape", "size", size, minimum=1)
    center = (size / 2, size / 2) if center is None else center
    fine = size * SUPERSAMPLE
    # fine-grid coordinates: sub-pixel r is centred at r, which is (r + 0.5) / SUPERSAMPLE in pixels
    middle = np.asarray(center, dtype=float) * SUPERSAMPLE - 0.5
    radius = scale * size / 2
    if kind == "circle":
        rows, cols = skimage.draw.disk(middle, radius * SUPERSAMPLE, shape=(fine, fine))
    else:
        vertices = _outline(kind, radius, angle) * SUPERSAMPLE + middle
        rows, cols = skimage.draw.polygon(vertices[:, 0], vertices[:, 1], shape=(fine, fine))
    canvas = np.zeros((fine, fine))
    canvas[rows, cols] = 1.0
    blocks = canvas.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))
    return torch.from_numpy(blocks)


def shape_images(n: int, size: int = 32, kinds=SHAPES, seed: int = 0, noise: float = 0.05,
                 min_scale: float = 0.45, max_scale: float = 0.9, rotate: bool = True,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """A balanced, labelled data set of noisy shapes (see the module docstring for the geometry).

    Args:
        n: number of images; labels cycle through ``kinds`` (0, 1, ..., 0, 1, ...).
        size: height and width in pixels (>= 8).
        kinds: names from :data:`SHAPES`; label ``k`` means ``kinds[k]``.
        seed: the same seed gives the same images on any machine.
        noise: standard deviation of the Gaussian noise added before clipping to [0, 1].
        min_scale, max_scale: the range of ``scale`` (outer radius / half the image), in (0, 1].
        rotate: turn each shape by a uniform random angle (else every shape stands upright).
    Returns:
        images: (n, 1, size, size) in [0, 1] with ``dtype``; labels: (n,) int64.
    """
    kinds = _check_shape_args(n, size, kinds, seed, noise, min_scale, max_scale, rotate)
    dtype = check.float_dtype("shape_images", dtype)
    gen = torch.Generator().manual_seed(seed)
    scales = min_scale + (max_scale - min_scale) * torch.rand(n, generator=gen, dtype=torch.float64)
    angles = 2 * math.pi * torch.rand(n, generator=gen, dtype=torch.float64) * float(rotate)
    where = torch.rand(n, 2, generator=gen, dtype=torch.float64)       # centre, as a fraction of the free room
    speckle = torch.randn(n, 1, size, size, generator=gen, dtype=torch.float64)
    labels = torch.arange(n) % len(kinds)
    images = torch.zeros(n, 1, size, size, dtype=torch.float64)
    for i in range(n):
        radius = float(scales[i]) * size / 2
        center = radius + (size - 2 * radius) * where[i]
        images[i, 0] = draw_shape(kinds[labels[i]], size, center.tolist(), float(scales[i]), float(angles[i]))
    return (images + noise * speckle).clamp(0.0, 1.0).to(dtype), labels


def sample_image(name: str = "camera", size=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A photograph that ships with scikit-image, grayscale: (1, H, W) in [0, 1].

    Args:
        name: one of :data:`SAMPLE_IMAGES` (colour ones go through ``skimage.color.rgb2gray``).
        size: None (the original, e.g. camera 512 x 512), an int (square) or an (H, W) pair;
            resized with ``skimage.transform.resize(..., anti_aliasing=True)``.
    """
    check.choice("sample_image", "name", name, SAMPLE_IMAGES)
    dtype = check.float_dtype("sample_image", dtype)
    image = skimage.util.img_as_float(getattr(skimage.data, name)())
    if image.ndim == 3:
        image = skimage.color.rgb2gray(image)
    if size is not None:
        shape = check.pair("sample_image", "size", size, minimum=1)
        image = skimage.transform.resize(image, shape, anti_aliasing=True)
    return torch.from_numpy(np.clip(image, 0.0, 1.0)).to(dtype)[None]


def _check_shape_args(n, size, kinds, seed, noise, min_scale, max_scale, rotate) -> tuple[str, ...]:
    where = "shape_images"
    check.integer(where, "n", n, minimum=1)
    check.integer(where, "size", size, minimum=8)
    check.integer(where, "seed", seed)
    check.boolean(where, "rotate", rotate)
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds or len(set(kinds)) != len(kinds):
        raise ValueError(f"{where}: kinds must be distinct names from {SHAPES}, got {kinds!r}")
    for kind in kinds:
        check.choice(where, "each of kinds", kind, SHAPES)
    for name, value in (("noise", noise), ("min_scale", min_scale), ("max_scale", max_scale)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{where}: {name} must be a number >= 0, got {value!r}")
    if not 0 < min_scale <= max_scale <= 1:
        raise ValueError(f"{where}: need 0 < min_scale <= max_scale <= 1, got min_scale={min_scale}, "
                         f"max_scale={max_scale}")
    return kinds
