"""helpers.conv: sizes, parameter counts and both 2D convolutions against torch and the seed facts."""

from __future__ import annotations

import random
import re

import pytest
import torch
import torch.nn.functional as F

from helpers import conv as c
from helpers.device import available_devices

CONVS = [c.conv2d_naive, c.conv2d_unfold]
ACCELERATORS = [d for d in available_devices() if d.type != "cpu"]


def refusals(cases: list) -> pytest.MarkDecorator:
    """Parametrize a test over ``(call, error, message)`` bad-input cases, named by their messages.

    The other helper test files import it: ``from test_conv import refusals``.
    """
    ids = [re.sub(r"\W+", "_", m.split(":")[0] + m.split(":")[1][:25]) + f"-{i}" for i, (_, _, m) in enumerate(cases)]
    return pytest.mark.parametrize("call,error,message", cases, ids=ids)


def _dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def _tol(dtype: torch.dtype) -> dict:
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}


def _maybe_pair(rng: random.Random, h: int, w: int):
    """An int when both axes agree (half of the time), else the (h, w) pair: both forms get tested."""
    return h if h == w and rng.random() < 0.5 else (h, w)


def _random_configs(count: int, seed: int) -> list[dict]:
    """Seeded conv2d configurations that fit: batch, channels, groups, non-square sizes and kernels."""
    rng, configs = random.Random(seed), []
    while len(configs) < count:
        groups = rng.choice([1, 1, 2, 3])
        k, s, p, d = ([rng.randint(lo, hi) for _ in range(2)] for lo, hi in ((1, 4), (1, 3), (0, 2), (1, 2)))
        H, W = rng.randint(3, 11), rng.randint(3, 11)
        if any(d[a] * (k[a] - 1) + 1 > (H, W)[a] + 2 * p[a] for a in range(2)):
            continue
        configs.append(dict(N=rng.randint(1, 3), C_in=groups * rng.randint(1, 3), C_out=groups * rng.randint(1, 3),
                            H=H, W=W, kernel=tuple(k), groups=groups, bias=rng.random() < 0.6,
                            stride=_maybe_pair(rng, *s), padding=_maybe_pair(rng, *p), dilation=_maybe_pair(rng, *d)))
    return configs


CONFIGS = _random_configs(36, seed=2024)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


