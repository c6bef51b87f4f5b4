"""Checks for notebook 03 (pooling and invariance).

Each exercise is one :class:`~helpers.checks.core.Exercise` (``POOL2D`` ...): the visible
self-check (``pool2d(student)``) runs the fixed cases (the seed facts, stride != window,
overlapping windows, padding, non-square maps, float32 and float64) and every rule (mode refused,
same dtype as x, no library pooling, no Python loop over the positions for ``pool2d``, the course's
own version never an answer); the hidden test (``grade_pool2d``) runs the same rules and adds seeded
random and edge cases (batch 1, one channel, 1 x W maps). ``MISTAKES`` lists the known wrong
answers that explain a failure.

The students' pooling functions take ints (``kernel_size``, ``stride``, ``padding``); stride
None means the window size, max pooling pads with -inf and average pooling counts the padded
zeros, exactly as ``F.max_pool2d`` and ``F.avg_pool2d``.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import torch
import torch.nn.functional as F

from .. import pooling as ref
from . import core
from .core import Case, Exercise, Mistake, Rule

D = torch.float64


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=D)


def _int(gen: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))


# seed 003: the two 4x4 feature maps of its 6x6 image (Filter 1 and Filter 2, stride 1)
SEED_003_MAPS = ([[3, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1], [3, -2, -2, -1]],
                 [[-1, -1, -1, -1], [-1, -1, -2, 1], [-1, -1, -2, 1], [-1, 0, -4, 3]])
SEED_003_POOLED = ([[3, 0], [3, 1]], [[-1, 1], [0, 3]])


# ===================================================================== output size
def _size_ceil(L, W, S=None, P=0):
    S = W if S is None else S
    return math.ceil((L + 2 * P - W) / S) + 1


MISTAKES = {
    "pool_output_size": [
        Mistake("ceil", "you rounded up: a window that would run past the (padded) input is dropped, so round "
                "down (floor, //)", _size_ceil),
        Mistake("stride defaults to 1", "S=None must mean S = W (windows side by side, no overlap), not S = 1",
                lambda L, W, S=None, P=0: (L + 2 * P - W) // (1 if S is None else S) + 1),
        Mistake("padding once", "padding is added on both sides: use 2P, not P",
                lambda L, W, S=None, P=0: (L + P - W) // (W if S is None else S) + 1),
        Mistake("true division", "the answer must be an int: use floor division //, not /",
                lambda L, W, S=None, P=0: (L + 2 * P - W) / (W if S is None else S) + 1),
        Mistake("no +1", "you forgot the + 1: the first window's position counts too",
                lambda L, W, S=None, P=0: (L + 2 * P - W) // (W if S is None else S)),
    ],
}


def _size_cases(gen: torch.Generator | None = None) -> list[Case]:
    cases = [Case((11, 4, None, 1), label="S=None means S = W = 4; padding 1 on each side; floor"),
             Case((16, 2, 2), label="seed 002: L=16, W=2, S=2 -> 8"), Case((4, 2, 2), label="seed 002: L=4 -> 2"),
             Case((4, 2), label="S defaults to W"), Case((7, 3, 2), label="seed 000: width 3, stride 2 (overlapping)"),
             Case((5, 2), label="floor: the last column is dropped"), Case((5, 3, 2, 1), label="padding 1"),
             Case((4, 2, 1), label="stride 1"), Case((13, 3, 3), label="S=3, floor")]
    if gen is None:
        return cases
    for _ in range(60):
        W = _int(gen, 1, 6)
        S, P = (None if _int(gen, 0, 3) == 0 else _int(gen, 1, 4)), _int(gen, 0, W // 2)
        L = _int(gen, max(1, W - 2 * P), 40)
        cases.append(Case((L, W, S, P), label="random"))
    return cases + [Case((S * n, S), label=f"W = S = {S} divides L = {S * n} by {S}") for S in (2, 3, 4) for n in (1, 5, 8)]


POOL_OUTPUT_SIZE = Exercise(
    "pool_output_size", ref.pool_output_size, _size_cases, MISTAKES["pool_output_size"], seed=31,
    checked=["seed 002: L=16, W=2, S=2 -> 8 and L=4 -> 2; S=None means S = W (L=11, W=4, P=1 -> 3)",
             "seed 000's overlapping width 3, stride 2: L=7 -> 3; floor (L=5, W=2 -> 2); padding on both sides",
             "the result is a Python int"])


def pool_output_size(student: Callable) -> None:
    """Self-check of ``pool_output_size(L, W, S=None, P=0) -> int``."""
    POOL_OUTPUT_SIZE.check(student)


def grade_pool_output_size(student: Callable) -> None:
    """Hidden test: the seed facts, W = S divides by S, and 60 seeded random sizes."""
    POOL_OUTPUT_SIZE.grade(student)


# ===================================================================== pool2d (loops and vectorised)
def _pool(x, kernel_size, stride=None, padding=0, mode="max"):
    """The reference with the students' contract (int arguments)."""
    return ref.pool2d(x, kernel_size, stride, padding, mode)


