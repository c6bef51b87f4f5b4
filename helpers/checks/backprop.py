"""Checks for notebook 04 (backpropagation through convolution and pooling).

Each exercise has a visible self-check (``conv2d_backward``, ``max_pool2d_backward`` ...) that
prints what it checked, and a grading check (``grade_<exercise>``) for the hidden tests: seeded
random shapes, strides and paddings in float64 against the references of :mod:`helpers.backprop`
(which the unit tests hold to torch autograd and ``F.fold``), ties, overlapping windows, the seed 001
facts, and proof that no gradient was taken with autograd where the exercise asks for it by hand.
``MISTAKES`` lists the known wrong answers that explain a failure.
"""

from __future__ import annotations

import inspect
import os
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F

from .. import backprop as ref
from . import core
from .core import Case, CheckFailure, Mistake

D = torch.float64

# autograd does the work for you: banned where the exercise asks for a gradient by hand
_AUTOGRAD = (torch.autograd.grad, torch.Tensor.backward, torch.autograd.functional.jacobian,
             torch.nn.grad.conv2d_input, torch.nn.grad.conv2d_weight)
_BY_HAND = "Compute the gradient yourself: autograd (.backward(), torch.autograd) and the references are off limits here."


def _int(gen: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def _randn(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=D)


MISTAKES: dict[str, list[Mistake]] = {}

# ===================================================================================== ReLU
MISTAKES["relu_backward"] = [
    Mistake("mask from dout", "the mask comes from the forward input x (x > 0), not from the gradient dout "
            "(ReLU's backward is not a ReLU of dout)",
            lambda dout, x: torch.where(dout > 0, dout, torch.zeros_like(dout))),
    Mistake("mask only", "multiply the mask by dout: dx = dout * (x > 0), not just the 0/1 mask",
            lambda dout, x: (x > 0).to(dout.dtype)),
    Mistake("x >= 0", "at x == 0 the gradient is 0 (PyTorch's convention): use x > 0, not x >= 0",
            lambda dout, x: torch.where(x >= 0, dout, torch.zeros_like(dout))),
]


def _relu_cases(gen: torch.Generator, count: int) -> list[Case]:
    x = torch.tensor([[-2.0, 0.0, 3.0], [1.5, -0.5, 0.0]], dtype=D)
    dout = torch.tensor([[1.0, 2.0, -3.0], [-4.0, 5.0, 6.0]], dtype=D)
    cases = [Case((dout, x), label="negative, zero and positive inputs; negative gradients")]
    for _ in range(count):
        shape = tuple(_int(gen, 1, 4) for _ in range(_int(gen, 1, 4)))
        x = _randn(gen, *shape)
        x[x.abs() < 0.3] = 0.0
        cases.append(Case((_randn(gen, *shape), x), label=f"random {shape}, some x exactly 0"))
    return cases


def _by_hand(name: str, case_index: int = 0, banned_builtins=(), extra=(), why: str = _BY_HAND) -> core.Rule:
    """The rule "no autograd (and no library call doing the work)", checked on one of the fixed cases."""
    def test(student):
        case = EXERCISES[name].cases(None)[case_index]
        core.assert_from_scratch(name, student, case, banned_builtins=banned_builtins,
                                 banned_functions=(*_AUTOGRAD, *extra), why=why)
    return core.Rule("computed by hand: no autograd, no library function doing the work", test)


def _cases(make: Callable, fixed: int, random: int) -> Callable:
    """``cases(gen)`` of an Exercise: ``make``'s cases drawn with seed 0 (the self-check's), plus, for the
    hidden test, ``random`` more drawn from ``gen``."""
    return lambda gen: make(torch.Generator().manual_seed(0), fixed) + ([] if gen is None else make(gen, random))


EXERCISES: dict[str, core.Exercise] = {}
EXERCISES["relu_backward"] = core.Exercise(
    "relu_backward", ref.relu_backward, _cases(_relu_cases, 3, 30),
    MISTAKES["relu_backward"], [_by_hand("relu_backward")],
    ["dx = dout where x > 0 and 0 elsewhere (0 at x == 0), negative dout kept",
     "random shapes from 1 to 4 dimensions"], seed=41)


def relu_backward(student: Callable) -> None:
    """Self-check of ``relu_backward(dout, x) -> dx``."""
    EXERCISES["relu_backward"].check(student)


def grade_relu_backward(student: Callable) -> None:
    """Hidden test: the same rules, 30 seeded shapes with exact zeros."""
    EXERCISES["relu_backward"].grade(student)


# ============================================================================ conv backward
def _conv_backward_variant(flip_dx=False, dw_last_position=False, dw_first_image=False, stride_ignored="",
                           keep_padding=False, db_first_image=False, db_over_channels=False):
    """The reference with one known mistake switched on (each keyword is one mistake)."""
    def backward(dout, x, w, stride=1, padding=0):
        dx, dw, db = ref.conv2d_backward(dout, x, w, stride, padding)
        if flip_dx:
            dx, _, _ = ref.conv2d_backward(dout, x, w.flip(-2, -1), stride, padding)
        if dw_last_position:
            last = torch.zeros_like(dout)
            last[:, :, -1, -1] = dout[:, :, -1, -1]
            dw = ref.conv2d_backward(last, x, w, stride, padding)[1]
        if dw_first_image:
            dw = ref.conv2d_backward(dout[:1], x[:1], w, stride, padding)[1]
        if stride_ignored and stride > 1:
            dense_dx, dense_dw = _dense_positions(dout, x, w, padding)
            dx = dense_dx if "dx" in stride_ignored else dx
            dw = dense_dw if "dw" in stride_ignored else dw
        if keep_padding and padding > 0:
            dx = ref.conv2d_backward(dout, F.pad(x, (padding,) * 4), w, stride, 0)[0]
        if db_first_image:
            db = dout[0].sum(dim=(1, 2))
        if db_over_channels:
            db = dout.sum(dim=(1, 2, 3))
        return dx, dw, db
    return backward


def _dense_positions(dout, x, w, padding):
    """(dx, dw) of a loop that forgot the stride: output (i, j) read the window at (i, j), not (i*S, j*S)."""
    xp = F.pad(x, (padding,) * 4)
    h, w_ = dout.shape[2] + w.shape[2] - 1, dout.shape[3] + w.shape[3] - 1
    dx_near, dw, _ = ref.conv2d_backward(dout, xp[:, :, :h, :w_].contiguous(), w, 1, 0)
    dxp = torch.zeros_like(xp)
    dxp[:, :, :h, :w_] = dx_near
    return dxp[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]], dw