def _inputs(cfg: dict, seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(cfg["N"], cfg["C_in"], cfg["H"], cfg["W"], generator=gen, dtype=torch.float64)
    w = torch.randn(cfg["C_out"], cfg["C_in"] // cfg["groups"], *cfg["kernel"], generator=gen, dtype=torch.float64)
    b = torch.randn(cfg["C_out"], generator=gen, dtype=torch.float64) if cfg["bias"] else None
    return x, w, b


def test_the_random_configurations_cover_the_hard_cases():
    assert any(cfg["groups"] > 1 for cfg in CONFIGS)
    assert any(_pair(cfg["stride"])[0] != _pair(cfg["stride"])[1] for cfg in CONFIGS)
    assert any(max(_pair(cfg["dilation"])) > 1 for cfg in CONFIGS)
    assert any(max(_pair(cfg["padding"])) > 0 for cfg in CONFIGS)
    assert any(cfg["kernel"][0] != cfg["kernel"][1] for cfg in CONFIGS)
    assert any(cfg["H"] != cfg["W"] for cfg in CONFIGS)
    assert any(cfg["bias"] for cfg in CONFIGS) and not all(cfg["bias"] for cfg in CONFIGS)
    assert any(isinstance(cfg["stride"], int) for cfg in CONFIGS)


# ====================================================================== against F.conv2d
@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_conv2d_matches_torch(index, conv, device):
    cfg = CONFIGS[index]
    x, w, b = _inputs(cfg, seed=index)
    args = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"])
    dtype = _dtype(device)
    move = lambda t: None if t is None else t.to(device, dtype)  # noqa: E731
    for flip in (False, True):
        expected = F.conv2d(x, w.flip(-2, -1) if flip else w, b, **args)
        got = conv(move(x), move(w), move(b), flip=flip, **args)
        assert got.device == device and got.dtype == dtype
        assert got.shape == expected.shape
        torch.testing.assert_close(got.cpu().double(), expected, **_tol(dtype))


@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_output_size_matches_the_shape_torch_produces(index):
    cfg = CONFIGS[index]
    x, w, b = _inputs(cfg, seed=index)
    y = F.conv2d(x, w, b, stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"])
    for axis, L in enumerate((cfg["H"], cfg["W"])):
        got = c.output_size(L, cfg["kernel"][axis], _pair(cfg["padding"])[axis], _pair(cfg["stride"])[axis],
                            _pair(cfg["dilation"])[axis])
        assert got == y.shape[2 + axis]


@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
def test_conv2d_keeps_float32(conv, device):
    x, w = torch.randn(2, 3, 7, 6, device=device), torch.randn(4, 3, 3, 2, device=device)
    y = conv(x, w, torch.zeros(4, device=device), padding=1)
    assert y.dtype == torch.float32 and y.device == device
    torch.testing.assert_close(y.cpu(), F.conv2d(x.cpu(), w.cpu(), padding=1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
def test_an_impulse_returns_the_kernel_flipped_or_not(conv):
    """Cross-correlation of an impulse shows the kernel rotated by 180 degrees; true convolution shows it as is."""
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    x[0, 0, 2, 2] = 1.0
    w = torch.arange(1.0, 10.0, dtype=torch.float64).reshape(1, 1, 3, 3)
    assert torch.equal(conv(x, w, padding=1)[0, 0, 1:4, 1:4], w[0, 0].flip(0, 1))
    assert torch.equal(conv(x, w, padding=1, flip=True)[0, 0, 1:4, 1:4], w[0, 0])


# ===================================================================== sizes and parameters
def test_output_size_formula_examples():
    assert c.output_size(32, 5) == 28
    assert c.output_size(4, 2, 0, 1) == 3          # seed 002
    assert c.output_size(6, 3) == 4                # seed 003, stride 1
    assert c.output_size(6, 3, S=2) == 2           # seed 003, stride 2
    assert c.output_size(6, 3, P=1) == 6           # "same" padding p = (f - 1) / 2 (seed 001)
    assert c.output_size(7, 3, P=0, S=2) == 3      # floor((7 - 3) / 2) + 1
    assert c.output_size(8, 3, P=0, S=2) == 3      # floor, not ceil: (8 - 3) / 2 = 2.5
    assert c.output_size(10, 3, P=0, S=1, D=2) == 6  # effective kernel 5
    assert c.output_size(5, 5) == 1                # the kernel exactly fits


@pytest.mark.parametrize("k,d_in,d_out,groups,bias", [
    ((5, 5), 3, 6, 1, True), ((5, 5), 3, 6, 1, False), ((3, 3), 4, 8, 2, True), ((3, 1), 6, 9, 3, False),
    ((1, 1), 192, 32, 1, True), ((3, 3), 8, 8, 8, True), ((7, 2), 4, 2, 2, True),
])
def test_conv_params_counts_what_nn_conv2d_holds(k, d_in, d_out, groups, bias):
    layer = torch.nn.Conv2d(d_in, d_out, k, groups=groups, bias=bias)
    expected = sum(p.numel() for p in layer.parameters())
    assert c.conv_params(k[1], k[0], d_in, d_out, bias=bias, groups=groups) == expected


def test_conv_params_and_dense_params_seed_facts():
    assert c.conv_params(5, 5, 3, 6) == 456
    assert c.conv_params(5, 5, 3, 6, bias=False) == 450
    assert c.conv_params(3, 3, 16, 32, groups=4) * 4 == c.conv_params(3, 3, 16, 32, bias=False) + 4 * 32
    assert c.dense_params(3 * 1000 * 1000, 1000, bias=False) == 3_000_000_000  # seed 001
    assert c.dense_params(36, 16) == sum(p.numel() for p in torch.nn.Linear(36, 16).parameters())
    assert c.dense_params(36, 16, bias=False) == 36 * 16
    # sparse connectivity and sharing: the 6x6 -> 4x4 layer of seed 003 has 9 weights, a dense one 576
    assert c.conv_params(3, 3, 1, 1, bias=False) == 9 < c.dense_params(36, 16, bias=False) == 576


# ============================================================================ seed facts
SEED003_IMAGE = [[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
                 [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0]]
FILTER1 = [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]]
FILTER2 = [[-1, 1, -1]] * 3
SEED001_IMAGE = [[3, 0, 1, 2, 7, 4], [1, 5, 8, 9, 3, 1], [2, 7, 2, 5, 1, 3],
                 [0, 1, 3, 1, 7, 8], [4, 2, 1, 6, 2, 8], [2, 4, 5, 2, 3, 9]]


def _image(rows, device) -> torch.Tensor:
    return torch.tensor(rows, dtype=_dtype(device), device=device)[None, None]


@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
def test_seed_003_two_filters_stride_1_and_2(conv, device):
    x = _image(SEED003_IMAGE, device)
    f1, f2 = _image(FILTER1, device), _image(FILTER2, device)
    assert conv(x, f1)[0, 0].tolist() == [[3, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1], [3, -2, -2, -1]]
    assert conv(x, f1, stride=2)[0, 0, 0].tolist() == [3, -3]
    assert conv(x, f2)[0, 0].tolist() == [[-1, -1, -1, -1], [-1, -1, -2, 1], [-1, -1, -2, 1], [-1, 0, -4, 3]]
    both = conv(x, torch.cat([f1, f2]))
    assert both.shape == (1, 2, 4, 4), "two filters give a 2 x 4 x 4 volume"


@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
def test_seed_001_vertical_edge_kernel(conv, device):
    y = conv(_image(SEED001_IMAGE, device), _image([[1, 0, -1]] * 3, device))[0, 0]
    assert y.shape == (4, 4) and y[0, 0].item() == -5
    assert y.tolist() == [[-5, -4, 0, 8], [-10, -2, 2, 3], [0, -2, -4, -7], [-3, -2, -3, -16]]


@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
def test_volume_sizes_32x32(conv, device):
    dtype = _dtype(device)
    y = conv(torch.randn(1, 1, 32, 32, dtype=dtype, device=device), torch.randn(1, 1, 5, 5, dtype=dtype, device=device))
    assert y.shape == (1, 1, 28, 28)
    y = conv(torch.randn(1, 3, 32, 32, dtype=dtype, device=device), torch.randn(6, 3, 5, 5, dtype=dtype, device=device),
             torch.randn(6, dtype=dtype, device=device))
    assert y.shape == (1, 6, 28, 28)


def test_seed_004_fold_sums_the_overlaps():
    blocks = torch.rand(2, 1 * 2 * 2, 2 * 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    out = F.fold(blocks, output_size=(3, 4), kernel_size=2)
    assert out.shape == (2, 1, 3, 4)
    manual = torch.zeros(2, 1, 3, 4, dtype=torch.float64)
    for block in range(6):                         # blocks run row by row over the 2 x 3 positions
        top, left = divmod(block, 3)
        for k in range(4):                         # entries run row by row over the 2 x 2 window
            r, s = divmod(k, 2)
            manual[:, 0, top + r, left + s] += blocks[:, k, block]
    torch.testing.assert_close(out, manual)
    counts = F.fold(torch.ones(1, 4, 6, dtype=torch.float64), output_size=(3, 4), kernel_size=2)
    assert counts[0, 0].tolist() == [[1, 2, 2, 1], [2, 4, 4, 2], [1, 2, 2, 1]]


def test_unfold_lays_out_the_columns_conv2d_unfold_multiplies():
    """The premise of conv2d_unfold: one column per output position, channel-major like w.reshape(C_out, -1)."""
    gen = torch.Generator().manual_seed(1)
    x, w = torch.randn(1, 2, 4, 5, generator=gen, dtype=torch.float64), torch.randn(3, 2, 2, 3, generator=gen,
                                                                                  dtype=torch.float64)
    cols = F.unfold(x, (2, 3))
    assert cols.shape == (1, 2 * 2 * 3, 3 * 3)
    torch.testing.assert_close(cols[0, :, 4], x[0, :, 1:3, 1:4].reshape(-1))
    torch.testing.assert_close((w.reshape(3, -1) @ cols).reshape(1, 3, 3, 3), F.conv2d(x, w))


# ============================================================================ bad inputs
X = torch.randn(1, 4, 6, 6)
W = torch.randn(2, 4, 3, 3)


def _bad_conv_inputs(f) -> list:
    n = f.__name__
    return [
        (lambda: f(X, torch.randn(2, 3, 3, 3)), ValueError, rf"{n}: w has 3 input channels .* but x has 4"),
        (lambda: f(X, torch.randn(3, 2, 3, 3), groups=2), ValueError, rf"{n}: groups=2 does not divide C_out"),
        (lambda: f(torch.randn(1, 3, 6, 6), torch.randn(2, 1, 3, 3), groups=2), ValueError,
         rf"{n}: groups=2 does not divide C_in"),
        (lambda: f(X, torch.randn(4, 4, 3, 3), groups=2), ValueError, rf"{n}: w has 4 input channels .*groups=2"),
        (lambda: f(X, torch.randn(2, 4, 7, 3)), ValueError, rf"{n}: the kernel w spans \(7, 3\) .*padded input"),
        (lambda: f(X, W, dilation=3), ValueError, rf"{n}: the kernel w spans \(7, 7\) \(dilation"),
        (lambda: f(X, W, stride=0), ValueError, rf"{n}: stride must be >= 1"),
        (lambda: f(X, W, stride=(1, -1)), ValueError, rf"{n}: stride must be >= 1"),
        (lambda: f(X, W, dilation=0), ValueError, rf"{n}: dilation must be >= 1"),
        (lambda: f(X, W, padding=-1), ValueError, rf"{n}: padding must be >= 0"),
        (lambda: f(X, W, padding=(1, 2, 3)), ValueError, rf"{n}: padding must be an int or an \(h, w\) pair"),
        (lambda: f(X, W, stride=1.5), TypeError, rf"{n}: stride must be an int or an \(h, w\) pair of ints"),
        (lambda: f(X, W, groups=0), ValueError, rf"{n}: groups must be >= 1"),
        (lambda: f(X, W, flip=1), TypeError, rf"{n}: flip must be True or False"),
        (lambda: f(X.tolist(), W), TypeError, rf"{n}: x must be a torch.Tensor"),
        (lambda: f(X, W.numpy()), TypeError, rf"{n}: w must be a torch.Tensor"),
        (lambda: f(torch.ones(1, 4, 6, 6, dtype=torch.int64), W), TypeError, rf"{n}: x must hold floating-point"),
        (lambda: f(X, W.int()), TypeError, rf"{n}: w must hold floating-point"),
        (lambda: f(X[0], W), ValueError, rf"{n}: x must have 4 dimensions"),
        (lambda: f(X, W[0]), ValueError, rf"{n}: w must have 4 dimensions"),
        (lambda: f(X, W, torch.randn(2, 1)), ValueError, rf"{n}: b must have 1 dimensions"),
        (lambda: f(X, W, torch.randn(3)), ValueError, rf"{n}: b must have shape \(2,\)"),
        (lambda: f(X, W.double()), ValueError, rf"{n}: w has dtype torch.float64 but x has torch.float32"),
        (lambda: f(X, W, torch.randn(2, dtype=torch.float64)), ValueError, rf"{n}: b has dtype"),
    ]


BAD_INPUTS = [case for f in CONVS for case in _bad_conv_inputs(f)] + [
    (lambda: c.output_size(4, 5), ValueError, r"output_size: the kernel W spans 5 but the padded input is only 4"),
    (lambda: c.output_size(4, 3, D=2), ValueError, r"output_size: the kernel W spans 5 \(dilation"),
    (lambda: c.output_size(4, 2, S=0), ValueError, r"output_size: S must be >= 1"),
    (lambda: c.output_size(4, 0), ValueError, r"output_size: W must be >= 1"),
    (lambda: c.output_size(4, 2, D=0), ValueError, r"output_size: D must be >= 1"),
    (lambda: c.output_size(4, 2, P=-1), ValueError, r"output_size: P must be >= 0"),
    (lambda: c.output_size(0, 1), ValueError, r"output_size: L must be >= 1"),
    (lambda: c.output_size(4.0, 2), TypeError, r"output_size: L must be an int"),
    (lambda: c.conv_params(3, 3, 4, 6, groups=4), ValueError, r"conv_params: groups=4 does not divide d_out"),
    (lambda: c.conv_params(3, 3, 3, 6, groups=2), ValueError, r"conv_params: groups=2 does not divide d_in"),
    (lambda: c.conv_params(0, 3, 3, 6), ValueError, r"conv_params: w_k must be >= 1"),
    (lambda: c.conv_params(3, 3, 3, 6, bias=1), TypeError, r"conv_params: bias must be True or False"),
    (lambda: c.dense_params(0, 10), ValueError, r"dense_params: n_in must be >= 1"),
    (lambda: c.dense_params(10, 2.5), TypeError, r"dense_params: n_out must be an int"),
]


@refusals(BAD_INPUTS)
def test_bad_input_is_refused_with_a_message_naming_function_and_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.skipif(not ACCELERATORS, reason="needs a device besides the CPU")
@pytest.mark.parametrize("conv", CONVS, ids=lambda f: f.__name__)
def test_mismatched_devices_are_refused(conv):
    other = ACCELERATORS[0]
    with pytest.raises(ValueError, match=rf"{conv.__name__}: w is on .* but x is on cpu"):
        conv(X, W.to(other))
    with pytest.raises(ValueError, match=rf"{conv.__name__}: b is on .* but x is on cpu"):
        conv(X, W, torch.zeros(2, device=other))