def _pool_ceil(x, kernel_size, stride=None, padding=0, mode="max"):
    """Windows until the end, the last ones cut short (a ceil output size; the sum over k * k for avg)."""
    k, s, p = kernel_size, kernel_size if stride is None else stride, padding
    fill = float("-inf") if mode == "max" else 0.0
    xp = F.pad(x, (p, p, p, p), value=fill)
    extra = [(math.ceil((n - k) / s)) * s + k - n for n in xp.shape[2:]]
    return ref.pool2d(F.pad(xp, (0, extra[1], 0, extra[0]), value=fill), k, s, 0, mode)


def _pool_zero_pad(x, kernel_size, stride=None, padding=0, mode="max"):
    p = padding
    return ref.pool2d(F.pad(x, (p, p, p, p)), kernel_size, stride, 0, mode)


def _pool_exclude_pad(x, kernel_size, stride=None, padding=0, mode="max"):
    if mode != "avg":
        return ref.pool2d(x, kernel_size, stride, padding, mode)
    return F.avg_pool2d(x, kernel_size, stride, padding, count_include_pad=False)


def _pool_window_short(x, kernel_size, stride=None, padding=0, mode="max"):
    k, s, p = kernel_size, kernel_size if stride is None else stride, padding
    fill = float("-inf") if mode == "max" else 0.0
    windows = F.pad(x, (p, p, p, p), value=fill).unfold(2, k, s).unfold(3, k, s)[..., :k - 1, :k - 1]
    return windows.amax(dim=(-2, -1)) if mode == "max" else windows.sum(dim=(-2, -1)) / (k * k)


def _pool_divides_by_k(x, kernel_size, stride=None, padding=0, mode="max"):
    y = ref.pool2d(x, kernel_size, stride, padding, mode)
    return y * kernel_size if mode == "avg" else y


def _pool_one_side(x, kernel_size, stride=None, padding=0, mode="max"):
    p = padding
    return ref.pool2d(F.pad(x, (0, 2 * p, 0, 2 * p), value=float("-inf") if mode == "max" else 0.0),
                      kernel_size, stride, 0, mode)


def _pool_mode_swapped(x, kernel_size, stride=None, padding=0, mode="max"):
    """The other reduction, on the input padded for the requested mode (so max's -inf padding is averaged)."""
    p = padding
    xp = F.pad(x, (p, p, p, p), value=float("-inf") if mode == "max" else 0.0)
    return ref.pool2d(xp, kernel_size, stride, 0, "avg" if mode == "max" else "max")