MISTAKES["conv2d_backward"] = [
    Mistake("kernel not flipped", "dx is a full convolution of dout with the kernel rotated 180 degrees "
            "(each input gets dout[i, j] * w[a - i*S, b - j*S]); your dx used the kernel unrotated",
            _conv_backward_variant(flip_dx=True)),
    Mistake("dw not summed over positions", "a weight is shared by every output position: dw must add up "
            "dout[i, j] * window(i, j) over all positions (use +=), not keep only the last one",
            _conv_backward_variant(dw_last_position=True)),
    Mistake("dw not summed over the batch", "dw must add the contributions of every image in the batch",
            _conv_backward_variant(dw_first_image=True)),
    Mistake("stride ignored", "output (i, j) read the window starting at (i*S, j*S): the backward must use the "
            "stride too", _conv_backward_variant(stride_ignored="dx dw")),
    Mistake("dx ignores the stride", "dw is right but dx ignores the stride: dout[i, j] flows back to the window "
            "starting at (i*S, j*S), so add dout[i, j] * w into dx there, not at (i, j)",
            _conv_backward_variant(stride_ignored="dx")),
    Mistake("dw ignores the stride", "dx is right but dw ignores the stride: dw adds dout[i, j] times the window "
            "starting at (i*S, j*S), not at (i, j)", _conv_backward_variant(stride_ignored="dw")),
    Mistake("padding not cropped", "dx must have the shape of x: crop the padding off the padded gradient",
            _conv_backward_variant(keep_padding=True)),
    Mistake("db not summed over the batch", "db sums dout over the batch and all positions: dout.sum(dim=(0, 2, 3))",
            _conv_backward_variant(db_first_image=True)),
]


def _conv_case(gen: torch.Generator, N, C, O, H, W, k, stride, padding, label="") -> Case:
    x, w = _randn(gen, N, C, H, W), _randn(gen, O, C, k, k)
    h_out, w_out = (H + 2 * padding - k) // stride + 1, (W + 2 * padding - k) // stride + 1
    return Case((_randn(gen, N, O, h_out, w_out), x, w, stride, padding),
                label=label or f"N={N}, C_in={C}, C_out={O}, {H}x{W}, k={k}, stride={stride}, padding={padding}")


def _conv_cases(gen: torch.Generator, count: int) -> list[Case]:
    cases = [_conv_case(gen, 1, 1, 1, 3, 3, 2, 1, 0, "seed 001: 3x3 input, 2x2 kernel"),
             _conv_case(gen, 2, 2, 3, 5, 6, 3, 1, 0, "batch 2, several channels, non-square"),
             _conv_case(gen, 2, 1, 2, 7, 7, 3, 2, 0, "stride 2"),
             _conv_case(gen, 1, 2, 2, 5, 5, 3, 1, 1, "padding 1 (dx must be cropped back to 5x5)"),
             _conv_case(gen, 2, 2, 1, 8, 7, 3, 3, 2, "stride 3, padding 2, last rows unused")]
    for _ in range(count):
        k, s = _int(gen, 1, 4), _int(gen, 1, 3)
        p = _int(gen, 0, k - 1)
        H, W = _int(gen, max(1, k - 2 * p), 9), _int(gen, max(1, k - 2 * p), 9)
        cases.append(_conv_case(gen, _int(gen, 1, 3), _int(gen, 1, 3), _int(gen, 1, 3), H, W, k, s, p))
    return cases


EXERCISES["conv2d_backward"] = core.Exercise(
    "conv2d_backward", ref.conv2d_backward, _cases(_conv_cases, 2, 25), MISTAKES["conv2d_backward"],
    [_by_hand("conv2d_backward", 2, banned_builtins=(F.conv_transpose2d,), extra=(ref.conv2d_backward,))],
    ["(dx, dw, db) against torch autograd's gradients in float64 (seed 001's 3x3 input with a 2x2 kernel)",
     "batch and channels, stride 2 and 3, padding 1 and 2 (dx cropped to x's shape), unused last rows"],
    seed=42, compare=partial(core.close, parts=("dx", "dw", "db")))


def conv2d_backward(student: Callable) -> None:
    """Self-check of ``conv2d_backward(dout, x, w, stride=1, padding=0) -> (dx, dw, db)``."""
    EXERCISES["conv2d_backward"].check(student)


