"""The notebook 02 checks (helpers.checks.conv2d): the references pass, every known mistake is
rejected with its explanation, and the structural checks catch library calls and loops."""

from __future__ import annotations

import pytest
import torch

import helpers.checks.conv2d as checks_conv2d
from check_contract import assert_correct_answer_passes, assert_mistake_rejected, mistakes_of
from helpers import conv, features
from helpers.checks import core
from helpers.checks.core import CheckFailure

def _conv_ref(x, w, b=None, stride=1, padding=0, dilation=1):
    return conv.conv2d_unfold(x, w, b, stride, padding, dilation)


def _out_size(x, w, stride, padding, dilation) -> tuple[int, int]:
    return tuple(conv.output_size(L, k, padding, stride, dilation) for L, k in zip(x.shape[2:], w.shape[2:]))


def _loop_conv(x, w, b, stride, padding, dilation, tap_step):
    """Loops over the output positions; taps ``tap_step`` pixels apart (``dilation`` when right)."""
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    xp = torch.nn.functional.pad(x, (padding,) * 4)
    h_out, w_out = _out_size(x, w, stride, padding, dilation)
    y = x.new_zeros(n, c_out, h_out, w_out)
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * stride:i * stride + tap_step * (kh - 1) + 1:tap_step,
                        j * stride:j * stride + tap_step * (kw - 1) + 1:tap_step]
            y[:, :, i, j] = (window[:, None] * w[None]).sum(dim=(2, 3, 4))
    return y if b is None else y + b[:, None, None]


def _own_naive(x, w, b=None, stride=1, padding=0, dilation=1):
    """A student's loop answer."""
    return _loop_conv(x, w, b, stride, padding, dilation, dilation)


def _own_unfold(x, w, b=None, stride=1, padding=0, dilation=1):
    """A student's im2col answer: F.unfold and one matmul, no library convolution."""
    n, _, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    h_out, w_out = _out_size(x, w, stride, padding, dilation)
    cols = torch.nn.functional.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    y = w.reshape(c_out, -1) @ cols
    y = y if b is None else y + b[:, None]
    return y.reshape(n, c_out, h_out, w_out)


def _own_kernels():
    east = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]])
    ring = [(1, 2), (0, 2), (0, 1), (0, 0), (1, 0), (2, 0), (2, 1), (2, 2)]
    kernels = torch.zeros(8, 3, 3)
    for i in range(8):
        for q, (r, c) in enumerate(ring):
            kernels[i, r, c] = east[ring[(q - i) % 8]]
    return kernels


def _own_maps(x, kernels):
    return torch.nn.functional.conv2d(x if x.dim() == 4 else x[:, None], kernels[:, None], padding=1).relu()


def _own_patches(x, kernels, patch=8, stride=None):
    return _own_patches_from(_own_maps(x, kernels), patch, stride)