MISTAKES["pool2d_naive"] = [
    Mistake("stride defaults to 1", "stride=None must mean stride = kernel_size (windows side by side); "
            "you used stride 1",
            lambda x, k, stride=None, padding=0, mode="max": _pool(x, k, stride or 1, padding, mode)),
    Mistake("stride ignored", "the stride was ignored: output (i, j) reads the window starting at row i * stride, "
            "column j * stride", lambda x, k, stride=None, padding=0, mode="max": _pool(x, k, k, padding, mode)),
    Mistake("ceil", "your output has an extra row or column of windows cut short by the border: a window must fit "
            "inside the padded input, so H_out = (H + 2P - k) // S + 1 (floor)", _pool_ceil),
    Mistake("zero padding for max", "max pooling padded with zeros: a padded zero wins over negative values. "
            "Pad with -inf (float('-inf')) so padding never wins, as F.max_pool2d does", _pool_zero_pad),
    Mistake("padding excluded from the mean", "average pooling must count the padded zeros: divide every window by "
            "k * k (F.avg_pool2d's count_include_pad=True), not by the number of real cells", _pool_exclude_pad),
    Mistake("padding ignored", "the padding was ignored: pad P cells on every side before sliding the window",
            lambda x, k, stride=None, padding=0, mode="max": _pool(x, k, stride, 0, mode)),
    Mistake("padding on one side", "you padded only the bottom and right (by 2P); pad P on every side",
            _pool_one_side),
    Mistake("window one short", "your windows are one cell short: rows i * S to i * S + k - 1 inclusive, that is "
            "the slice [i * S : i * S + k]", _pool_window_short),
    Mistake("divides by k", "average pooling divides by the number of cells in the window, k * k, not by k",
            _pool_divides_by_k),
    Mistake("modes swapped", "mode='max' takes the largest value of each window, mode='avg' its mean",
            _pool_mode_swapped),
]
MISTAKES["pool2d"] = MISTAKES["pool2d_naive"]


def _seed_003_case(mode: str = "max") -> Case:
    return Case((_t(SEED_003_MAPS)[None], 2), {"mode": mode},
                label=f"seed 003's two 4x4 maps as 2 channels, 2x2 {mode} pooling")