def grade_conv2d_backward(student: Callable) -> None:
    """Hidden test: the same rules, 25 more seeded shapes, strides and paddings."""
    EXERCISES["conv2d_backward"].grade(student)


# ============================================================================== pool backward
def _pool_windows(x, k, s):
    n, c, h, w = x.shape
    return F.unfold(x.reshape(n * c, 1, h, w), k, stride=s)                    # (N*C, k*k, L)


def _max_to(rule: str):
    """Max-pool backward sending each window's gradient by ``rule``: every cell, every tied maximum, the last one."""
    def backward(dout, x, kernel_size, stride=None):
        k, s = kernel_size, kernel_size if stride is None else stride
        windows = _pool_windows(x, k, s)
        if rule == "every cell":
            mask = torch.ones_like(windows)
        elif rule == "every tie":
            mask = (windows == windows.amax(dim=1, keepdim=True)).to(x.dtype)
        else:  # the last maximum
            last = k * k - 1 - windows.flip(1).argmax(dim=1, keepdim=True)
            mask = torch.zeros_like(windows).scatter_(1, last, 1.0)
        grads = mask * dout.reshape(windows.shape[0], 1, -1)
        return F.fold(grads, x.shape[2:], k, stride=s).reshape(x.shape)
    return backward


def _overwritten(backward_ref):
    """Overlapping windows overwrite each other's gradient instead of adding (the last window wins)."""
    def backward(dout, x, kernel_size, stride=None):
        k, s = kernel_size, kernel_size if stride is None else stride
        dx = torch.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                one = torch.zeros_like(dout)
                one[:, :, i, j] = dout[:, :, i, j]
                part = backward_ref(one, x, k, s)
                window = (slice(None), slice(None), slice(i * s, i * s + k), slice(j * s, j * s + k))
                dx[window] = part[window]
        return dx
    return backward


def _stride_one(backward_ref):
    """stride=None taken as 1: output (i, j) read the window at (i, j)."""
    def backward(dout, x, kernel_size, stride=None):
        if stride is not None:
            return backward_ref(dout, x, kernel_size, stride)
        h, w = dout.shape[2] + kernel_size - 1, dout.shape[3] + kernel_size - 1
        dx = torch.zeros_like(x)
        dx[:, :, :h, :w] = backward_ref(dout, x[:, :, :h, :w].contiguous(), kernel_size, 1)
        return dx
    return backward


MISTAKES["max_pool2d_backward"] = [
    Mistake("to every cell", "max pooling passes the gradient to the winning unit only (the maximum of the "
            "window); the other cells did not affect the output and get 0", _max_to("every cell")),
    Mistake("to every tie", "on a tie only ONE unit wins: the first maximum in row-major order (argmax), as "
            "PyTorch does; you sent the gradient to every tied maximum", _max_to("every tie")),
    Mistake("last tie", "on a tie the first maximum in row-major order wins (argmax returns the first); you "
            "picked the last", _max_to("last")),
    Mistake("overlaps overwritten", "overlapping windows can pick the same unit: add their gradients (+=), "
            "do not overwrite", _overwritten(ref.max_pool2d_backward)),
    Mistake("stride defaults to 1", "stride=None means stride = kernel_size", _stride_one(ref.max_pool2d_backward)),
]

MISTAKES["avg_pool2d_backward"] = [
    Mistake("not divided", "each of the k*k units contributed 1/k^2 of the mean: dx = dout / k^2 for every unit",
            lambda dout, x, kernel_size, stride=None: ref.avg_pool2d_backward(dout, x, kernel_size, stride)
            * kernel_size ** 2),
    Mistake("divided by k", "divide by the window's size k*k, not by k",
            lambda dout, x, kernel_size, stride=None: ref.avg_pool2d_backward(dout, x, kernel_size, stride)
            * kernel_size),
    Mistake("overlaps overwritten", "overlapping windows both feed a unit: add their gradients (+=), do not "
            "overwrite", _overwritten(ref.avg_pool2d_backward)),
    Mistake("stride defaults to 1", "stride=None means stride = kernel_size", _stride_one(ref.avg_pool2d_backward)),
]


def _pool_case(gen, N, C, H, W, k, s, label, ties=True) -> Case:
    x = torch.randint(0, 3, (N, C, H, W), generator=gen).to(D) if ties else _randn(gen, N, C, H, W)
    s_eff = k if s is None else s
    dout = _randn(gen, N, C, (H - k) // s_eff + 1, (W - k) // s_eff + 1)
    return Case((dout, x, k) if s is None else (dout, x, k, s), label=label)


def _pool_cases(gen: torch.Generator, count: int) -> list[Case]:
    tie = torch.tensor([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 1.0, 3.0], [0.0, 5.0, 2.0, 2.0], [5.0, 1.0, 2.0, 2.0]]]],
                       dtype=D)
    cases = [Case((torch.tensor([[[[1.0, -2.0], [3.0, 4.0]]]], dtype=D), tie, 2),
                  label="ties: 3 3 in the first window, 5 5 and 2 2 2 in others"),
             _pool_case(gen, 1, 1, 5, 5, 3, 2, "overlapping windows, width 3 stride 2", ties=False),
             _pool_case(gen, 2, 3, 6, 4, 2, None, "stride None = kernel_size, batch 2, 3 channels", ties=False),
             _pool_case(gen, 1, 2, 7, 7, 3, 2, "overlapping windows with ties"),
             _pool_case(gen, 1, 1, 5, 6, 2, 2, "last row unused (5 rows, window 2)")]
    for _ in range(count):
        k, s = _int(gen, 1, 4), _int(gen, 1, 4)
        cases.append(_pool_case(gen, _int(gen, 1, 2), _int(gen, 1, 3), _int(gen, k, 9), _int(gen, k, 9), k,
                                None if _int(gen, 0, 3) == 0 else s, "random, integer values (ties)",
                                ties=bool(_int(gen, 0, 1))))
    return cases


