"""The notebook 02 checks (helpers.checks.conv2d): the references pass, every known mistake is
rejected with its explanation, and the structural checks catch library calls and loops."""

from __future__ import annotations

import pytest
import torch

import helpers.checks.conv2d as checks_conv2d
from check_contract import assert_correct_answer_passes, assert_mistake_rejected, mistakes_of
from helpers import conv, features
from helpers.checks.core import CheckFailure

def _conv_ref(x, w, b=None, stride=1, padding=0, dilation=1):
    return conv.conv2d_unfold(x, w, b, stride, padding, dilation)


def _out_size(x, w, stride, padding, dilation) -> tuple[int, int]:
    return tuple(conv.output_size(L, k, padding, stride, dilation) for L, k in zip(x.shape[2:], w.shape[2:]))


def _own_naive(x, w, b=None, stride=1, padding=0, dilation=1):
    """A student's loop answer."""
    n, c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    xp = torch.nn.functional.pad(x, (padding,) * 4)
    h_out, w_out = _out_size(x, w, stride, padding, dilation)
    y = x.new_zeros(n, c_out, h_out, w_out)
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * stride:i * stride + dilation * (kh - 1) + 1:dilation,
                        j * stride:j * stride + dilation * (kw - 1) + 1:dilation]
            y[:, :, i, j] = (window[:, None] * w[None]).sum(dim=(2, 3, 4))
    return y if b is None else y + b[:, None, None]


def _own_unfold(x, w, b=None, stride=1, padding=0, dilation=1):
    """A student's im2col answer: F.unfold and one matmul, no library convolution."""
    n, _, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    h_out, w_out = _out_size(x, w, stride, padding, dilation)
    cols = torch.nn.functional.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    y = w.reshape(c_out, -1) @ cols
    y = y if b is None else y + b[:, None]
    return y.reshape(n, c_out, h_out, w_out)


REFERENCES = {
    "conv_output_size": conv.output_size,
    "conv_params": conv.conv_params,
    "conv2d_naive": _own_naive,
    "conv2d_unfold": _own_unfold,
    "directional_kernels": lambda: features.directional_kernels(),
    "edge_histogram": features.edge_histogram,
    "patch_features": features.patch_features,
}


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
    with pytest.raises(CheckFailure, match="from scratch"):
        checks_conv2d.grade_conv2d_naive(_conv_ref)   # the course's own reference is banned too


def test_grading_rejects_a_python_loop_over_positions_in_the_unfold_exercise():
    def looped(x, w, b=None, stride=1, padding=0, dilation=1):
        n, _, h, wd = x.shape
        c_out, _, kh, kw = w.shape
        h_out, w_out = _out_size(x, w, stride, padding, dilation)
        cols = torch.nn.functional.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
        y = torch.stack([cols[..., k] @ w.reshape(c_out, -1).T for k in range(cols.shape[-1])], -1)
        return (y if b is None else y + b[:, None]).reshape(n, c_out, h_out, w_out)

    checks_conv2d.conv2d_naive(looped)                       # right values ...
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

    checks_conv2d.conv2d_naive(operators_only)                 # right values ...
    with pytest.raises(CheckFailure, match="not vectorised"):  # ... but a loop over positions
        checks_conv2d.conv2d_unfold(operators_only)