def _pool_cases(gen: torch.Generator | None = None, count: int = 0) -> list[Case]:
    ramp = torch.arange(1.0, 50.0, dtype=D).reshape(1, 1, 7, 7)
    negative = -torch.arange(1.0, 17.0, dtype=D).reshape(1, 1, 4, 4)
    wide = torch.linspace(-2, 3, 2 * 3 * 5 * 8, dtype=D).reshape(2, 3, 5, 8).sin()
    cases = [Case((_t(SEED_003_MAPS)[None, :, :3], 3, 2, 1),
                  label="seed 003's two maps (first 3 rows), seed 000's width 3 and stride 2, padding 1"),
             _seed_003_case("max"), _seed_003_case("avg"),
             Case((ramp, 3, 2), label="seed 000: width 3, stride 2 (overlapping windows)"),
             Case((ramp, 3, 2), {"mode": "avg"}, label="overlapping, avg"),
             Case((ramp, 2, 1), label="stride 1 != kernel 2"),
             Case((negative, 2, 2, 1), label="all negative, padding 1: padding must never win a max"),
             Case((negative, 3, 2, 1), {"mode": "avg"}, label="avg with padding 1: the padded zeros count"),
             Case((wide, 3), label="batch 2, 3 channels, non-square 5x8, stride None -> 3, floor"),
             Case((wide, 2, 3, 1), {"mode": "avg"}, label="non-square, stride 3 > kernel 2, padding 1"),
             Case((ramp[:, :, :5, :6], 1), label="kernel 1: the identity"),
             Case((wide.float(), 3, 2, 1), label="float32 input, max: the result keeps x's dtype"),
             Case((wide.float(), 2), {"mode": "avg"}, label="float32 input, avg: the result keeps x's dtype")]
    for _ in range(count if gen is not None else 0):
        k = _int(gen, 1, 4)
        stride = None if _int(gen, 0, 3) == 0 else _int(gen, 1, 3)
        padding = _int(gen, 0, k // 2)
        n, c = _int(gen, 1, 2), _int(gen, 1, 3)
        h, w = _int(gen, max(1, k - 2 * padding), 11), _int(gen, max(1, k - 2 * padding), 11)
        mode = ref.MODES[_int(gen, 0, 1)]
        dtype = (D, torch.float32)[_int(gen, 0, 1)]
        cases.append(Case((torch.randn(n, c, h, w, generator=gen, dtype=D).to(dtype), k, stride, padding),
                          {"mode": mode}, label=f"random: x ({n}, {c}, {h}, {w}) {str(dtype)[6:]}, kernel {k}, "
                                                f"stride {stride}, padding {padding}, {mode}"))
    return cases + (_edge_cases(gen) if gen is not None else [])


def _edge_cases(gen: torch.Generator) -> list[Case]:
    """Batch 1, one channel, 1 x W and H x 1 maps, a window as large as the padded input."""
    cases = []
    for mode in ref.MODES:
        cases += [Case((torch.randn(1, 1, 6, 9, generator=gen, dtype=D), 2), {"mode": mode},
                       label="batch 1, one channel"),
                  Case((torch.randn(3, 1, 1, 7, generator=gen, dtype=D), 1, 2), {"mode": mode}, label="a 1 x 7 map"),
                  Case((torch.randn(1, 4, 6, 2, generator=gen, dtype=D), 2, 1), {"mode": mode}, label="a 6 x 2 map"),
                  Case((torch.randn(2, 2, 4, 4, generator=gen, dtype=D), 6, 1, 1), {"mode": mode},
                       label="one window covers the padded map")]
    return cases


def _refuses_unknown_mode(name: str) -> Rule:
    case = Case((torch.zeros(1, 1, 4, 4, dtype=D), 2), {"mode": "min"})
    return Rule("mode='min' raises ValueError", lambda student: core.expect_error(
        name, student, case, ValueError, "Raise ValueError for a mode other than 'max' or 'avg'."))


_POOL_BUILTINS = tuple(f for f in (
    torch.max_pool2d, torch.max_pool1d, torch.max_pool3d, torch.max_pool1d_with_indices, torch.avg_pool1d,
    torch.adaptive_max_pool1d, torch.adaptive_avg_pool1d, F.avg_pool2d,
    getattr(torch._C._nn, "avg_pool3d", None), getattr(torch._C._nn, "max_pool2d_with_indices", None),
    getattr(torch._C._nn, "max_pool3d_with_indices", None), getattr(torch._C._nn, "adaptive_max_pool2d", None),
    getattr(torch._C._nn, "adaptive_avg_pool2d", None), getattr(torch, "_adaptive_avg_pool2d", None),
    getattr(torch, "mkldnn_max_pool2d", None), getattr(torch, "quantized_max_pool2d", None)) if f is not None)
_POOL_NAMES = ("max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "MaxPool2d",
               "AvgPool2d", "adaptive_max_pool2d", "adaptive_avg_pool2d", "AdaptiveMaxPool2d", "AdaptiveAvgPool2d",
               "lp_pool2d", "LPPool2d", "max_pool2d_with_indices", "fractional_max_pool2d", "maximum_filter",
               "uniform_filter", "aten")
_FROM_SCRATCH = "Slice each window of the padded input and take its max or mean yourself."


def _banned_functions():
    return (ref.pool2d_naive, ref.pool2d, F.max_pool2d, F.adaptive_max_pool2d, F.adaptive_avg_pool2d,
            F.lp_pool2d, F.max_pool2d_with_indices)


def _from_scratch(name: str) -> Rule:
    def test(student: Callable) -> None:
        for case in (_pool_cases()[0], _seed_003_case("avg")):
            core.assert_from_scratch(name, student, case, banned_builtins=_POOL_BUILTINS,
                                     banned_functions=_banned_functions(), why=_FROM_SCRATCH,
                                     banned_ops=core.is_pooling_op, banned_names=_POOL_NAMES,
                                     banned_packages=("scipy.ndimage",), no_threads=True)

    return Rule("no library pooling is called (F.max_pool2d however called, nn.MaxPool2d, torch.ops.aten, "
                "helpers.pooling)", test)


def _vector_cases() -> tuple[Case, Case]:
    gen = torch.Generator().manual_seed(13)
    return (Case((torch.randn(2, 3, 8, 8, generator=gen, dtype=D), 3, 2, 1), label="8x8"),
            Case((torch.randn(2, 3, 64, 64, generator=gen, dtype=D), 3, 2, 1), label="64x64"))


def _vectorised(student: Callable) -> str:
    few, many = core.assert_vectorized("pool2d", student, *_vector_cases())
    return f"vectorised: {few} function calls for an 8x8 input and {many} for 64x64"


def _torch_pool(x, kernel_size, stride=None, padding=0, mode="max"):
    """torch's own pooling, after checking nobody replaced it."""
    fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    if not (core._is_native(fn) or core._in_package(fn, torch)):
        raise core.CheckFailure(f"grading stopped: torch.nn.functional.{mode}_pool2d was replaced in the notebook")
    return fn(x, kernel_size, stride, padding)


_SAME_DTYPE = functools.partial(core.close, dtype=True)
_POOL_CHECKED = [
    "seed 003: 2x2 max pooling of its two 4x4 maps -> [[3, 0], [3, 1]] and [[-1, 1], [0, 3]]; and their averages",
    "seed 000's overlapping width 3, stride 2 (max and avg, with and without padding); stride 1 with a 2x2 "
    "window; kernel 1",
    "padding 1: max pooling pads with -inf, average pooling counts the padded zeros (like F.avg_pool2d)",
    "a batch of 2 with 3 channels on non-square 5x8 maps, stride None and stride 3",
    "the result has x's dtype (float32 and float64 inputs)"]

POOL2D_NAIVE = Exercise(
    "pool2d_naive", _pool, functools.partial(_pool_cases, count=30), MISTAKES["pool2d_naive"], seed=32,
    compare=_SAME_DTYPE, course_versions=(ref.pool2d_naive, ref.pool2d),
    rules=[_refuses_unknown_mode("pool2d_naive"), _from_scratch("pool2d_naive")], checked=_POOL_CHECKED)
POOL2D = Exercise(
    "pool2d", _torch_pool, functools.partial(_pool_cases, count=60), MISTAKES["pool2d"], seed=33,
    compare=_SAME_DTYPE, course_versions=(ref.pool2d_naive, ref.pool2d),
    rules=[_refuses_unknown_mode("pool2d"), _from_scratch("pool2d"), Rule("vectorised", _vectorised)],
    checked=["the 13 cases of pool2d_naive (seed 003, overlapping, strides, padding, non-square, batches, float32), "
             "against F.max_pool2d and F.avg_pool2d"])


def pool2d_naive(student: Callable) -> None:
    """Self-check of the loop version ``pool2d_naive(x, kernel_size, stride, padding, mode) -> (N, C, H_o, W_o)``."""
    POOL2D_NAIVE.check(student)


def grade_pool2d_naive(student: Callable) -> None:
    """Hidden test: the fixed cases, 30 seeded random cases, edge cases, and the rules."""
    POOL2D_NAIVE.grade(student)


def pool2d(student: Callable) -> None:
    """Self-check of the vectorised ``pool2d(x, kernel_size, stride, padding, mode) -> (N, C, H_out, W_out)``."""
    POOL2D.check(student)


def grade_pool2d(student: Callable) -> None:
    """Hidden test: the fixed cases, 60 seeded random cases against F.*_pool2d, edge cases, and the rules."""
    POOL2D.grade(student)


# ===================================================================== global average pooling
MISTAKES["global_avg_pool"] = [
    Mistake("sum", "you summed each map; global average pooling takes its mean (divide by H * W)",
            lambda x: x.sum(dim=(2, 3))),
    Mistake("global max", "you took each map's maximum (global max pooling); take its mean",
            lambda x: x.amax(dim=(2, 3))),
    Mistake("kept dimensions", "the result must be (N, C): reduce the two spatial axes away "
            "(no keepdim=True, or flatten afterwards)", lambda x: x.mean(dim=(2, 3), keepdim=True)),
    Mistake("wrong axes", "you averaged over the channels and the rows (dims 1 and 2); average over the two "
            "spatial axes, dims 2 and 3 (H and W)", lambda x: x.mean(dim=(1, 2))),
    Mistake("one axis", "you averaged over one spatial axis only; average over both H and W",
            lambda x: x.mean(dim=3)),
    Mistake("batch mixed", "you averaged over the batch too: every image keeps its own C features",
            lambda x: x.mean(dim=(0, 2, 3))),
]


def _gap_cases(gen: torch.Generator | None = None) -> list[Case]:
    x = torch.arange(2 * 3 * 2 * 4, dtype=D).reshape(2, 3, 2, 4)
    cases = [Case((x,), label="2 images, 3 channels, 2x4 maps: each map's mean"),
             Case((torch.randn(1, 1, 5, 5, generator=torch.Generator().manual_seed(0), dtype=D),),
                  label="batch 1, one channel"),
             Case((torch.ones(3, 4, 7, 1, dtype=D) * _t([1, -2, 3, 0.5])[None, :, None, None],),
                  label="constant maps, 7x1")]
    for _ in range(30 if gen is not None else 0):
        n, c, h, w = _int(gen, 1, 4), _int(gen, 1, 6), _int(gen, 1, 9), _int(gen, 1, 9)
        cases.append(Case((torch.randn(n, c, h, w, generator=gen, dtype=D),), label=f"random ({n}, {c}, {h}, {w})"))
    return cases


GLOBAL_AVG_POOL = Exercise(
    "global_avg_pool", ref.global_avg_pool, _gap_cases, MISTAKES["global_avg_pool"], seed=34,
    checked=["a (2, 3, 2, 4) batch -> (2, 3): the mean of each 2x4 map",
             "batch 1 with one channel; constant 7x1 maps give back their constant"])


def global_avg_pool(student: Callable) -> None:
    """Self-check of ``global_avg_pool(x: (N, C, H, W)) -> (N, C)``."""
    GLOBAL_AVG_POOL.check(student)


def grade_global_avg_pool(student: Callable) -> None:
    """Hidden test: the fixed cases and 30 seeded random shapes."""
    GLOBAL_AVG_POOL.grade(student)


# ===================================================================== receptive field
def _rf_late_stride(layers):
    r, jump = 1, 1
    for k, s in layers:
        jump *= s
        r += (k - 1) * jump
    return r


MISTAKES["receptive_field"] = [
    Mistake("strides ignored", "the strides were ignored: after a layer of stride s, each step of the next layer "
            "covers s times more input pixels, so multiply (k - 1) by the product of the earlier strides",
            lambda layers: 1 + sum(k - 1 for k, s in layers)),
    Mistake("own stride counted", "a layer's own stride does not widen its own view: (k_l - 1) is multiplied by the "
            "strides of the layers *before* it only (update the product after adding)", _rf_late_stride),
    Mistake("no +1", "you forgot the output's own pixel: start from 1, then add (k - 1) * jump per layer",
            lambda layers: ref.receptive_field(layers) - 1),
    Mistake("k not k - 1", "each layer adds (k - 1) * jump new pixels, not k * jump",
            lambda layers: ref.receptive_field([(k + 1, s) for k, s in layers])),
    Mistake("product of kernels", "receptive fields do not multiply: they grow by (k - 1) * jump per layer",
            lambda layers: math.prod(k for k, s in layers)),
]


def _rf_cases(gen: torch.Generator | None = None) -> list[Case]:
    alexnet = [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)]
    cases = [Case(([(3, 1), (2, 2), (3, 1)],), label="conv 3, pool 2, conv 3 -> 8 (seed 003: a window after pooling "
                                                     "sees more)"),
             Case(([(3, 1), (3, 1)],), label="two 3x3 convolutions -> 5"), Case(([],), label="no layers -> 1"),
             Case(([(2, 2), (2, 2), (2, 2)],), label="three 2x2 poolings -> 8"),
             Case(([[5, 1], [2, 2], [5, 1], [2, 2]],), label="LeNet-5's conv/pool pairs, as lists -> 16"),
             Case(([(3, 2), (3, 1)],), label="a strided convolution first"),
             Case((alexnet,), label="AlexNet's features -> 195")]
    if gen is None:
        return cases
    for _ in range(40):
        layers = [(_int(gen, 1, 7), _int(gen, 1, 3)) for _ in range(_int(gen, 0, 7))]
        cases.append(Case((layers,), label="random stack"))
    return cases + [Case(([(3, 1), (3, 1), (2, 2)] * n,), label=f"{n} VGG blocks") for n in range(1, 6)]