for _name, _reference, _seed, _what in (
        ("max_pool2d_backward", ref.max_pool2d_backward, 43, [
            "the gradient goes to each window's winning unit only; ties go to the first maximum in row-major order",
            "overlapping windows (width 3, stride 2) add up; stride None means kernel_size; unused last row gets 0"]),
        ("avg_pool2d_backward", ref.avg_pool2d_backward, 43, [
            "every unit of a window gets dout / k^2", "overlapping windows add up; stride None means kernel_size"])):
    EXERCISES[_name] = core.Exercise(_name, _reference, _cases(_pool_cases, 2, 25), MISTAKES[_name],
                                     [_by_hand(_name, 1, extra=(_reference,))], _what, seed=_seed)


def max_pool2d_backward(student: Callable) -> None:
    """Self-check of ``max_pool2d_backward(dout, x, kernel_size, stride=None) -> dx``."""
    EXERCISES["max_pool2d_backward"].check(student)


def grade_max_pool2d_backward(student: Callable) -> None:
    """Hidden test: the same rules, 25 more seeded cases, half with ties."""
    EXERCISES["max_pool2d_backward"].grade(student)


def avg_pool2d_backward(student: Callable) -> None:
    """Self-check of ``avg_pool2d_backward(dout, x, kernel_size, stride=None) -> dx``."""
    EXERCISES["avg_pool2d_backward"].check(student)


def grade_avg_pool2d_backward(student: Callable) -> None:
    """Hidden test: the same rules, 25 more seeded cases with overlapping windows."""
    EXERCISES["avg_pool2d_backward"].grade(student)


# ============================================================================ the matrix C
def _conv_matrix(w, height, width):
    return ref.conv_matrix(w, height, width)


MISTAKES["conv_matrix"] = [
    Mistake("transposed", "C has one ROW per output and one COLUMN per input pixel: (H_out*W_out, H*W); yours is "
            "its transpose", lambda w, height, width: ref.conv_matrix(w, height, width).T),
    Mistake("flipped kernel", "deep-learning convolution is a cross-correlation: put w[m, n] (not the rotated "
            "kernel) at input (i + m, j + n)", lambda w, height, width: ref.conv_matrix(w.flip(0, 1), height, width)),
    Mistake("wrong row offset", "input pixel (r, c) is column r * width + c of C: step rows by the INPUT width",
            lambda w, height, width: _offset_by_output_width(w, height, width)),
    Mistake("float64 always", "C must have the dtype of w: create it with w.new_zeros(...) or dtype=w.dtype",
            lambda w, height, width: ref.conv_matrix(w.double(), height, width)),
    Mistake("float32 always", "C must have the dtype of w: create it with w.new_zeros(...) or dtype=w.dtype "
            "(torch.zeros makes float32 unless told otherwise)",
            lambda w, height, width: ref.conv_matrix(w.float(), height, width)),
]


def _offset_by_output_width(w, height, width):
    kh, kw = w.shape
    h_out, w_out = height - kh + 1, width - kw + 1
    C = w.new_zeros(h_out * w_out, height * width)
    for i in range(h_out):
        for j in range(w_out):
            for m in range(kh):
                for n in range(kw):
                    col = (i + m) * w_out + (j + n)
                    if col < height * width:
                        C[i * w_out + j, col] += w[m, n]
    return C


def _matrix_cases(gen: torch.Generator, count: int) -> list[Case]:
    cases = [Case((torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=D), 3, 3), label="seed 001: 2x2 kernel on a 3x3 input"),
             Case((_randn(gen, 2, 3), 4, 5), label="non-square kernel and input"),
             Case((_randn(gen, 3, 3), 3, 3), label="kernel as large as the input: one row"),
             Case((torch.randn(2, 2, generator=gen), 3, 4), label="a float32 kernel: C must be float32 too")]
    for _ in range(count):
        kh, kw = _int(gen, 1, 4), _int(gen, 1, 4)
        cases.append(Case((_randn(gen, kh, kw), _int(gen, kh, 6), _int(gen, kw, 6)), label="random"))
    return cases


EXERCISES["conv_matrix"] = core.Exercise(
    "conv_matrix", _conv_matrix, _cases(_matrix_cases, 2, 15), MISTAKES["conv_matrix"],
    [_by_hand("conv_matrix", 1, banned_builtins=(F.conv2d, F.unfold), extra=(ref.conv_matrix,),
              why="Place the kernel's weights into C yourself (loops are fine).")],
    ["seed 001: the 4x9 matrix of a 2x2 kernel on a 3x3 input",
     "non-square kernels and inputs; C @ x.flatten() equals F.conv2d(x, w)",
     "C has the dtype of w (float64 and float32 kernels)"],
    seed=44, compare=partial(core.close, dtype=True), course_versions=[ref.conv_matrix])


def conv_matrix(student: Callable) -> None:
    """Self-check of ``conv_matrix(w, height, width) -> C``."""
    EXERCISES["conv_matrix"].check(student)


def grade_conv_matrix(student: Callable) -> None:
    """Hidden test: the same rules, 15 more seeded kernels and sizes."""
    EXERCISES["conv_matrix"].grade(student)


