"""helpers.pooling: both pool2d versions against torch, sizes, global pooling and receptive fields."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from helpers import pooling as p
from helpers.conv import conv2d_unfold
from test_conv import refusals

POOLS = [p.pool2d_naive, p.pool2d]
TORCH_POOL = {"max": F.max_pool2d, "avg": F.avg_pool2d}


def _dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def _random_configs(count: int, seed: int) -> list[dict]:
    """Seeded pooling configurations torch accepts: non-square windows, strides, paddings up to half the window."""
    rng, configs = random.Random(seed), []
    while len(configs) < count:
        k = (rng.randint(1, 4), rng.randint(1, 4))
        stride = rng.choice([None, (rng.randint(1, 3), rng.randint(1, 3)), rng.randint(1, 3)])
        padding = (rng.randint(0, k[0] // 2), rng.randint(0, k[1] // 2))
        H, W = rng.randint(2, 12), rng.randint(2, 12)
        if k[0] > H + 2 * padding[0] or k[1] > W + 2 * padding[1]:
            continue
        configs.append(dict(N=rng.randint(1, 3), C=rng.randint(1, 4), H=H, W=W, stride=stride,
                            kernel=k[0] if k[0] == k[1] and rng.random() < 0.5 else k,
                            padding=padding[0] if padding[0] == padding[1] else padding))
    return configs


CONFIGS = _random_configs(30, seed=7)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


def test_the_random_configurations_cover_the_hard_cases():
    assert any(cfg["stride"] is None for cfg in CONFIGS)
    assert any(isinstance(cfg["stride"], tuple) and cfg["stride"][0] != cfg["stride"][1] for cfg in CONFIGS)
    assert any(cfg["padding"] not in (0, (0, 0)) for cfg in CONFIGS)
    assert any(isinstance(cfg["kernel"], tuple) and cfg["kernel"][0] != cfg["kernel"][1] for cfg in CONFIGS)
    assert any(cfg["H"] != cfg["W"] for cfg in CONFIGS)


# ==================================================================== against torch
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("pool", POOLS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_pool2d_matches_torch(index, pool, mode, device):
    cfg = CONFIGS[index]
    gen = torch.Generator().manual_seed(index)
    x = torch.randn(cfg["N"], cfg["C"], cfg["H"], cfg["W"], generator=gen, dtype=torch.float64)
    expected = TORCH_POOL[mode](x, cfg["kernel"], cfg["stride"], cfg["padding"])
    dtype = _dtype(device)
    got = pool(x.to(device, dtype), cfg["kernel"], cfg["stride"], cfg["padding"], mode=mode)
    assert got.device == device and got.dtype == dtype
    assert got.shape == expected.shape
    torch.testing.assert_close(got.cpu().double(), expected, rtol=1e-6, atol=1e-6)
    k, s, pad = _pair(cfg["kernel"]), _pair(cfg["stride"] or cfg["kernel"]), _pair(cfg["padding"])
    sizes = tuple(p.pool_output_size(L, k[a], s[a], pad[a]) for a, L in enumerate((cfg["H"], cfg["W"])))
    assert expected.shape[2:] == sizes


@pytest.mark.parametrize("pool", POOLS, ids=lambda f: f.__name__)
def test_max_pool_pads_with_minus_infinity_and_avg_pool_counts_the_zeros(pool):
    x = -torch.ones(1, 1, 2, 2, dtype=torch.float64)       # all negative: a zero pad would win the max
    assert pool(x, 2, 1, 1, "max")[0, 0].tolist() == [[-1] * 3] * 3
    assert pool(x, 2, 1, 1, "avg")[0, 0].tolist() == [[-0.25, -0.5, -0.25], [-0.5, -1, -0.5], [-0.25, -0.5, -0.25]]


@pytest.mark.parametrize("pool", POOLS, ids=lambda f: f.__name__)
def test_pooling_keeps_the_depth_and_mixes_no_channels(pool, device):
    x = torch.randn(2, 5, 8, 6, device=device)
    y = pool(x, 2)
    assert y.shape == (2, 5, 4, 3) and y.dtype == torch.float32
    changed = x.clone()
    changed[:, 3] += torch.randn(2, 8, 6, device=device)
    z = pool(changed, 2)
    torch.testing.assert_close(z[:, [0, 1, 2, 4]], y[:, [0, 1, 2, 4]])
    assert not torch.allclose(z[:, 3], y[:, 3])
    assert sum(q.numel() for q in torch.nn.MaxPool2d(2).parameters()) == 0, "pooling has no parameters to learn"


@pytest.mark.parametrize("pool", POOLS, ids=lambda f: f.__name__)
def test_max_pooling_is_locally_invariant_to_a_shift_inside_the_window(pool):
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 2, 2] = 1.0
    shifted = torch.roll(x, (1, 1), dims=(2, 3))            # (2, 2) -> (3, 3): same 2x2 window
    assert torch.equal(pool(x, 2), pool(shifted, 2))
    assert not torch.equal(x, shifted)


# ======================================================================== seed facts
def test_pool_output_size_seed_facts():
    assert p.pool_output_size(16, 2, 2) == 8
    assert p.pool_output_size(4, 2, 2) == 2
    assert p.pool_output_size(4, 2) == 2                   # stride defaults to the window
    assert p.pool_output_size(16, 4) == 4                  # W = S divides by S
    assert p.pool_output_size(7, 3, 2) == 3                # overlapping pooling, AlexNet style
    assert p.pool_output_size(5, 2) == 2                   # floor: the last column is dropped
    assert p.pool_output_size(5, 3, 2, 1) == 3
    assert p.pool_output_size(4, 2, 1) == 3


@pytest.mark.parametrize("pool", POOLS, ids=lambda f: f.__name__)
def test_seed_003_max_pooling_of_the_two_feature_maps(pool, device):
    image = [[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
             [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0]]
    filters = [[[1, -1, -1], [-1, 1, -1], [-1, -1, 1]], [[-1, 1, -1]] * 3]
    dtype = _dtype(device)
    x = torch.tensor(image, dtype=dtype, device=device)[None, None]
    maps = conv2d_unfold(x, torch.tensor(filters, dtype=dtype, device=device)[:, None])   # (1, 2, 4, 4)
    pooled = pool(maps, 2, 2)
    assert pooled.shape == (1, 2, 2, 2)
    assert pooled[0, 0].tolist() == [[3, 0], [3, 1]]
    assert pooled[0, 1].tolist() == [[-1, 1], [0, 3]]


# ===================================================================== global average
def test_global_avg_pool(device):
    x = torch.randn(3, 4, 5, 7, dtype=_dtype(device), device=device)
    g = p.global_avg_pool(x)
    assert g.shape == (3, 4) and g.device == device and g.dtype == x.dtype
    torch.testing.assert_close(g, x.reshape(3, 4, -1).mean(-1))
    torch.testing.assert_close(g, F.adaptive_avg_pool2d(x, 1)[:, :, 0, 0])


# ==================================================================== receptive field
def test_receptive_field_of_known_stacks():
    assert p.receptive_field([]) == 1
    assert p.receptive_field([(3, 1)]) == 3
    assert p.receptive_field([(3, 1), (3, 1)]) == 5
    assert p.receptive_field([(3, 1), (3, 1), (3, 1)]) == 7
    assert p.receptive_field([(3, 1), (2, 2), (3, 1)]) == 8
    assert p.receptive_field([(2, 2), (2, 2), (2, 2)]) == 8
    assert p.receptive_field([(3, 1, 2), (3, 1, 4)]) == 13
    assert p.receptive_field([[5, 1], (2, 2), (5, 1), (2, 2)]) == 16       # LeNet-5's conv/pool pairs
    assert p.receptive_field(iter([(3, 2), (3, 2)])) == 7


def _measured_receptive_field(stack, device) -> tuple[int, int]:
    """Extent and count of the input rows one central output depends on (its nonzero gradient in a real nn stack).

    ``stack`` holds ("conv", k, s, d) or ("pool", k, s). All-ones weights and average pooling make
    every input in the field contribute a positive amount, so nothing cancels.
    """
    layers = []
    for kind, k, s, *d in stack:
        if kind == "conv":
            conv = torch.nn.Conv2d(1, 1, k, stride=s, dilation=d[0] if d else 1, bias=False)
            torch.nn.init.ones_(conv.weight)
            layers.append(conv)
        else:
            layers.append(torch.nn.AvgPool2d(k, s))
    net = torch.nn.Sequential(*layers).to(device)
    size = 80
    x = torch.zeros(1, 1, size, size, device=device, requires_grad=True)
    y = net(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero().flatten()
    assert 0 < int(rows.min()) and int(rows.max()) < size - 1, "the field must lie inside the input"
    return int(rows.max() - rows.min()) + 1, len(rows)


@pytest.mark.parametrize("stack", [
    [("conv", 3, 1), ("conv", 3, 1)],
    [("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)],
    [("conv", 5, 1), ("pool", 2, 2), ("conv", 5, 1), ("pool", 2, 2)],
    [("conv", 3, 1, 2), ("conv", 3, 1, 4)],
    [("conv", 5, 2), ("conv", 3, 2, 2), ("pool", 3, 2)],
    [("conv", 7, 3), ("conv", 3, 1), ("pool", 2, 2), ("conv", 3, 1)],
], ids=str)
def test_receptive_field_matches_the_gradient_of_a_real_stack(stack, device):
    layers = [tuple(layer[1:]) for layer in stack]
    extent, count = _measured_receptive_field(stack, device)
    assert p.receptive_field(layers) == extent
    if all(len(layer) == 3 for layer in stack):
        assert count == extent, "without dilation the field has no holes"


def test_stacked_dilations_leave_holes_in_the_receptive_field(device):
    extent, count = _measured_receptive_field([("conv", 3, 1, 2), ("conv", 3, 1, 4)], device)
    assert extent == p.receptive_field([(3, 1, 2), (3, 1, 4)]) == 13
    assert count == 7, "offsets {-2, 0, 2} + {-4, 0, 4} reach only the even rows"


# ========================================================================= bad inputs
X = torch.randn(1, 2, 6, 6)

BAD_INPUTS = [case for f in POOLS for n in [f.__name__] for case in [
    (lambda f=f: f(X, 3, padding=2), ValueError,
     rf"{n}: padding=\(2, 2\) must be at most half of kernel_size=\(3, 3\)"),
    (lambda f=f: f(X, (2, 4), padding=(1, 3)), ValueError, rf"{n}: padding=\(1, 3\) must be at most half"),
    (lambda f=f: f(X, 7), ValueError, rf"{n}: the window kernel_size spans \(7, 7\) but the padded input"),
    (lambda f=f: f(X, 2, mode="min"), ValueError, rf"{n}: mode must be one of 'max', 'avg'"),
    (lambda f=f: f(X, 2, stride=0), ValueError, rf"{n}: stride must be >= 1"),
    (lambda f=f: f(X, 0), ValueError, rf"{n}: kernel_size must be >= 1"),
    (lambda f=f: f(X, 2, padding=-1), ValueError, rf"{n}: padding must be >= 0"),
    (lambda f=f: f(X, 2.0), TypeError, rf"{n}: kernel_size must be an int or an \(h, w\) pair of ints"),
    (lambda f=f: f(X[0], 2), ValueError, rf"{n}: x must have 4 dimensions"),
    (lambda f=f: f(X.numpy(), 2), TypeError, rf"{n}: x must be a torch.Tensor"),
    (lambda f=f: f(torch.ones(1, 1, 4, 4, dtype=torch.int64), 2), TypeError, rf"{n}: x must hold floating-point"),
]] + [
    (lambda: p.pool_output_size(4, 2, 2, 2), ValueError, r"pool_output_size: P=2 must be at most half of W=2"),
    (lambda: p.pool_output_size(3, 5, 1, 0), ValueError, r"pool_output_size: the window W spans 5 but the padded"),
    (lambda: p.pool_output_size(4, 2, 0), ValueError, r"pool_output_size: S must be >= 1"),
    (lambda: p.pool_output_size(4, 0), ValueError, r"pool_output_size: W must be >= 1"),
    (lambda: p.pool_output_size(4, 2, 2, -1), ValueError, r"pool_output_size: P must be >= 0"),
    (lambda: p.pool_output_size(4.5, 2), TypeError, r"pool_output_size: L must be an int"),
    (lambda: p.global_avg_pool(torch.randn(2, 3)), ValueError, r"global_avg_pool: x must have 4 dimensions"),
    (lambda: p.global_avg_pool([[1.0]]), TypeError, r"global_avg_pool: x must be a torch.Tensor"),
    (lambda: p.receptive_field(3), TypeError, r"receptive_field: layers must be a list"),
    (lambda: p.receptive_field("3, 1"), TypeError, r"receptive_field: layers must be a list"),
    (lambda: p.receptive_field([(3, 1), (3,)]), ValueError,
     r"receptive_field: layers\[1\] must be \(kernel_size, stride\)"),
    (lambda: p.receptive_field([3, 1]), ValueError, r"receptive_field: layers\[0\] must be"),
    (lambda: p.receptive_field([(3, 0)]), ValueError, r"receptive_field: layers\[0\] stride must be >= 1"),
    (lambda: p.receptive_field([(0, 1)]), ValueError, r"receptive_field: layers\[0\] kernel_size must be >= 1"),
    (lambda: p.receptive_field([(3, 1, 0)]), ValueError, r"receptive_field: layers\[0\] dilation must be >= 1"),
    (lambda: p.receptive_field([(3.0, 1)]), TypeError, r"receptive_field: layers\[0\] kernel_size must be an int"),
]


@refusals(BAD_INPUTS)
def test_bad_input_is_refused_with_a_message_naming_function_and_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