RECEPTIVE_FIELD = Exercise(
    "receptive_field", ref.receptive_field, _rf_cases, MISTAKES["receptive_field"], seed=35,
    checked=["conv 3 -> pool 2 (stride 2) -> conv 3 sees 8 pixels; two 3x3 convolutions see 5; no layers: 1",
             "three 2x2 poolings -> 8; LeNet-5's (5, 1), (2, 2), (5, 1), (2, 2) -> 16; a strided first layer; "
             "AlexNet -> 195; a Python int"])


def receptive_field(student: Callable) -> None:
    """Self-check of ``receptive_field(layers) -> int`` for (kernel, stride) pairs."""
    RECEPTIVE_FIELD.check(student)


def grade_receptive_field(student: Callable) -> None:
    """Hidden test: the fixed stacks, 40 seeded random ones; VGG blocks grow as expected."""
    RECEPTIVE_FIELD.grade(student)


# ===================================================================== shift invariance
class Feature:
    """A named feature function ``(N, C, H, W) -> (N, ...)`` that counterexamples can print."""

    def __init__(self, name: str, fn: Callable):
        self.name, self.fn = name, fn

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def __repr__(self) -> str:
        return self.name


def _shift_change(x, feature_fn, shift):
    """The reference: per image, ||f(roll(x, shift)) - f(x)|| / ||f(x)||."""
    before = feature_fn(x)
    after = feature_fn(torch.roll(x, shifts=tuple(shift), dims=(2, 3)))
    return (after - before).flatten(1).norm(dim=1) / before.flatten(1).norm(dim=1)