# ==================================================================== col2im (fold)
def _col2im_variant(add=True, stride_used=True, crop="padding", kernel_order="mn", positions="row", dtype=None):
    """col2im by a loop over the windows, with one known mistake switched on (each keyword is one mistake)."""
    def col2im(cols, input_shape, kernel_size, stride=1, padding=0):
        (H, W), (kh, kw), s, p = input_shape, kernel_size, stride, padding
        h_out, w_out = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
        n, c = cols.shape[0], cols.shape[1] // (kh * kw)
        windows = (cols.reshape(n, c, kh, kw, -1) if kernel_order == "mn"            # rows (channel, m, n)
                   else cols.reshape(n, c, kw, kh, -1).transpose(2, 3))              # rows read as (channel, n, m)
        image = cols.new_zeros(n, c, H + 2 * p, W + 2 * p)
        for l in range(h_out * w_out):
            i, j = divmod(l, w_out) if positions == "row" else divmod(l, h_out)[::-1]
            top, left = (i * s, j * s) if stride_used else (i, j)
            where = (slice(None), slice(None), slice(top, top + kh), slice(left, left + kw))
            if add:
                image[where] += windows[..., l]
            else:
                image[where] = windows[..., l]
        out = {"padding": image[:, :, p:p + H, p:p + W], "none": image, "top-left": image[:, :, :H, :W]}[crop]
        return out if dtype is None else out.to(dtype)
    return col2im


MISTAKES["col2im"] = [
    Mistake("overwritten", "where windows overlap, a pixel gets the SUM of every window's value (+=): yours kept "
            "only the last window's (=)", _col2im_variant(add=False)),
    Mistake("padding not cropped", "the result has the input's shape (N, C, H, W): crop the padding off the padded "
            "image, [P:P + H, P:P + W]", _col2im_variant(crop="none")),
    Mistake("cropped at the wrong side", "the padding is on all four sides: crop [P:P + H, P:P + W], not [:H, :W]",
            _col2im_variant(crop="top-left")),
    Mistake("stride ignored", "window (i, j) starts at (i*S, j*S) of the padded image: its values go back there, "
            "not to (i, j)", _col2im_variant(stride_used=False)),
    Mistake("kernel order transposed", "row r of cols is kernel position (m, n) = divmod(r mod (kH*kW), kW), in "
            "row-major order as F.unfold lists it; yours read the kernel positions transposed (n, m)",
            _col2im_variant(kernel_order="nm")),
    Mistake("positions column-major", "column l of cols is window (i, j) = divmod(l, W_out), row-major as F.unfold "
            "lists them; yours took the windows in column-major order", _col2im_variant(positions="col")),
    Mistake("float64 always", "the result must have the dtype of cols: create it with cols.new_zeros(...) "
            "(torch.zeros makes the default dtype, float64 in this notebook)", _col2im_variant(dtype=D)),
]


def _col2im_case(gen, N, C, H, W, kernel, stride, padding, label="", dtype=D) -> Case:
    kh, kw = kernel
    h_out, w_out = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    cols = torch.randn(N, C * kh * kw, h_out * w_out, generator=gen, dtype=dtype)
    return Case((cols, (H, W), kernel, stride, padding),
                label=label or f"N={N}, C={C}, {H}x{W}, kernel {kh}x{kw}, stride={stride}, padding={padding}")


def _col2im_cases(gen: torch.Generator, count: int) -> list[Case]:
    cases = [Case((torch.ones(1, 4, 4, dtype=D), (3, 3), (2, 2), 1, 0),
                  label="all ones: each pixel counts the 2x2 windows that cover it"),
             _col2im_case(gen, 2, 2, 4, 4, (3, 3), 1, 0, "batch 2, 2 channels, 3x3 windows overlapping (stride 1)"),
             _col2im_case(gen, 1, 2, 5, 7, (2, 3), 1, 0, "non-square kernel and input"),
             _col2im_case(gen, 2, 1, 7, 7, (3, 3), 2, 0, "stride 2 < kernel 3: windows overlap by one row"),
             _col2im_case(gen, 1, 1, 7, 8, (2, 2), 3, 0, "stride 3 > kernel 2: gaps and unused last rows stay 0"),
             _col2im_case(gen, 1, 2, 5, 5, (3, 3), 2, 1, "padding 1: the result is cropped back to 5x5"),
             _col2im_case(gen, 1, 1, 4, 5, (3, 2), 1, 1, "float32 columns: the result is float32 too",
                          dtype=torch.float32)]
    for _ in range(count):
        kh, kw, s = _int(gen, 1, 4), _int(gen, 1, 4), _int(gen, 1, 3)
        p = _int(gen, 0, min(kh, kw) - 1)
        H, W = _int(gen, max(1, kh - 2 * p), 8), _int(gen, max(1, kw - 2 * p), 8)
        cases.append(_col2im_case(gen, _int(gen, 1, 2), _int(gen, 1, 3), H, W, (kh, kw), s, p))
    return cases


def _library_fold(op: str) -> bool:
    """ATen operators that would do col2im's work: col2im (F.fold, nn.Fold, unfold's backward), im2col
    (F.unfold) and every convolution (conv_transpose2d, torch.nn.grad's convolution_backward)."""
    return op in ("col2im", "im2col") or core.is_convolution_op(op)