REFERENCES = {
    "conv_output_size": lambda L, W, P=0, S=1, D=1: (L + 2 * P - D * (W - 1) - 1) // S + 1,
    "conv_params": lambda w_k, h_k, d_in, d_out, bias=True, groups=1: w_k * h_k * (d_in // groups) * d_out + d_out * bias,
    "conv2d_naive": _own_naive,
    "conv2d_unfold": _own_unfold,
    "directional_kernels": _own_kernels,
    "edge_histogram": lambda x, kernels: _own_maps(x, kernels).sum(dim=(2, 3)),
    "patch_features": _own_patches,
}
COURSE_VERSIONS = {
    "conv_output_size": lambda L, W, P=0, S=1, D=1: conv.output_size(L, W, P, S, D),
    "conv_params": lambda *args: conv.conv_params(*args),
    "conv2d_naive": lambda *args: conv.conv2d_naive(*args),
    "conv2d_unfold": lambda *args: conv.conv2d_unfold(*args),
    "directional_kernels": lambda: features.directional_kernels(),
    "edge_histogram": lambda x, kernels: features.edge_histogram(x, kernels),
    "patch_features": lambda *args: features.patch_features(*args),
}


@pytest.mark.parametrize("check", ["", "grade_"])
@pytest.mark.parametrize("name", sorted(COURSE_VERSIONS))
def test_the_course_version_is_never_an_answer(name, check):
    with pytest.raises(CheckFailure, match="course's own|from scratch"):
        getattr(checks_conv2d, f"{check}{name}")(COURSE_VERSIONS[name])


@pytest.mark.parametrize("check", ["conv2d_naive", "conv2d_unfold"])
def test_the_fixed_cases_reveal_a_window_that_ignores_the_dilation(check):
    """Issue 15: the old "dilation 2" case gave the same output with and without dilation (self-check ✓, grade 0)."""
    def no_dilation(x, w, b=None, stride=1, padding=0, dilation=1):
        return _loop_conv(x, w, b, stride, padding, dilation, 1)

    with pytest.raises(CheckFailure, match="dilation was ignored"):
        getattr(checks_conv2d, check)(no_dilation)


def test_conv2d_naive_may_not_use_f_unfold_but_conv2d_unfold_may():
    checks_conv2d.conv2d_unfold(_own_unfold)
    with pytest.raises(CheckFailure, match="aten.im2col"):
        checks_conv2d.conv2d_naive(_own_unfold)


@pytest.mark.parametrize("check", ["conv2d_naive", "conv2d_unfold"])
def test_self_check_rejects_library_convolution_however_called(check):
    routes = [lambda x, w, b=None, stride=1, padding=0, dilation=1: torch.ops.aten.convolution(
                  x, w, b, [stride] * 2, [padding] * 2, [dilation] * 2, False, [0, 0], 1),
              lambda x, w, b=None, stride=1, padding=0, dilation=1: torch.nn.functional.conv2d(
                  x, w, b, stride, padding, dilation)]
    for route in routes:
        with pytest.raises(CheckFailure, match="from scratch"):
            getattr(checks_conv2d, check)(route)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_self_check_and_grading_pass_the_reference(name, capsys):
    assert_correct_answer_passes(checks_conv2d, name, REFERENCES[name], capsys)


@pytest.mark.parametrize("name,mistake", mistakes_of(checks_conv2d), ids=[f"{n}-{m.name}" for n, m in mistakes_of(checks_conv2d)])
def test_every_known_mistake_is_rejected_and_explained(name, mistake):
    assert_mistake_rejected(checks_conv2d, name, mistake)


def test_grading_rejects_a_library_convolution_in_the_from_scratch_exercises():
    def calls_library(x, w, b=None, stride=1, padding=0, dilation=1):
        return torch.nn.functional.conv2d(x, w, b, stride, padding, dilation)

    for name in ("conv2d_naive", "conv2d_unfold"):
        with pytest.raises(CheckFailure, match="from scratch"):
            getattr(checks_conv2d, f"grade_{name}")(calls_library)
    with pytest.raises(CheckFailure, match="course's own"):
        checks_conv2d.grade_conv2d_naive(_conv_ref)   # the course's own reference is banned too


def test_grading_rejects_a_python_loop_over_positions_in_the_unfold_exercise():
    def looped(x, w, b=None, stride=1, padding=0, dilation=1):
        n, _, h, wd = x.shape
        c_out, _, kh, kw = w.shape
        h_out, w_out = _out_size(x, w, stride, padding, dilation)
        cols = torch.nn.functional.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
        y = torch.stack([cols[..., k] @ w.reshape(c_out, -1).T for k in range(cols.shape[-1])], -1)
        return (y if b is None else y + b[:, None]).reshape(n, c_out, h_out, w_out)

    assert core.run_cases("conv2d_unfold", looped, _conv_ref, checks_conv2d._conv_cases()) == 7  # right values ...
    with pytest.raises(CheckFailure, match="not vectorised"):  # ... but a loop
        checks_conv2d.grade_conv2d_unfold(looped)


def test_the_shape_classifier_threshold_separates_patch_from_global_features():
    accuracy = checks_conv2d.shape_classifier(lambda x: features.patch_features(x, patch=8, stride=4).sqrt())
    assert accuracy >= checks_conv2d.THRESHOLD
    with pytest.raises(CheckFailure, match="below 90%"):
        checks_conv2d.shape_classifier(lambda x: features.edge_histogram(x))
    with pytest.raises(CheckFailure, match=r"\(N, F\)"):
        checks_conv2d.shape_classifier(lambda x: features.edge_histogram(x)[0])


def test_grading_refuses_when_comparisons_are_replaced(monkeypatch):
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    with pytest.raises(CheckFailure, match="torch.allclose"):
        checks_conv2d.grade_conv_output_size(conv.output_size)


def test_a_loop_made_only_of_tensor_operators_is_still_seen():
    """``cols[..., k] @ flat`` makes no function call a profiler sees; the torch function mode does."""
    def operators_only(x, w, b=None, stride=1, padding=0, dilation=1):
        n, _, h, wd = x.shape
        c_out, _, kh, kw = w.shape
        h_out, w_out = _out_size(x, w, stride, padding, dilation)
        cols = torch.nn.functional.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
        flat_t = w.reshape(c_out, -1).T
        y = torch.stack([cols[..., k] @ flat_t for k in range(cols.shape[-1])], dim=-1)
        return (y if b is None else y + b[:, None]).reshape(n, c_out, h_out, w_out)

    assert core.run_cases("conv2d_unfold", operators_only, _conv_ref, checks_conv2d._conv_cases()) == 7  # right values ...
    with pytest.raises(CheckFailure, match="not vectorised"):  # ... but a loop over positions
        checks_conv2d.conv2d_unfold(operators_only)


@pytest.mark.parametrize("check", ["", "grade_"])
@pytest.mark.parametrize("name", ["edge_histogram", "patch_features"])
def test_the_course_helper_behind_edge_maps_is_never_an_answer(name, check):
    """``features._maps`` (edge_maps's body) is the course's computation of both feature exercises."""
    answers = {"edge_histogram": lambda x, kernels: features._maps("x", x, kernels).sum(dim=(2, 3)),
               "patch_features": lambda x, kernels, patch=8, stride=None: _own_patches_from(
                   features._maps("x", x, kernels), patch, stride)}
    with pytest.raises(CheckFailure, match="course's own"):
        getattr(checks_conv2d, f"{check}{name}")(answers[name])


def _own_patches_from(maps, patch, stride):
    step = stride or patch
    sums = maps.unfold(2, patch, step).unfold(3, patch, step).sum(dim=(-2, -1))
    return sums.permute(0, 2, 3, 1).reshape(maps.shape[0], -1)