def _shift_features_rolled(x, feature_fn, shift):
    before = feature_fn(x)
    after = torch.roll(before, shifts=tuple(shift), dims=(2, 3)) if before.dim() == 4 else before
    return (after - before).flatten(1).norm(dim=1) / before.flatten(1).norm(dim=1)


def _shift_whole_batch(x, feature_fn, shift):
    before = feature_fn(x)
    after = feature_fn(torch.roll(x, shifts=tuple(shift), dims=(2, 3)))
    return (after - before).norm() / before.norm()


def _shift_axes_swapped(x, feature_fn, shift):
    return _shift_change(x, feature_fn, tuple(shift)[::-1])


def _shift_absolute(x, feature_fn, shift):
    before = feature_fn(x)
    return (feature_fn(torch.roll(x, shifts=tuple(shift), dims=(2, 3))) - before).flatten(1).norm(dim=1)


def _shift_by_after(x, feature_fn, shift):
    before = feature_fn(x)
    after = feature_fn(torch.roll(x, shifts=tuple(shift), dims=(2, 3)))
    return (after - before).flatten(1).norm(dim=1) / after.flatten(1).norm(dim=1)


def _shift_reversed(x, feature_fn, shift):
    return _shift_change(x, feature_fn, tuple(-s for s in shift))