def _col2im_from_scratch(student: Callable) -> None:
    for case in EXERCISES["col2im"].cases(None)[3:6]:       # stride 2, stride 3, padding 1
        core.assert_from_scratch("col2im", student, case, banned_builtins=(F.conv_transpose2d,),
                                 banned_functions=(F.fold, F.unfold, *_AUTOGRAD), banned_ops=_library_fold,
                                 why="Add the columns back into the image yourself (loops are fine).")


def _adjoint_cases() -> list[tuple[torch.Tensor, torch.Tensor, tuple, int, int]]:
    """(x, c, kernel, stride, padding): random images and random columns shaped like F.unfold(x)'s."""
    gen, found = torch.Generator().manual_seed(47), []
    for N, C, H, W, kernel, s, p in ((2, 2, 5, 4, (3, 2), 2, 1), (1, 3, 6, 6, (2, 2), 3, 0), (1, 1, 4, 6, (3, 3), 1, 2)):
        x = _randn(gen, N, C, H, W)
        found.append((x, torch.randn_like(F.unfold(x, kernel, stride=s, padding=p)), kernel, s, p))
    return found


def _adjoint_of_unfold(student: Callable) -> str:
    """<F.unfold(x), c> == <x, col2im(c)> for random x and c: col2im is im2col's adjoint."""
    for x, c, kernel, s, p in _adjoint_cases():
        case = Case((c, tuple(x.shape[2:]), kernel, s, p), label="random columns")
        back = core.call_student("col2im", student, case)
        problem = core.close(back, x, atol=float("inf"))        # the shape, type and device only
        if problem is not None:
            raise CheckFailure(f"col2im: for columns of F.unfold(x) with x {tuple(x.shape)}, kernel {kernel}, "
                               f"stride {s}, padding {p}: {problem}")
        unfolded, folded = float((F.unfold(x, kernel, stride=s, padding=p) * c).sum()), float((x * back).sum())
        if abs(unfolded - folded) > 1e-9 * (1 + abs(unfolded)):
            raise CheckFailure(f"col2im: likely mistake: a column's value was not added to exactly the pixel F.unfold "
                               f"read it from. The counterexample: <F.unfold(x), c> = {unfolded:.6g} but "
                               f"<x, col2im(c)> = {folded:.6g} for random x {tuple(x.shape)} and c "
                               f"{tuple(c.shape)}, kernel {kernel}, stride {s}, padding {p}")
    return "the adjoint identity <F.unfold(x), c> == <x, col2im(c)> on random x and c (3 shapes)"


EXERCISES["col2im"] = core.Exercise(
    "col2im", ref.col2im, _cases(_col2im_cases, 2, 12), MISTAKES["col2im"],
    [core.Rule("from scratch: no F.fold, nn.Fold, F.unfold, conv_transpose2d, torch.nn.grad or autograd",
               _col2im_from_scratch),
     core.Rule("col2im is the adjoint of im2col", _adjoint_of_unfold)],
    ["shapes (N, C*kH*kW, L) -> (N, C, H, W); all ones on 3x3 with a 2x2 kernel counts the windows per pixel",
     "overlapping windows add up (stride 1, stride 2 < kernel 3); stride 3 > kernel 2 leaves gaps at 0",
     "non-square kernels and inputs; padding 1 cropped off; float32 columns give float32"],
    seed=48, compare=partial(core.close, dtype=True))


def col2im(student: Callable) -> None:
    """Self-check of ``col2im(cols, input_shape, kernel_size, stride=1, padding=0) -> image``."""
    EXERCISES["col2im"].check(student)


def grade_col2im(student: Callable) -> None:
    """Hidden test: the same rules, 12 more seeded shapes, kernels, strides and paddings."""
    EXERCISES["col2im"].grade(student)


# ======================================================================= numerical gradient
def _numgrad_forward(f, x, eps=1e-6):
    grad = torch.zeros_like(x)
    base = float(f(x))
    for i in range(x.numel()):
        x.view(-1)[i] += eps
        grad.view(-1)[i] = (float(f(x)) - base) / eps
        x.view(-1)[i] -= eps
    return grad


MISTAKES["numerical_gradient"] = [
    Mistake("forward difference", "use the centred difference (f(x + eps) - f(x - eps)) / (2 eps); the one-sided "
            "(f(x + eps) - f(x)) / eps has an error O(eps), not O(eps^2)", _numgrad_forward),
    Mistake("divided by eps", "the two evaluations are 2 eps apart: divide by 2 * eps",
            lambda f, x, eps=1e-6: 2 * ref.numerical_gradient(f, x, eps)),
    Mistake("eps ignored", "the eps argument was ignored (a fixed step was used): step by the eps you are given",
            lambda f, x, eps=1e-6: ref.numerical_gradient(f, x, 1e-6)),
    Mistake("x not restored", "x was left changed after each entry's evaluations, so the later entries were "
            "measured at a moved point: put x[i] back to its old value after f(x + eps) and f(x - eps)",
            lambda f, x, eps=1e-6: _numgrad_not_restored(f, x, eps)),
]


def _numgrad_not_restored(f, x, eps):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        x.view(-1)[i] += eps
        plus = float(f(x))
        x.view(-1)[i] -= 2 * eps
        grad.view(-1)[i] = (plus - float(f(x))) / (2 * eps)
    return grad

_FUNCTIONS = {  # f, a readable name: smooth scalar functions with a strong curvature
    "sum(x**3)": lambda x: (x ** 3).sum(),
    "sum(sin(3x)) * x[0]": lambda x: torch.sin(3 * x).sum() * x.reshape(-1)[0],
    "logsumexp(2x)": lambda x: torch.logsumexp(2 * x.reshape(-1), 0),
}


