"""helpers.data: the generated shapes and scikit-image's sample photographs, all offline."""

from __future__ import annotations

import math

import pytest
import torch

from helpers import data as d
from test_conv import refusals


# ============================================================================ shape_images
def test_shape_images_shapes_dtypes_and_range():
    images, labels = d.shape_images(12, size=24)
    assert images.shape == (12, 1, 24, 24) and images.dtype == torch.float32
    assert labels.shape == (12,) and labels.dtype == torch.int64
    assert images.min().item() >= 0 and images.max().item() <= 1
    assert images.min().item() == 0 and images.max().item() == 1, "noise is clipped to [0, 1]"
    assert d.shape_images(4, dtype=torch.float64)[0].dtype == torch.float64


def test_shape_images_is_deterministic_for_a_seed():
    a, la = d.shape_images(16, seed=5)
    b, lb = d.shape_images(16, seed=5)
    c, _ = d.shape_images(16, seed=6)
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert not torch.allclose(a, c)
    clean_a, clean_c = d.shape_images(16, seed=5, noise=0.0)[0], d.shape_images(16, seed=6, noise=0.0)[0]
    assert not torch.equal(clean_a, clean_c), "another seed moves, scales and turns the shapes, not only the noise"


def test_shape_images_pinned_checksum():
    """The data set the graded thresholds were measured on: a change here changes every notebook's numbers."""
    images, labels = d.shape_images(8, seed=0, noise=0.0, dtype=torch.float64)
    assert labels.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert images.sum().item() == pytest.approx(2181.875, abs=1e-6)


def test_shape_images_labels_are_balanced_and_follow_kinds():
    _, labels = d.shape_images(10)
    assert labels.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    _, labels = d.shape_images(400)
    assert torch.bincount(labels).tolist() == [100] * 4
    _, labels = d.shape_images(6, kinds=("triangle", "circle"))
    assert labels.tolist() == [0, 1, 0, 1, 0, 1]


def _areas(kind: str, scale: float, n: int = 8, size: int = 32) -> torch.Tensor:
    images, _ = d.shape_images(n, size=size, kinds=(kind,), noise=0.0, min_scale=scale, max_scale=scale,
                               dtype=torch.float64)
    return images.sum(dim=(1, 2, 3))


@pytest.mark.parametrize("kind,area_per_r2", [("circle", math.pi), ("square", 2.0),
                                              ("triangle", 3 * math.sqrt(3) / 4),
                                              ("star", 5 * d.STAR_INNER * math.sin(math.radians(36)))])
def test_every_kind_has_its_area_and_stays_inside_the_image(kind, area_per_r2):
    """Areas match the geometry for every random centre and angle: nothing is cut off at the border."""
    R = 0.7 * 32 / 2
    torch.testing.assert_close(_areas(kind, 0.7), torch.full((8,), area_per_r2 * R**2, dtype=torch.float64),
                               rtol=0.02, atol=0)


def test_a_star_has_less_area_than_the_circle_of_the_same_scale():
    for scale in (0.5, 0.8):
        assert d.draw_shape("star", 32, scale=scale).sum() < 0.5 * d.draw_shape("circle", 32, scale=scale).sum()
    assert _areas("star", 0.6).max() < _areas("circle", 0.6).min()


def test_every_kind_is_present_and_looks_different():
    images, labels = d.shape_images(8, size=32, noise=0.0, min_scale=0.8, max_scale=0.8, rotate=False)
    assert set(labels.tolist()) == {0, 1, 2, 3}
    means = [images[labels == k].mean().item() for k in range(4)]
    assert means[0] > means[2] > means[3] > means[1] > 0, "circle > square > triangle > star in area"


def _points_up(image: torch.Tensor) -> bool:
    """The filled rows of a triangle get wider from its top row to its bottom row."""
    widths = (image > 0.5).sum(-1).flatten()
    filled = widths.nonzero().flatten()
    return bool(widths[filled[0]] < widths[filled[-1]] and widths[filled[0]] <= 3)


def test_rotate_false_gives_upright_shapes():
    kwargs = dict(size=32, kinds=("triangle",), noise=0.0, min_scale=0.8, max_scale=0.8, dtype=torch.float64)
    upright, _ = d.shape_images(6, rotate=False, **kwargs)
    turned, _ = d.shape_images(6, rotate=True, **kwargs)
    assert all(_points_up(image) for image in upright)
    assert not all(_points_up(image) for image in turned)


def test_noise_level():
    clean, _ = d.shape_images(64, noise=0.0, dtype=torch.float64)
    noisy, _ = d.shape_images(64, noise=0.05, dtype=torch.float64)
    inside = (clean > 0.2) & (clean < 0.8)                          # away from the clipping at 0 and 1
    assert (noisy - clean)[inside].std().item() == pytest.approx(0.05, rel=0.15)


