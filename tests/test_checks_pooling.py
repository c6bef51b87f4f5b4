"""The notebook 03 checks (helpers.checks.pooling): references pass, every known mistake is
rejected with its explanation, library pooling and Python loops are caught."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import helpers.checks.pooling as checks_pooling
from check_contract import assert_correct_answer_passes, assert_mistake_rejected, mistakes_of
from helpers import pooling
from helpers.checks.core import CheckFailure


def _own_pool_loops(x, kernel_size, stride=None, padding=0, mode="max"):
    """A student's loop answer (no library pooling)."""
    if mode not in ("max", "avg"):
        raise ValueError(f"unknown mode {mode!r}")
    s = stride or kernel_size
    fill = float("-inf") if mode == "max" else 0.0
    xp = F.pad(x, (padding,) * 4, value=fill)
    h_out = (x.shape[2] + 2 * padding - kernel_size) // s + 1
    w_out = (x.shape[3] + 2 * padding - kernel_size) // s + 1
    y = x.new_zeros(x.shape[0], x.shape[1], h_out, w_out)
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * s:i * s + kernel_size, j * s:j * s + kernel_size]
            y[:, :, i, j] = window.amax(dim=(2, 3)) if mode == "max" else window.mean(dim=(2, 3))
    return y


def _own_pool_unfold(x, kernel_size, stride=None, padding=0, mode="max"):
    if mode not in ("max", "avg"):
        raise ValueError(f"unknown mode {mode!r}")
    s = stride or kernel_size
    xp = F.pad(x, (padding,) * 4, value=float("-inf") if mode == "max" else 0.0)
    windows = xp.unfold(2, kernel_size, s).unfold(3, kernel_size, s)
    return windows.amax(dim=(-2, -1)) if mode == "max" else windows.mean(dim=(-2, -1))


def _own_receptive_field(layers):
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r


def _own_shift_change(x, feature_fn, shift):
    before = feature_fn(x)
    after = feature_fn(torch.roll(x, shifts=tuple(shift), dims=(2, 3)))
    return (after - before).flatten(1).norm(dim=1) / before.flatten(1).norm(dim=1)


REFERENCES = {
    "pool_output_size": lambda L, W, S=None, P=0: (L + 2 * P - W) // (W if S is None else S) + 1,
    "pool2d_naive": _own_pool_loops,
    "pool2d": _own_pool_unfold,
    "global_avg_pool": lambda x: x.mean(dim=(2, 3)),
    "receptive_field": _own_receptive_field,
    "shift_change": _own_shift_change,
}
COURSE_VERSIONS = {
    "pool_output_size": lambda *args: pooling.pool_output_size(*args),
    "pool2d_naive": lambda *args, **kwargs: pooling.pool2d_naive(*args, **kwargs),
    "pool2d": lambda *args, **kwargs: pooling.pool2d(*args, **kwargs),
    "global_avg_pool": lambda x: pooling.global_avg_pool(x),
    "receptive_field": lambda layers: pooling.receptive_field(layers),
}


@pytest.mark.parametrize("check", ["", "grade_"])
@pytest.mark.parametrize("name", sorted(COURSE_VERSIONS))
def test_the_course_version_is_never_an_answer(name, check):
    with pytest.raises(CheckFailure, match="course's own|from scratch"):
        getattr(checks_pooling, f"{check}{name}")(COURSE_VERSIONS[name])


@pytest.mark.parametrize("check", ["pool2d_naive", "grade_pool2d_naive", "pool2d", "grade_pool2d"])
def test_pooling_keeps_the_dtype_of_x(check):
    answer = REFERENCES[check.replace("grade_", "")]
    with pytest.raises(CheckFailure, match="wrong dtype"):
        getattr(checks_pooling, check)(lambda *args, **kwargs: answer(*args, **kwargs).double())


AVG_VIA_ATEN = [
    lambda x, k, stride=None, padding=0: torch.ops.aten.avg_pool2d(x, [k, k], [stride or k] * 2, [padding] * 2),
    lambda x, k, stride=None, padding=0: torch.nn.AvgPool2d(k, stride, padding)(x),
    lambda x, k, stride=None, padding=0: torch.ops.aten.max_pool2d(x, [k, k], [stride or k] * 2, [padding] * 2),
]


@pytest.mark.parametrize("route", range(len(AVG_VIA_ATEN)))
@pytest.mark.parametrize("check", ["pool2d_naive", "pool2d"])
def test_self_check_sees_library_pooling_however_it_is_called(check, route):
    library = AVG_VIA_ATEN[route]

    def student(x, kernel_size, stride=None, padding=0, mode="max"):
        if mode not in ("max", "avg"):
            raise ValueError(mode)
        own = _own_pool_unfold(x, kernel_size, stride, padding, mode)
        library(x, kernel_size, stride, padding)  # computed and thrown away: still a library call
        return own

    with pytest.raises(CheckFailure, match="from scratch"):
        getattr(checks_pooling, check)(student)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_self_check_and_grading_pass_the_reference(name, capsys):
    assert_correct_answer_passes(checks_pooling, name, REFERENCES[name], capsys)


@pytest.mark.parametrize("name,mistake", mistakes_of(checks_pooling), ids=[f"{n}-{m.name}" for n, m in mistakes_of(checks_pooling)])
def test_every_known_mistake_is_rejected_and_explained(name, mistake):
    assert_mistake_rejected(checks_pooling, name, mistake)


@pytest.mark.parametrize("name", ["pool2d_naive", "pool2d"])
def test_grading_rejects_library_pooling(name):
    def library(x, kernel_size, stride=None, padding=0, mode="max"):
        if mode not in ("max", "avg"):
            raise ValueError(f"unknown mode {mode!r}")
        pool = F.max_pool2d if mode == "max" else F.avg_pool2d
        return pool(x, kernel_size, stride or kernel_size, padding)

    with pytest.raises(CheckFailure, match="from scratch"):
        getattr(checks_pooling, f"grade_{name}")(library)


def test_grading_rejects_a_python_loop_in_the_vectorised_exercise():
    with pytest.raises(CheckFailure, match="not vectorised"):
        checks_pooling.grade_pool2d(_own_pool_loops)