def _shift_squared(x, feature_fn, shift):
    return _shift_change(x, feature_fn, shift) ** 2


def _shift_mean_abs(x, feature_fn, shift):
    before = feature_fn(x)
    after = feature_fn(torch.roll(x, shifts=tuple(shift), dims=(2, 3)))
    return (after - before).abs().flatten(1).mean(dim=1) / before.abs().flatten(1).mean(dim=1)


MISTAKES["shift_change"] = [
    Mistake("features rolled", "you shifted the feature maps instead of the input: shift x, then compute "
            "feature_fn of the shifted images and compare with feature_fn(x)", _shift_features_rolled),
    Mistake("whole batch", "you measured one number for the whole batch: compute the norms per image "
            "(flatten(1).norm(dim=1)) and return one change per image, shape (N,)", _shift_whole_batch),
    Mistake("axes swapped", "your shift moved the image dy columns and dx rows: dy is along the rows "
            "(dim 2, down), dx along the columns (dim 3, right)", _shift_axes_swapped),
    Mistake("shift reversed", "you shifted the wrong way: roll by +dy rows (down) and +dx columns (right)",
            _shift_reversed),
    Mistake("absolute change", "you returned the absolute change; divide by the norm of the unshifted "
            "features, ||feature_fn(x)||, to get a relative change", _shift_absolute),
    Mistake("divided by the shifted", "divide by the norm of the features of the *unshifted* images, "
            "||feature_fn(x)||, not of the shifted ones", _shift_by_after),
    Mistake("squared", "you returned the squared ratio; take the Euclidean norms (square root of the sum of "
            "squares) of the difference and of feature_fn(x)", _shift_squared),
    Mistake("mean absolute", "use the Euclidean norm (torch.linalg.norm or .norm()) of all feature entries "
            "of an image, not the mean absolute value", _shift_mean_abs),
]

