"""helpers.augment: shapes, labels, devices and seeds of the augmentation pipeline."""

from __future__ import annotations

import pytest
import torch

from helpers import augment, training


def _batch(device, n=12, c=3, h=8, w=10):
    return (torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(0)) + 0.5).to(device)


@pytest.mark.parametrize("fn", [lambda x, g: augment.hflip(x, 0.5, g), lambda x, g: augment.random_shift(x, 2, g),
                                lambda x, g: augment.random_rotation(x, 20, g),
                                lambda x, g: augment.intensity_shift(x, 0.1, 0.2, g), lambda x, g: augment.Augment(0.5)(x)],
                         ids=["hflip", "random_shift", "random_rotation", "intensity_shift", "Augment"])
def test_shape_dtype_device_kept_and_input_untouched(fn, device):
    x = _batch(device)
    kept = x.clone()
    y = fn(x, torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
    assert torch.equal(x, kept)


def test_same_seed_same_batch_on_every_device(device):
    x = _batch("cpu")
    a = augment.Augment(flip_p=0.5, seed=3)(x)
    b = augment.Augment(flip_p=0.5, seed=3)(x.to(device)).cpu()
    c = augment.Augment(flip_p=0.5, seed=4)(x)
    assert torch.allclose(a, b, atol=1e-5) and not torch.allclose(a, c)


def test_random_shift_moves_each_image_by_its_own_offset_with_zeros_in():
    x = torch.rand(200, 2, 6, 6) + 0.5
    y = augment.random_shift(x, 1, torch.Generator().manual_seed(0))
    seen = set()
    for xi, yi in zip(x, y):
        matches = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                   if torch.equal(torch.roll(xi, (dy, dx), (-2, -1))[:, max(dy, 0):6 + min(dy, 0), max(dx, 0):6 + min(dx, 0)],
                                  yi[:, max(dy, 0):6 + min(dy, 0), max(dx, 0):6 + min(dx, 0)])]
        assert matches, "each image is a shifted copy of its input"
        dy, dx = matches[0]
        zeros = yi.clone()
        zeros[:, max(dy, 0):6 + min(dy, 0), max(dx, 0):6 + min(dx, 0)] = 0
        assert (zeros == 0).all(), "pixels that enter are zeros"
        seen.add((dy, dx))
    assert len(seen) == 9
    assert torch.equal(augment.random_shift(x, 0), x)


def test_hflip_and_intensity_shift_facts():
    x = _batch("cpu")
    assert torch.equal(augment.hflip(x, 1.0), x.flip(-1)) and torch.equal(augment.hflip(x, 0.0), x)
    y = augment.intensity_shift(x * 0.5, 0.1, 0.1, torch.Generator().manual_seed(0))
    assert 0 <= y.min() and y.max() <= 1
    ratio = y / (x * 0.5)
    assert not torch.allclose(ratio[0], ratio[1])


def test_rotation_by_zero_degrees_is_the_identity():
    x = _batch("cpu")
    assert torch.allclose(augment.random_rotation(x, 0.0), x, atol=1e-5)


def test_labels_untouched_in_a_loader():
    x, y = torch.rand(20, 1, 8, 8), torch.arange(20) % 10
    loader = training.make_loader(x, y, 8, shuffle=False, transform=augment.Augment(seed=0))
    assert torch.equal(torch.cat([yb for _, yb in loader]), y)
    assert all(xb.shape[1:] == (1, 8, 8) for xb, _ in loader)


def test_bad_arguments_are_refused():
    x = _batch("cpu")
    with pytest.raises(ValueError, match="dimensions"):
        augment.random_shift(x[0], 1)
    with pytest.raises(ValueError, match="max_shift"):
        augment.random_shift(x, -1)
    with pytest.raises(ValueError, match="p must"):
        augment.hflip(x, 2.0)
    with pytest.raises(ValueError, match="max_degrees"):
        augment.Augment(max_degrees=400)