def test_draw_shape_is_centred_and_antialiased():
    disk = d.draw_shape("circle", 33, scale=0.6)
    assert disk.shape == (33, 33) and disk.dtype == torch.float64
    assert torch.equal(disk, disk.flip(0)) and torch.equal(disk, disk.flip(1))
    assert ((disk > 0) & (disk < 1)).any(), "edge pixels are partly covered"
    assert disk[16, 16].item() == 1 and disk[0, 0].item() == 0


# ============================================================================ sample_image
@pytest.mark.parametrize("name,shape", [("camera", (512, 512)), ("astronaut", (512, 512)), ("coffee", (400, 600)),
                                        ("chelsea", (300, 451)), ("coins", (303, 384)), ("moon", (512, 512))])
def test_sample_image_names_and_sizes(name, shape):
    image = d.sample_image(name)
    assert image.shape == (1, *shape) and image.dtype == torch.float32
    assert 0 <= image.min().item() < 0.25 and 0.75 < image.max().item() <= 1
    assert image.std().item() > 0.05


def test_every_listed_sample_image_loads_offline_as_grayscale():
    for name in d.SAMPLE_IMAGES:
        image = d.sample_image(name, size=16, dtype=torch.float64)
        assert image.shape == (1, 16, 16) and image.dtype == torch.float64, name
        assert 0 <= image.min().item() and image.max().item() <= 1, name


def test_sample_image_resizes():
    assert d.sample_image("camera", size=64).shape == (1, 64, 64)
    small = d.sample_image("coffee", size=(40, 60))
    assert small.shape == (1, 40, 60)
    big = d.sample_image("coffee")
    means = small.mean().item(), big.mean().item()
    assert means[0] == pytest.approx(means[1], abs=0.02), "anti-aliased resizing keeps the brightness"


def test_colour_images_become_rgb2gray():
    import skimage.color
    import skimage.data
    expected = torch.from_numpy(skimage.color.rgb2gray(skimage.data.astronaut())).float()
    torch.testing.assert_close(d.sample_image("astronaut")[0], expected)


# ============================================================================= bad inputs
BAD_INPUTS = [
    (lambda: d.shape_images(0), ValueError, r"shape_images: n must be >= 1"),
    (lambda: d.shape_images(2.0), TypeError, r"shape_images: n must be an int"),
    (lambda: d.shape_images(4, size=4), ValueError, r"shape_images: size must be >= 8"),
    (lambda: d.shape_images(4, kinds=("circle", "hexagon")), ValueError, r"shape_images: each of kinds must be one of"),
    (lambda: d.shape_images(4, kinds=()), ValueError, r"shape_images: kinds must be distinct names"),
    (lambda: d.shape_images(4, kinds=("star", "star")), ValueError, r"shape_images: kinds must be distinct names"),
    (lambda: d.shape_images(4, seed=1.5), TypeError, r"shape_images: seed must be an int"),
    (lambda: d.shape_images(4, noise=-0.1), ValueError, r"shape_images: noise must be a number >= 0"),
    (lambda: d.shape_images(4, min_scale=0.8, max_scale=0.5), ValueError, r"shape_images: need 0 < min_scale"),
    (lambda: d.shape_images(4, max_scale=1.5), ValueError, r"shape_images: need .* max_scale <= 1"),
    (lambda: d.shape_images(4, min_scale=0), ValueError, r"shape_images: need 0 < min_scale"),
    (lambda: d.shape_images(4, rotate=1), TypeError, r"shape_images: rotate must be True or False"),
    (lambda: d.shape_images(4, dtype=torch.int64), TypeError, r"shape_images: dtype must be a floating"),
    (lambda: d.draw_shape("oval"), ValueError, r"draw_shape: kind must be one of 'circle', 'star'"),
    (lambda: d.draw_shape("star", size=0), ValueError, r"draw_shape: size must be >= 1"),
    (lambda: d.sample_image("lena"), ValueError,
     r"sample_image: name must be one of 'camera', 'astronaut'.*got 'lena'"),
    (lambda: d.sample_image("camera", size=0), ValueError, r"sample_image: size must be >= 1"),
    (lambda: d.sample_image("camera", size=(3, 4, 5)), ValueError, r"sample_image: size must be an int or an \(h, w\)"),
    (lambda: d.sample_image("camera", size=32.0), TypeError, r"sample_image: size must be an int or an \(h, w\) pair"),
    (lambda: d.sample_image("camera", dtype=torch.uint8), TypeError, r"sample_image: dtype must be a floating"),
]


@refusals(BAD_INPUTS)
def test_bad_input_is_refused_with_a_message_naming_function_and_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