IDENTITY = Feature("identity (lambda x: x)", lambda x: x)
MAX_2 = Feature("2x2 max pooling (F.max_pool2d(x, 2))", lambda x: F.max_pool2d(x, 2))


def _conv_relu_pool(x: torch.Tensor) -> torch.Tensor:
    w = _t([[1, 0, -1], [2, 0, -2], [1, 0, -1]])[None, None].expand(1, x.shape[1], 3, 3)
    return F.max_pool2d(F.conv2d(x, w, padding=1).relu(), 3, 2, 1)


def _shift_cases(gen: torch.Generator | None = None) -> list[Case]:
    two = _t([[[[4, 1, 0, 2], [0, 3, 1, 5], [2, 2, 6, 0], [1, 0, 0, 3]]],
              [[[0, 0, 1, 0], [0, 7, 0, 0], [1, 0, 0, 2], [0, 3, 0, 0]]]])
    dot = torch.zeros(1, 1, 4, 4, dtype=D)
    dot[0, 0, 0, 0] = 1.0
    wide = torch.linspace(0, 1, 2 * 2 * 6 * 9, dtype=D).reshape(2, 2, 6, 9).mul(7).sin().relu()
    gap = Feature("global average pooling (x.mean(dim=(2, 3)))", lambda x: x.mean(dim=(2, 3)))
    cases = [Case((two, MAX_2, (0, 1)), label="2 images, 2x2 max pooling, one column right"),
             Case((dot, IDENTITY, (0, 1)), label="one bright pixel, no pooling: sqrt(2)"),
             Case((dot, MAX_2, (0, 1)), label="one bright pixel moved inside its pooling window: 0"),
             Case((dot, MAX_2, (1, 2)), label="moved into another window"),
             Case((two, IDENTITY, (2, -1)), label="negative shift, no pooling"),
             Case((two, gap, (1, 3)), label="global average pooling: a circular shift changes nothing"),
             Case((wide, Feature("conv 3x3, ReLU, max pool 3 stride 2 padding 1", _conv_relu_pool), (1, 0)),
                  label="2 channels, non-square 6x9 images, a conv -> ReLU -> pool pipeline"),
             Case((two, MAX_2, (0, 0)), label="no shift: 0")]
    features = [IDENTITY, MAX_2, gap, Feature("conv 3x3, ReLU, max pool 3 stride 2 padding 1", _conv_relu_pool),
                Feature("3x3 avg pooling, stride 2 (F.avg_pool2d(x, 3, 2))", lambda x: F.avg_pool2d(x, 3, 2))]
    for _ in range(30 if gen is not None else 0):
        n, c, h, w = _int(gen, 1, 3), _int(gen, 1, 3), _int(gen, 4, 10), _int(gen, 4, 10)
        feature = features[_int(gen, 0, len(features) - 1)]
        shift = (_int(gen, -4, 4), _int(gen, -4, 4))
        x = torch.rand(n, c, h, w, generator=gen, dtype=D) + 0.1
        cases.append(Case((x, feature, shift), label=f"random: x ({n}, {c}, {h}, {w}), {feature}, shift {shift}"))
    return cases


SHIFT_CHANGE = Exercise(
    "shift_change", _shift_change, _shift_cases, MISTAKES["shift_change"], seed=36,
    checked=["per image ||feature_fn(x shifted) - feature_fn(x)|| / ||feature_fn(x)||, x shifted with "
             "torch.roll by dy rows (down) and dx columns (right)",
             "one bright pixel: no pooling -> sqrt(2); moved inside its 2x2 max-pooling window -> 0; into the next -> "
             "not 0",
             "global average pooling -> 0; negative shifts; no shift -> 0; a conv -> ReLU -> pool pipeline on 6x9 "
             "images"])


def shift_change(student: Callable) -> None:
    """Self-check of ``shift_change(x, feature_fn, shift) -> (N,)``."""
    SHIFT_CHANGE.check(student)


def grade_shift_change(student: Callable) -> None:
    """Hidden test: the fixed cases and 30 seeded random images, feature functions and shifts."""
    SHIFT_CHANGE.grade(student)
