"""Checks for notebook 02 (2D convolution and edge features).

Each exercise is one :class:`~helpers.checks.core.Exercise` (``CONV2D_NAIVE`` ...): the visible
self-check runs the fixed cases and every rule (from scratch, vectorised, the course's own version
never an answer); the hidden test ``grade_<exercise>`` runs the same rules and adds seeded random
cases. ``shape_classifier`` has one rule, the held-out accuracy, on other images when graded.
``MISTAKES`` holds the known wrong answers that explain a failure.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn.functional as F

from .. import conv as ref
from .. import data, features
from . import core
from .core import Case, Exercise, Mistake, Rule

D = torch.float64


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=D)


def _int(gen: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))


# ===================================================================== output size & params
MISTAKES = {
    "conv_output_size": [
        Mistake("ceil", "you rounded up: the last window must fit inside the padded input, so round down "
                "(floor, //)", lambda L, W, P=0, S=1, D=1: -(-(L + 2 * P - D * (W - 1) - 1) // S) + 1),
        Mistake("padding once", "padding is added on both sides: use 2P, not P",
                lambda L, W, P=0, S=1, D=1: (L + P - D * (W - 1) - 1) // S + 1),
        Mistake("dilation ignored", "a dilated kernel spans D(W - 1) + 1 samples; the dilation was ignored",
                lambda L, W, P=0, S=1, D=1: (L + 2 * P - W) // S + 1),
        Mistake("no +1", "you forgot the + 1: the first window's position counts too",
                lambda L, W, P=0, S=1, D=1: (L + 2 * P - D * (W - 1) - 1) // S),
    ],
    "conv_params": [
        Mistake("bias missing", "the bias adds one parameter per output channel (d_out)",
                lambda wk, hk, din, dout, bias=True, groups=1: wk * hk * (din // groups) * dout),
        Mistake("bias always", "with bias=False there is no bias term",
                lambda wk, hk, din, dout, bias=True, groups=1: wk * hk * (din // groups) * dout + dout),
        Mistake("groups ignored", "with groups g each kernel sees only d_in / g channels: divide by g",
                lambda wk, hk, din, dout, bias=True, groups=1: wk * hk * din * dout + dout * bias),
        Mistake("depth missing", "each kernel spans all d_in input channels: multiply by d_in (/ groups)",
                lambda wk, hk, din, dout, bias=True, groups=1: wk * hk * dout + dout * bias),
    ],
}


def _size_cases(gen: torch.Generator | None = None) -> list[Case]:
    cases = [Case((32, 5), label="32x32 * 5x5 -> 28 (seed 000)"), Case((4, 2), label="seed 002: L=4, W=2 -> 3"),
             Case((7, 3, 1, 2), label="P=1, S=2"), Case((10, 3, 0, 3), label="S=3, floor"),
             Case((9, 3, 2, 1, 2), label="dilation 2"), Case((6, 3, 0, 2), label="seed 003, stride 2"),
             Case((11, 2, 0, 3, 3), label="dilation 3, stride 3")]
    for _ in range(60 if gen is not None else 0):
        W, S, Dl, P = _int(gen, 1, 7), _int(gen, 1, 4), _int(gen, 1, 3), _int(gen, 0, 3)
        L = _int(gen, max(1, Dl * (W - 1) + 1 - 2 * P), 40)
        cases.append(Case((L, W, P, S, Dl), label="random"))
    return cases


CONV_OUTPUT_SIZE = Exercise("conv_output_size", ref.output_size, _size_cases, MISTAKES["conv_output_size"], seed=21,
                            checked=["32 with a 5-kernel -> 28; seed 002's L=4, W=2 -> 3",
                                     "padding on both sides, stride with floor, dilation; a Python int"])


def conv_output_size(student: Callable) -> None:
    """Self-check of ``conv_output_size(L, W, P=0, S=1, D=1) -> int``."""
    CONV_OUTPUT_SIZE.check(student)


def grade_conv_output_size(student: Callable) -> None:
    """Hidden test: the facts and 60 seeded random sizes."""
    CONV_OUTPUT_SIZE.grade(student)


def _param_cases(gen: torch.Generator | None = None) -> list[Case]:
    cases = [Case((5, 5, 3, 6), label="6 kernels 5x5x3: 456 (seed 000)"), Case((3, 3, 1, 1), label="one 3x3 kernel"),
             Case((3, 3, 64, 128, False), label="no bias"), Case((3, 3, 8, 16, True, 4), label="groups=4"),
             Case((1, 1, 192, 32), label="a 1x1 convolution"),
             Case((5, 3, 12, 8, True, 4), label="nn.Conv2d(12, 8, (3, 5), groups=4): 368")]
    for _ in range(40 if gen is not None else 0):
        g = _int(gen, 1, 4)
        cases.append(Case((_int(gen, 1, 7), _int(gen, 1, 7), g * _int(gen, 1, 8), g * _int(gen, 1, 8),
                           bool(_int(gen, 0, 1)), g), label="random"))
    return cases


CONV_PARAMS = Exercise("conv_params", ref.conv_params, _param_cases, MISTAKES["conv_params"], seed=22,
                       checked=["6 kernels of 5x5x3 with bias -> 456 (seed 000)",
                                "without bias, with groups=4, a 1x1 convolution; a Python int"])


def conv_params(student: Callable) -> None:
    """Self-check of ``conv_params(w_k, h_k, d_in, d_out, bias=True, groups=1) -> int``."""
    CONV_PARAMS.check(student)


def grade_conv_params(student: Callable) -> None:
    """Hidden test: the facts and 40 seeded random layers."""
    CONV_PARAMS.grade(student)


# ===================================================================== conv2d, loops and unfold
def _conv_flipped(x, w, b=None, stride=1, padding=0, dilation=1):
    return ref.conv2d_unfold(x, w, b, stride, padding, dilation, flip=True)


def _conv_stride_ignored(x, w, b=None, stride=1, padding=0, dilation=1):
    return ref.conv2d_unfold(x, w, b, 1, padding, dilation)


def _conv_dilation_ignored(x, w, b=None, stride=1, padding=0, dilation=1):
    return ref.conv2d_unfold(x, w, b, stride, padding, 1)


def _conv_window_ignores_dilation(x, w, b=None, stride=1, padding=0, dilation=1):
    """The right output size, but each window read contiguously from its corner (taps one pixel apart)."""
    h, w_ = (ref.output_size(L, k, padding, stride, dilation) for L, k in zip(x.shape[2:], w.shape[2:]))
    return ref.conv2d_unfold(x, w, b, stride, padding, 1)[..., :h, :w_]


def _conv_no_bias(x, w, b=None, stride=1, padding=0, dilation=1):
    return ref.conv2d_unfold(x, w, None, stride, padding, dilation)


def _conv_padding_one_side(x, w, b=None, stride=1, padding=0, dilation=1):
    return ref.conv2d_unfold(F.pad(x, (0, 2 * padding, 0, 2 * padding)), w, b, stride, 0, dilation)


def _conv_first_channel(x, w, b=None, stride=1, padding=0, dilation=1):
    return ref.conv2d_unfold(x[:, :1], w[:, :1], b, stride, padding, dilation)


MISTAKES["conv2d_naive"] = [
    Mistake("flipped", "your output is the true convolution (kernel rotated 180 degrees); CNN layers compute the "
            "cross-correlation: pair x[i + m, j + n] with w[m, n] without flipping", _conv_flipped),
    Mistake("stride ignored", "the stride was ignored: output (i, j) starts at input row i * stride, column j * stride",
            _conv_stride_ignored),
    Mistake("dilation ignored", "the dilation was ignored: kernel tap (m, n) reads input (i*S + m*D, j*S + n*D)",
            _conv_dilation_ignored),
    Mistake("window ignores dilation", "the dilation was ignored in the window: the output has the right size, "
            "but kernel tap (m, n) must read input (i*S + m*D, j*S + n*D), so the window is "
            "xp[n, :, iS : iS + D(kH-1)+1 : D, jS : jS + D(kW-1)+1 : D]", _conv_window_ignores_dilation),
    Mistake("bias missing", "the bias was not added (b[o] to every output of channel o)", _conv_no_bias),
    Mistake("padding one side", "you padded only the bottom and right by 2P; pad P on every side", _conv_padding_one_side),
    Mistake("channel sum missing", "only the first input channel was used: each output sums over all input "
            "channels c of x[n, c] * w[o, c]", _conv_first_channel),
]
MISTAKES["conv2d_unfold"] = MISTAKES["conv2d_naive"]


def _conv_cases(gen: torch.Generator | None = None, count: int = 0) -> list[Case]:
    image = _t([[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
                [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0]])[None, None]
    filter1 = _t([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]])[None, None]
    # every pixel different, so a window that ignores the dilation (or the stride) reads other values
    ramp = (torch.arange(2 * 7 * 8, dtype=D).reshape(1, 2, 7, 8) * 0.37).sin()
    skew = torch.linspace(-1, 1, 2 * 2 * 2 * 3, dtype=D).reshape(2, 2, 2, 3).exp()
    cases = [Case((image, filter1), label="seed 003, Filter 1, stride 1"),
             Case((image, filter1, None, 2), label="seed 003, stride 2"),
             Case((image, _t([[1, 0, -1]] * 3)[None, None], _t([0.5])), label="vertical edge kernel with a bias"),
             Case((torch.arange(2 * 3 * 5 * 4, dtype=D).reshape(2, 3, 5, 4) / 10,
                   torch.linspace(-1, 1, 2 * 3 * 2 * 3, dtype=D).reshape(2, 3, 2, 3), _t([1.0, -1.0]), 1, 1),
                  label="batch 2, 3 channels in, 2 out, 2x3 kernel, padding 1"),
             Case((ramp, skew, None, 1, 0, 2), label="dilation 2, a 2x3 kernel on a 7x8 image"),
             Case((ramp, skew, _t([0.25, -0.5]), 2, 1, 3), label="dilation 3, stride 2, padding 1, a bias"),
             Case((image, filter1, None, 2, 2, 1), label="stride 2, padding 2")]
    for _ in range(count if gen is not None else 0):
        n, c_in, c_out = _int(gen, 1, 2), _int(gen, 1, 3), _int(gen, 1, 3)
        kh, kw, s, p, dl = _int(gen, 1, 3), _int(gen, 1, 3), _int(gen, 1, 3), _int(gen, 0, 2), _int(gen, 1, 2)
        h = _int(gen, max(1, dl * (kh - 1) + 1 - 2 * p), 8)
        w_ = _int(gen, max(1, dl * (kw - 1) + 1 - 2 * p), 8)
        bias = torch.randn(c_out, generator=gen, dtype=D) if _int(gen, 0, 1) else None
        cases.append(Case((torch.randn(n, c_in, h, w_, generator=gen, dtype=D),
                           torch.randn(c_out, c_in, kh, kw, generator=gen, dtype=D), bias, s, p, dl),
                          label=f"random: x ({n}, {c_in}, {h}, {w_}), w ({c_out}, {c_in}, {kh}, {kw}), "
                                f"stride {s}, padding {p}, dilation {dl}"))
    return cases


def _reference(x, w, b=None, stride=1, padding=0, dilation=1):
    return ref.conv2d_unfold(x, w, b, stride, padding, dilation)


_BANNED_BUILTINS = (torch.conv2d, F.conv2d, torch.convolution, torch.conv_transpose2d, torch.conv1d, torch.conv3d)
_BANNED_NAMES = ("conv1d", "conv2d", "conv3d", "conv_transpose2d", "convolution", "_convolution", "Conv2d",
                 "convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve", "oaconvolve", "aten")
_FROM_SCRATCH = "Compute every output as a sum of products of x and w yourself."


def _banned_functions():
    return (ref.conv2d_naive, ref.conv2d_unfold)


def _from_scratch(name: str, im2col_banned: bool) -> Rule:
    def banned(op: str) -> bool:
        return core.is_convolution_op(op) or (im2col_banned and op == "im2col")

    return Rule("no library convolution (F.conv2d however called, torch.ops.aten, scipy, helpers.conv"
                + (", F.unfold" if im2col_banned else "") + ")",
                lambda student: core.assert_from_scratch(
                    name, student, _conv_cases()[3], banned_builtins=_BANNED_BUILTINS,
                    banned_functions=_banned_functions(), why=_FROM_SCRATCH, banned_ops=banned,
                    banned_names=_BANNED_NAMES, banned_packages=("scipy.ndimage", "scipy.signal"), no_threads=True))


_CONV_CHECKED = "a bias; a batch of 2 with 3 input and 2 output channels, a 2x3 kernel and padding 1"
_DILATION_CHECKED = "dilation 2 and dilation 3 with stride 2 and padding 1 on a 7x8 image; stride 2 with padding 2"

CONV2D_NAIVE = Exercise(
    "conv2d_naive", _reference, functools.partial(_conv_cases, count=25), MISTAKES["conv2d_naive"], seed=23,
    course_versions=_banned_functions(), rules=[_from_scratch("conv2d_naive", im2col_banned=True)],
    checked=["seed 003's 6x6 image with Filter 1 -> [[3,-1,-3,-1],[-3,1,0,-3],[-3,-3,0,1],[3,-2,-2,-1]]; stride 2",
             _CONV_CHECKED, _DILATION_CHECKED])


def _vector_cases() -> tuple[Case, Case]:
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(4, 3, 3, 3, generator=gen, dtype=D)
    return (Case((torch.randn(2, 3, 8, 8, generator=gen, dtype=D), w, None, 1, 1), label="8x8"),
            Case((torch.randn(2, 3, 64, 64, generator=gen, dtype=D), w, None, 1, 1), label="64x64"))


def _vectorised(student: Callable) -> str:
    few, many = core.assert_vectorized("conv2d_unfold", student, *_vector_cases())
    return f"vectorised: {few} function calls for an 8x8 input and {many} for 64x64"


CONV2D_UNFOLD = Exercise(
    "conv2d_unfold", _reference, functools.partial(_conv_cases, count=40), MISTAKES["conv2d_unfold"], seed=24,
    course_versions=_banned_functions(),
    rules=[_from_scratch("conv2d_unfold", im2col_banned=False), Rule("vectorised", _vectorised)],
    checked=["the same 7 cases as conv2d_naive (seed 003, bias, batch and channels, padding, stride, dilation)"])


def conv2d_naive(student: Callable) -> None:
    """Self-check of the loop version ``conv2d_naive(x, w, b, stride, padding, dilation)``."""
    CONV2D_NAIVE.check(student)


def grade_conv2d_naive(student: Callable) -> None:
    """Hidden test: the fixed cases, 25 seeded random configurations, and the rules (from scratch)."""
    CONV2D_NAIVE.grade(student)


def conv2d_unfold(student: Callable) -> None:
    """Self-check of the vectorised ``conv2d_unfold(x, w, b, stride, padding, dilation)``."""
    CONV2D_UNFOLD.check(student)


def grade_conv2d_unfold(student: Callable) -> None:
    """Hidden test: the fixed cases, 40 random configurations, and the rules (vectorised, from scratch)."""
    CONV2D_UNFOLD.grade(student)


# ===================================================================== directional kernels
def _ring_turned(kernels: torch.Tensor, order) -> torch.Tensor:
    return kernels[list(order)]


MISTAKES["directional_kernels"] = [
    Mistake("clockwise", "your kernels turn clockwise: kernel i must be kernel 0 turned i * 45 degrees "
            "counter-clockwise (kernel 2 points north, up the image)",
            lambda: _ring_turned(features.directional_kernels(D), [0, 7, 6, 5, 4, 3, 2, 1])),
    Mistake("starts at 45", "your first kernel points at 45 degrees; kernel 0 points east (0 degrees)",
            lambda: _ring_turned(features.directional_kernels(D), [1, 2, 3, 4, 5, 6, 7, 0])),
    Mistake("prewitt", "the side entries of kernel 0 are 1; the Sobel kernel weighs the middle row twice: "
            "[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]",
            lambda: features.ring_turns(_t([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]))),
    Mistake("signs", "your kernel 0 responds to brightness growing to the west: it must be "
            "[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] (negative on the left)",
            lambda: -features.directional_kernels(D)),
]


DIRECTIONAL_KERNELS = Exercise(
    "directional_kernels", lambda: features.directional_kernels(D), lambda gen: [Case(())],
    MISTAKES["directional_kernels"], course_versions=[features.directional_kernels, features.ring_turns],
    checked=["shape (8, 3, 3); kernel 0 = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] points east",
             "kernel i is kernel 0 with its ring turned i places counter-clockwise: kernel 2 north, 4 west, 6 south"])


def directional_kernels(student: Callable) -> None:
    """Self-check of ``directional_kernels() -> (8, 3, 3)``."""
    DIRECTIONAL_KERNELS.check(student)


def grade_directional_kernels(student: Callable) -> None:
    """Hidden test: the kernels against the reference (the same as the self-check: there is one input)."""
    DIRECTIONAL_KERNELS.grade(student)


# ===================================================================== edge features
def _hist_no_relu(x, kernels):
    return ref.conv2d_unfold(_as4d(x), kernels[:, None], padding=1).sum(dim=(2, 3))


def _hist_abs(x, kernels):
    return ref.conv2d_unfold(_as4d(x), kernels[:, None], padding=1).abs().sum(dim=(2, 3))


def _hist_valid(x, kernels):
    return ref.conv2d_unfold(_as4d(x), kernels[:, None]).relu().sum(dim=(2, 3))


def _hist_mean(x, kernels):
    return ref.conv2d_unfold(_as4d(x), kernels[:, None], padding=1).relu().mean(dim=(2, 3))


def _as4d(x):
    return x if x.dim() == 4 else x[:, None]


MISTAKES["edge_histogram"] = [
    Mistake("no relu", "negative responses cancelled positive ones: apply ReLU (max(0, .)) before summing",
            _hist_no_relu),
    Mistake("abs", "you summed |x * w|; the seed keeps only the positive part, max(0, x * w)", _hist_abs),
    Mistake("no padding", "the maps are smaller than the image: use zero padding 1 so every pixel gets a response",
            _hist_valid),
    Mistake("mean", "you averaged; f_i is the sum over all pixels", _hist_mean),
]


def _patch_kernel_major(x, kernels, patch=8, stride=None):
    f = features.patch_features(x, kernels, patch, stride)
    n, k = f.shape[0], kernels.shape[0]
    return f.reshape(n, -1, k).transpose(1, 2).reshape(n, -1)


def _patch_relu_after(x, kernels, patch=8, stride=None):
    maps, step = F.conv2d(_as4d(x), kernels[:, None], padding=1), stride or patch
    sums = maps.unfold(2, patch, step).unfold(3, patch, step).sum(dim=(-2, -1)).relu()
    return sums.permute(0, 2, 3, 1).reshape(maps.shape[0], -1)


def _patch_columns_first(x, kernels, patch=8, stride=None):
    maps, step = features.edge_maps(x, kernels), stride or patch
    sums = maps.unfold(2, patch, step).unfold(3, patch, step).sum(dim=(-2, -1))
    return sums.permute(0, 3, 2, 1).reshape(maps.shape[0], -1)


MISTAKES["patch_features"] = [
    Mistake("kernel-major", "your columns are kernel-major; the contract is patch-major: column j * K + i is "
            "kernel i in patch j", _patch_kernel_major),
    Mistake("relu after sum", "apply ReLU to every pixel's response before summing over the patch, not to the sum",
            _patch_relu_after),
    Mistake("column order", "number the patches row by row (left to right, then down), not column by column",
            _patch_columns_first),
    Mistake("stride ignored", "the stride was ignored: patches start every `stride` pixels (stride=None means "
            "stride = patch)", lambda x, kernels, patch=8, stride=None: features.patch_features(x, kernels, patch)),
]


def _feature_cases(patch: bool, gen: torch.Generator | None) -> list[Case]:
    count, seed = (6, 4 + patch) if gen is None else (20, int(torch.randint(0, 10**6, (1,), generator=gen)))
    images, _ = data.shape_images(count, size=16, seed=seed, dtype=D)
    w = features.directional_kernels(D)
    cases = [Case((images, w, 8) if patch else (images, w), label=f"{count} generated 16x16 shapes")]
    cases.append(Case((images[:2, 0], w[:3], 4) if patch else (images[:2, 0], w[:3]),
                      label="(N, H, W) input, 3 kernels" + (", patch 4" if patch else "")))
    odd = (torch.arange(2 * 12 * 20, dtype=D).reshape(2, 1, 12, 20) * 0.61).sin().abs()
    if patch:
        cases.append(Case((images[:3], w, 8, 4), label="overlapping 8x8 patches every 4 pixels"))
        cases.append(Case((odd, w, 5), label="12x20 images, patch 5 (the borders left out)"))
        cases.append(Case((odd, w[::3], 6, 3), label="12x20 images, 3 kernels, patch 6, stride 3"))
    else:
        cases.append(Case((odd, torch.linspace(-1, 1, 45, dtype=D).reshape(5, 3, 3)), label="12x20 images, 5 other kernels"))
    if gen is not None:
        x = torch.rand(3, 1, 9, 13, generator=gen, dtype=D)
        k = torch.randn(5, 3, 3, generator=gen, dtype=D)
        cases.append(Case((x, k, 4, 3) if patch else (x, k), label="random 9x13 images, 5 random kernels"))
    return cases


EDGE_HISTOGRAM = Exercise(
    "edge_histogram", features.edge_histogram, functools.partial(_feature_cases, False), MISTAKES["edge_histogram"],
    seed=24, course_versions=[features.edge_histogram, features.edge_maps, features._maps],
    checked=["6 generated shapes with the 8 directional kernels: f_i = sum of relu(x * w_i)",
             "a (N, H, W) input with 3 kernels; 12x20 images with 5 other kernels"])
PATCH_FEATURES = Exercise(
    "patch_features", features.patch_features, functools.partial(_feature_cases, True), MISTAKES["patch_features"],
    seed=25, course_versions=[features.patch_features, features.edge_histogram, features._maps],  # edge_maps calls _maps
    checked=["6 generated 16x16 shapes, 8 kernels, 8x8 patches -> 32 features, patch-major",
                      "a (N, H, W) input with 3 kernels and 4x4 patches",
                      "overlapping patches: patch 8, stride 4 -> 9 patches",
                      "12x20 images: patch 5 (the borders left out); patch 6 with stride 3"])


def edge_histogram(student: Callable) -> None:
    """Self-check of ``edge_histogram(x, kernels) -> (N, K)``."""
    EDGE_HISTOGRAM.check(student)


def grade_edge_histogram(student: Callable) -> None:
    """Hidden test: more shapes and random images."""
    EDGE_HISTOGRAM.grade(student)


def patch_features(student: Callable) -> None:
    """Self-check of ``patch_features(x, kernels, patch) -> (N, K * n_patches)``."""
    PATCH_FEATURES.check(student)


def grade_patch_features(student: Callable) -> None:
    """Hidden test: more shapes and random images and kernels."""
    PATCH_FEATURES.grade(student)


# ===================================================================== the shape classifier
THRESHOLD = 0.90


def classifier_accuracy(feature_fn: Callable, n_train: int = 600, n_test: int = 400, test_seed: int = 0) -> float:
    """Held-out accuracy of an RBF support-vector machine on ``feature_fn(images)`` of generated shapes.

    Args:
        feature_fn: maps images (N, 1, 32, 32) to features (N, F).
        test_seed: picks the held-out images; the training images are always the same.
    Returns:
        accuracy on ``n_test`` new images (never the training images' seed).
    """
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x_train, y_train = _shapes(n_train, 1000)
    x_test, y_test = _shapes(n_test, 2000 + test_seed)
    f_train, f_test = (_features_as_numpy(feature_fn, x) for x in (x_train, x_test))
    model = make_pipeline(StandardScaler(), SVC(C=10.0)).fit(f_train, y_train.numpy())
    return float(model.score(f_test, y_test.numpy()))


@functools.lru_cache(maxsize=8)
def _shapes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Generated 32x32 shapes, made once per process (callers get clones of the images)."""
    return data.shape_images(n, size=32, seed=seed)


def _features_as_numpy(feature_fn: Callable, images: torch.Tensor):
    f = feature_fn(images.clone())
    if not isinstance(f, torch.Tensor) or f.dim() != 2 or f.shape[0] != images.shape[0]:
        raise core.CheckFailure(f"shape_features must return a tensor of shape (N, F) for N = {images.shape[0]} "
                                f"images, got {core.describe(f) if isinstance(f, torch.Tensor) else type(f).__name__}")
    f = f.detach().to(D).cpu()
    if not bool(torch.isfinite(f).all()):
        raise core.CheckFailure("shape_features returned NaN or infinite values")
    return f.numpy()


_COURSE_FEATURES = "checked with the course's kernels and features, so earlier mistakes are not counted twice"


def _with_course_features(student: Callable):
    return core.swapped_globals(student, patch_features=features.patch_features, edge_histogram=features.edge_histogram,
                                directional_kernels=lambda: features.directional_kernels())


def _held_out_accuracy(student: Callable, test_seed: int) -> float:
    """The one rule of ``shape_features``, for the self-check (test_seed 0) and the hidden test (other images)."""
    with _with_course_features(student):
        accuracy = classifier_accuracy(student, test_seed=test_seed)
    if not accuracy >= THRESHOLD:
        raise core.CheckFailure(f"shape_features: held-out accuracy {accuracy:.1%} is below {THRESHOLD:.0%} "
                                f"(test images {test_seed}). Global edge histograms cannot tell where edges are; "
                                "use per-patch features.")
    return accuracy


def shape_classifier(student: Callable) -> float:
    """Self-check: an SVM on ``student(images)`` must reach 90% on held-out generated shapes."""
    accuracy = _held_out_accuracy(student, 0)
    core.report_pass("shape_classifier", [f"an RBF SVM on your features: {accuracy:.1%} on 400 held-out shapes "
                                          f"(needs {THRESHOLD:.0%})", _COURSE_FEATURES])
    return accuracy


def grade_shape_classifier(student: Callable) -> None:
    """Hidden test: the threshold on 400 other held-out images."""
    core.assert_untampered()
    _held_out_accuracy(student, 1)
