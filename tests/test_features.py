"""helpers.features: the edge kernels, their direction convention and the edge-histogram features."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import features as f
from helpers.conv import conv2d_unfold
from helpers.data import draw_shape, shape_images
from test_conv import refusals

SOBEL_EAST = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]


def _dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def _direct(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """relu(x * w_i) with torch's own conv2d and "same" zero padding: (N, K, H, W)."""
    return F.conv2d(x, kernels[:, None], padding=(kernels.shape[1] // 2, kernels.shape[2] // 2)).relu()


def _shift_and_add(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """The same without any conv routine: sum over the kernel entries of weight * shifted image."""
    (kh, kw), (H, W) = kernels.shape[1:], x.shape[2:]
    xp = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2))
    out = sum(kernels[None, :, r, s, None, None] * xp[:, :, r:r + H, s:s + W] for r in range(kh) for s in range(kw))
    return out.relu()


# ============================================================================== kernels
def test_edge_kernels(device):
    k = f.edge_kernels(dtype=torch.float64, device=device)
    assert set(k) == {"vertical", "horizontal", "identity"}
    assert all(v.shape == (3, 3) and v.device == device and v.dtype == torch.float64 for v in k.values())
    assert k["vertical"].tolist() == [[1, 0, -1]] * 3
    assert k["horizontal"].tolist() == [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]
    assert k["identity"].tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
    x = torch.randn(2, 1, 7, 9, dtype=torch.float64, device=device)
    assert torch.equal(conv2d_unfold(x, k["identity"][None, None], padding=1), x)
    assert f.edge_kernels()["vertical"].dtype == torch.get_default_dtype()


def test_vertical_kernel_on_the_seed_001_image(device):
    image = [[3, 0, 1, 2, 7, 4], [1, 5, 8, 9, 3, 1], [2, 7, 2, 5, 1, 3],
             [0, 1, 3, 1, 7, 8], [4, 2, 1, 6, 2, 8], [2, 4, 5, 2, 3, 9]]
    dtype = _dtype(device)
    x = torch.tensor(image, dtype=dtype, device=device)[None, None]
    y = conv2d_unfold(x, f.edge_kernels(dtype, device)["vertical"][None, None])[0, 0]
    assert y.shape == (4, 4) and y[0, 0].item() == -5
    assert y.tolist() == [[-5, -4, 0, 8], [-10, -2, 2, 3], [0, -2, -4, -7], [-3, -2, -3, -16]]


def test_directional_kernels_definition(device):
    w = f.directional_kernels(dtype=torch.float64, device=device)
    assert w.shape == (8, 3, 3) and w.device == device and w.dtype == torch.float64
    assert w[0].tolist() == SOBEL_EAST
    assert w[2].tolist() == [[1, 2, 1], [0, 0, 0], [-1, -2, -1]], "kernel 2 points north (up)"
    assert w[1].tolist() == [[0, 1, 2], [-1, 0, 1], [-2, -1, 0]], "kernel 1 points north-east"
    assert torch.equal(w[4], -w[0])
    for i in range(8):
        assert w[i].sum().item() == 0 and w[i, 1, 1].item() == 0
        assert torch.equal(w[(i + 4) % 8], -w[i])
        assert torch.equal(w[(i + 2) % 8], torch.rot90(w[i], 1, (0, 1))), "2 places = 90 degrees counter-clockwise"
    assert len({tuple(k.flatten().tolist()) for k in w}) == 8
    assert f.directional_kernels().dtype == torch.get_default_dtype()


@pytest.mark.parametrize("direction,angle", [(0, "east"), (2, "north"), (4, "west"), (6, "south"), (1, "north-east")])
def test_each_kernel_responds_to_brightness_growing_its_way(direction, angle, device):
    """A ramp brightening towards ``angle`` excites that kernel most, and its opposite not at all (inside)."""
    dtype = _dtype(device)
    rows, cols = torch.meshgrid(torch.arange(9.0), torch.arange(9.0), indexing="ij")
    step = {"east": (0, 1), "north": (-1, 0), "west": (0, -1), "south": (1, 0), "north-east": (-1, 1)}[angle]
    ramp = (step[0] * rows + step[1] * cols).to(device, dtype)[None, None]
    inside = _direct(ramp, f.directional_kernels(dtype, device))[0, :, 1:-1, 1:-1].sum(dim=(1, 2))
    assert int(inside.argmax()) == direction
    assert inside[(direction + 4) % 8].item() == 0


# ========================================================================= edge histogram
@pytest.mark.parametrize("custom", [False, True])
def test_edge_histogram_equals_conv2d_relu_sum(custom, device):
    dtype = _dtype(device)
    gen = torch.Generator().manual_seed(int(custom))
    x = torch.rand(3, 1, 17, 12, generator=gen, dtype=torch.float64).to(device, dtype)
    kernels = (torch.randn(5, 5, 3, generator=gen, dtype=torch.float64).to(device, dtype) if custom
               else f.directional_kernels(dtype, device))
    h = f.edge_histogram(x, kernels if custom else None)
    assert h.shape == (3, kernels.shape[0]) and h.device == device and h.dtype == dtype
    torch.testing.assert_close(h, _direct(x, kernels).sum(dim=(2, 3)), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h, _shift_and_add(x, kernels).sum(dim=(2, 3)), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(f.edge_histogram(x[:, 0], kernels if custom else None), h)
    torch.testing.assert_close(f.edge_maps(x, kernels if custom else None), _direct(x, kernels), rtol=1e-5, atol=1e-5)


def test_a_flat_image_has_no_edges_inside_but_its_border_does():
    x = torch.ones(1, 1, 10, 10, dtype=torch.float64)
    maps = f.edge_maps(x)
    assert maps[..., 1:-1, 1:-1].abs().max().item() == 0
    assert maps.sum().item() > 0, "zero padding makes the image's own border an edge"


def test_rotating_the_image_by_90_degrees_rolls_the_features_by_2():
    images, labels = shape_images(8, size=32, seed=3, kinds=("triangle", "star"))
    images = images.double()
    h = f.edge_histogram(images)
    turned = f.edge_histogram(torch.rot90(images, 1, (-2, -1)))
    torch.testing.assert_close(turned, torch.roll(h, 2, dims=1))
    assert not torch.allclose(turned, torch.roll(h, -2, dims=1), rtol=1e-3), "the direction of the roll matters"
    assert not torch.allclose(turned, h, rtol=1e-3)


def test_global_features_barely_tell_a_circle_from_a_star():
    """Seed 002: each of the 8 features changes by a similar factor, the profile over directions hardly at all."""
    circle, star = (f.edge_histogram(draw_shape(k, 48, scale=0.8)[None]) for k in ("circle", "star"))
    profile = lambda h: h / h.sum()  # noqa: E731
    assert (profile(circle) - profile(star)).abs().max() < 0.05


# ========================================================================= patch features
def test_patch_features_shape_and_patch_major_order(device):
    dtype = _dtype(device)
    x = torch.rand(2, 1, 24, 16, generator=torch.Generator().manual_seed(5), dtype=torch.float64).to(device, dtype)
    pf = f.patch_features(x, patch=8)
    assert pf.shape == (2, 8 * 3 * 2) and pf.device == device and pf.dtype == dtype
    maps = _direct(x, f.directional_kernels(dtype, device))
    for row in range(3):
        for col in range(2):
            j = row * 2 + col
            expected = maps[:, :, 8 * row:8 * row + 8, 8 * col:8 * col + 8].sum(dim=(2, 3))
            torch.testing.assert_close(pf[:, j * 8:(j + 1) * 8], expected, rtol=1e-5, atol=1e-5)


def test_non_overlapping_patches_that_cover_the_image_sum_to_the_edge_histogram(device):
    dtype = _dtype(device)
    x, _ = shape_images(4, size=32, seed=1, dtype=dtype)
    x = x.to(device)
    for patch in (8, 16, (4, 32), 32):
        pf = f.patch_features(x, patch=patch)
        torch.testing.assert_close(pf.reshape(4, -1, 8).sum(1), f.edge_histogram(x), rtol=1e-5, atol=1e-3)
    assert f.patch_features(x, patch=32).shape == (4, 8)


def test_overlapping_patches():
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    pf = f.patch_features(x, patch=8, stride=4)
    assert pf.shape == (1, 8 * 3 * 3)
    maps = _direct(x, f.directional_kernels(torch.float64))
    torch.testing.assert_close(pf[0, 8 * 4:8 * 5], maps[0, :, 4:12, 4:12].sum(dim=(1, 2)))     # patch (1, 1)
    assert f.patch_features(x, patch=(8, 4), stride=(8, 2)).shape == (1, 8 * 2 * 7)
    assert f.patch_features(x, patch=6).shape == (1, 8 * 2 * 2), "patches past the border are left out"


def test_a_shape_in_one_patch_lights_up_only_that_patch():
    x = torch.zeros(1, 1, 16, 16, dtype=torch.float64)
    x[0, 0, 10:13, 2:5] = 1.0                                   # inside patch (1, 0) = patch 2 of 2 x 2
    pf = f.patch_features(x, patch=8).reshape(4, 8)
    assert pf[2].sum() > 0 and pf[[0, 1, 3]].abs().sum() == 0


# ============================================================================ bad inputs
BAD_INPUTS = [
    (lambda: f.edge_histogram(torch.rand(2, 3, 8, 8)), ValueError, r"edge_histogram: x must be grayscale"),
    (lambda: f.edge_histogram(torch.rand(8, 8)), ValueError, r"edge_histogram: x must have 3 to 4 dimensions"),
    (lambda: f.edge_histogram(torch.ones(1, 8, 8, dtype=torch.int64)), TypeError,
     r"edge_histogram: x must hold floating"),
    (lambda: f.edge_histogram(torch.rand(1, 8, 8), torch.rand(3, 2, 2)), ValueError,
     r"edge_histogram: kernels must have odd"),
    (lambda: f.edge_histogram(torch.rand(1, 8, 8), torch.rand(3, 3)), ValueError,
     r"edge_histogram: kernels must have 3 dim"),
    (lambda: f.edge_histogram(torch.rand(1, 8, 8), torch.rand(2, 3, 3).double()), ValueError,
     r"edge_histogram: kernels has dtype torch.float64 but x has torch.float32"),
    (lambda: f.edge_maps([[0.0]]), TypeError, r"edge_maps: x must be a torch.Tensor"),
    (lambda: f.edge_maps(torch.rand(1, 2, 8, 8)), ValueError, r"edge_maps: x must be grayscale"),
    (lambda: f.patch_features(torch.rand(1, 8, 8), torch.rand(3, 4, 3)), ValueError,
     r"patch_features: kernels must have odd"),
    (lambda: f.patch_features(torch.rand(1, 8, 8), patch=9), ValueError, r"patch_features: patch spans \(9, 9\)"),
    (lambda: f.patch_features(torch.rand(1, 8, 8), patch=0), ValueError, r"patch_features: patch must be >= 1"),
    (lambda: f.patch_features(torch.rand(1, 8, 8), stride=0), ValueError, r"patch_features: stride must be >= 1"),
    (lambda: f.patch_features(torch.rand(1, 8, 8), patch=2.5), TypeError, r"patch_features: patch must be an int"),
    (lambda: f.directional_kernels(dtype=torch.int64), TypeError, r"directional_kernels: dtype must be a floating"),
    (lambda: f.edge_kernels(dtype=torch.int32), TypeError, r"edge_kernels: dtype must be a floating"),
]


@refusals(BAD_INPUTS)
def test_bad_input_is_refused_with_a_message_naming_function_and_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_ring_turns_turns_any_3x3_kernel_and_refuses_other_shapes():
    base = torch.arange(9.0).reshape(3, 3)
    turned = f.ring_turns(base)
    assert turned.shape == (8, 3, 3) and torch.equal(turned[0], base)
    assert torch.equal(turned[:, 1, 1], torch.full((8,), 4.0))            # the centre stays
    assert torch.equal(f.ring_turns(turned[1])[7], base)            # 1 + 7 turns = a full circle
    with pytest.raises(ValueError, match=r"ring_turns: base must have shape \(3, 3\)"):
        f.ring_turns(torch.zeros(2, 2))