class _Named:
    """A function that prints as its formula in a counterexample."""

    def __init__(self, name, fn):
        self.name, self.fn = name, fn

    def __call__(self, x):
        return self.fn(x)

    def __repr__(self):
        return f"f = {self.name}"

    def __deepcopy__(self, memo):
        return self


def _numgrad_cases(gen: torch.Generator, count: int) -> list[Case]:
    names = list(_FUNCTIONS)
    cases = [Case((_Named(names[0], _FUNCTIONS[names[0]]), torch.tensor([1.0, -2.0, 0.5], dtype=D), 1e-3),
                  label="eps = 1e-3, where a one-sided difference is visibly off")]
    for i in range(count):
        name = names[i % len(names)]
        shape = tuple(_int(gen, 1, 3) for _ in range(_int(gen, 1, 3)))
        cases.append(Case((_Named(name, _FUNCTIONS[name]), _randn(gen, *shape), 1e-3), label=f"x of shape {shape}"))
    return cases


def _numgrad_compare(got, expected):
    return core.close(got, expected, atol=1e-9, rtol=1e-7)


def _check_restores(student: Callable) -> None:
    x = torch.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=D)
    seen = []
    student(lambda t: seen.append(t.clone()) or (t ** 2).sum(), x, 1e-3)
    if not torch.equal(x, torch.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=D)):
        raise CheckFailure(f"numerical_gradient: x was changed: it is {core.describe(x)} after the call. Put each "
                           "entry back to its old value after evaluating f(x + eps) and f(x - eps).")
    shifted = sum(int((s - x).abs().gt(0).sum()) for s in seen)
    if shifted > len(seen):
        raise CheckFailure("numerical_gradient: some calls of f saw more than one entry moved: restore x[i] "
                           "before you perturb the next entry.")


EXERCISES["numerical_gradient"] = core.Exercise(
    "numerical_gradient", ref.numerical_gradient, _cases(_numgrad_cases, 3, 20), MISTAKES["numerical_gradient"],
    [_by_hand("numerical_gradient", extra=(ref.numerical_gradient,), why="Estimate the gradient from values of f only."),
     core.Rule("x is left unchanged, and f always sees one entry moved at a time", _check_restores)],
    ["centred differences on sum(x**3), sin and logsumexp functions at eps = 1e-3 (to 1e-7 relative)"],
    seed=45, compare=_numgrad_compare)


def numerical_gradient(student: Callable) -> None:
    """Self-check of ``numerical_gradient(f, x, eps=1e-6) -> grad``."""
    EXERCISES["numerical_gradient"].check(student)


def grade_numerical_gradient(student: Callable) -> None:
    """Hidden test: the same rules, 20 more seeded functions and shapes."""
    EXERCISES["numerical_gradient"].grade(student)


# ===================================================================== the autograd Function
def _through(function_class) -> Callable:
    """``(x, w, b, stride, padding) -> (y, dx, dw, db)`` computed by autograd through ``function_class.apply``."""
    def run(x, w, b, stride, padding, dout):
        x, w, b = (t.detach().clone().requires_grad_() for t in (x, w, b))
        try:
            y = function_class.apply(x, w, b, stride, padding)
            grads = torch.autograd.grad(y, (x, w, b), dout, allow_unused=True)
        except Exception as exc:  # noqa: BLE001 - say what to look at, then fail
            raise RuntimeError(f"{type(exc).__name__}: {exc} -- backward must return one gradient per input of "
                               "forward, (dx, dw, db, None, None), shaped like x, w and b, and use the stride and "
                               "padding that forward saved on ctx") from None
        return (y.detach(), *(torch.zeros_like(t) if g is None else g for g, t in zip(grads, (x, w, b))))
    return run


def _reference_through(x, w, b, stride, padding, dout):
    return _through(ref.Conv2dFunction)(x, w, b, stride, padding, dout)


def _function_cases(gen: torch.Generator, count: int) -> list[Case]:
    cases = []
    for conv_case in _conv_cases(gen, count):
        dout, x, w, stride, padding = conv_case.args
        cases.append(Case((x, w, _randn(gen, w.shape[0]), stride, padding, dout), label=conv_case.label))
    return cases


class _NoBiasGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride=1, padding=0):
        ctx.save_for_backward(x, w)
        ctx.stride, ctx.padding = stride, padding
        return F.conv2d(x, w, b, stride=stride, padding=padding)

    @staticmethod
    def backward(ctx, dout):
        x, w = ctx.saved_tensors
        dx, dw, _ = ref.conv2d_backward(dout, x, w, ctx.stride, ctx.padding)
        return dx, dw, None, None, None


MISTAKES["Conv2dFn"] = [  # Mistake.fn is a wrong Function class here
    Mistake("no bias gradient", "backward must return one gradient per input of forward, in order: "
            "(dx, dw, db, None, None); the bias gradient was missing", _NoBiasGradient),
]


class _Recorder:
    """Stands in for the student's ``conv2d_backward`` while ``Conv2dFn`` is checked: it computes the
    course's (correct) gradients, so a mistake in exercise 2 is not counted twice, and records every
    call, so the check can see that the backward really used ``conv2d_backward``."""

    def __init__(self):
        self.calls: list[tuple] = []

    def __call__(self, dout, x, w, stride=1, padding=0):
        self.calls.append((x.detach().clone(), w.detach().clone(), stride, padding))
        return ref.conv2d_backward(dout, x, w, stride, padding)


def derives_from(cls, course_class: type) -> bool:
    """Whether ``cls`` derives from ``course_class`` or from another loaded copy of it (a fresh import of helpers
    makes a second class object with the same source): compared by where the class was written, not identity.
    (Candidate for core, next to assert_not_the_course_version.)"""
    where = (course_class.__qualname__, os.path.realpath(inspect.getfile(course_class)))
    found = []
    for base in getattr(cls, "__mro__", ()):
        try:
            found.append((base.__qualname__, os.path.realpath(inspect.getfile(base))))
        except (TypeError, OSError):   # builtins and classes defined in a notebook have no file
            continue
    return where in found


def _is_function_class(student_class) -> None:
    if not (isinstance(student_class, type) and issubclass(student_class, torch.autograd.Function)):
        raise CheckFailure(f"Conv2dFn: expected a subclass of torch.autograd.Function, got {student_class!r}")
    if derives_from(student_class, ref.Conv2dFunction):
        raise CheckFailure("Conv2dFn: your class derives from the course's helpers.backprop.Conv2dFunction; that is "
                           "the answer, not yours. Subclass torch.autograd.Function and write forward and backward.")


def _uses_conv2d_backward(student_class) -> str:
    """The backward must call the student's ``conv2d_backward`` with the tensors forward saved."""
    recorder = _Recorder()
    gen = torch.Generator().manual_seed(8)
    x, w, b = (t.requires_grad_() for t in (_randn(gen, 2, 2, 6, 5), _randn(gen, 3, 2, 3, 2), _randn(gen, 3)))
    with core.swapped_globals(student_class.backward, conv2d_backward=recorder):
        try:
            student_class.apply(x, w, b, 2, 1).sum().backward()
        except Exception as exc:  # noqa: BLE001 - a crash is reported as what it is
            raise CheckFailure(f"Conv2dFn: forward and backward with stride 2, padding 1 raised "
                               f"{type(exc).__name__}: {exc}") from None
    if not recorder.calls:
        raise CheckFailure("Conv2dFn: backward never called your conv2d_backward: the exercise asks for the "
                           "gradients computed with it, dx, dw, db = conv2d_backward(dout, x, w, ctx.stride, "
                           "ctx.padding), not with autograd or torch.nn.grad")
    saved_x, saved_w, stride, padding = recorder.calls[-1]
    if not (torch.equal(saved_x, x.detach()) and torch.equal(saved_w, w.detach()) and (stride, padding) == (2, 1)):
        raise CheckFailure(f"Conv2dFn: backward called conv2d_backward with other inputs than forward's: pass the "
                           f"saved x and w and ctx.stride, ctx.padding (got stride={stride!r}, padding={padding!r} "
                           "for a forward with stride 2, padding 1)")
    return "backward calls your conv2d_backward with the saved x, w and forward's stride and padding"


def _check_function(student_class, cases) -> None:
    _is_function_class(student_class)
    versions = [ref.Conv2dFunction.forward, ref.Conv2dFunction.backward]
    with core.swapped_globals(student_class.backward, conv2d_backward=ref.conv2d_backward):
        mistakes = [Mistake(m.name, m.explain, _through(m.fn)) for m in MISTAKES["Conv2dFn"]]
        core.run_cases("Conv2dFn", _through(student_class), _reference_through, cases, mistakes)
        core.assert_not_the_course_version("Conv2dFn", _through(student_class), cases[0], versions)
        gen = torch.Generator().manual_seed(7)
        x, w, b = _randn(gen, 1, 2, 5, 5), _randn(gen, 2, 2, 3, 3), _randn(gen, 2)
        inputs = tuple(t.requires_grad_() for t in (x, w, b))
        try:
            ok = torch.autograd.gradcheck(lambda *t: student_class.apply(*t, 2, 1), inputs, raise_exception=False)
        except Exception as exc:  # noqa: BLE001 - any crash of the student's Function is a failure to report
            raise CheckFailure(f"Conv2dFn: torch.autograd.gradcheck crashed: {type(exc).__name__}: {exc}") from None
        if not ok:
            raise CheckFailure("Conv2dFn: torch.autograd.gradcheck (float64, stride 2, padding 1) disagrees with "
                               "your backward")
        y = student_class.apply(x, w, b, 1, 0)
        if type(y.grad_fn).__name__ != f"{student_class.__name__}Backward":
            raise CheckFailure("Conv2dFn: the output's grad_fn is not your Function's backward: return the "
                               "result of the forward computation, not a tensor built some other way")
    return _uses_conv2d_backward(student_class)


def Conv2dFn(student_class) -> None:  # noqa: N802 - named after the exercise's class
    """Self-check of the class ``Conv2dFn(torch.autograd.Function)``."""
    used = _check_function(student_class, _function_cases(torch.Generator().manual_seed(0), 2))
    core.report_pass("Conv2dFn", [
        "forward equals F.conv2d; dx, dw, db through autograd equal the reference gradients "
        "(checked with the reference conv2d_backward, so a mistake there is not counted twice)",
        "torch.autograd.gradcheck passes in float64 with stride 2 and padding 1", used])


def grade_Conv2dFn(student_class) -> None:  # noqa: N802
    """Hidden test: the same rules, the self-check's cases and 10 more seeded shapes, strides and paddings."""
    core.assert_untampered()
    _check_function(student_class, _function_cases(torch.Generator().manual_seed(0), 2)
                    + _function_cases(torch.Generator().manual_seed(46), 10))
