"""The notebook 03 checks (helpers.checks.pooling): references pass, every known mistake is
rejected with its explanation, library pooling and Python loops are caught."""

from __future__ import annotations

import pytest
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


REFERENCES = {
    "pool_output_size": pooling.pool_output_size,
    "pool2d_naive": _own_pool_loops,
    "pool2d": _own_pool_unfold,
    "global_avg_pool": lambda x: x.mean(dim=(2, 3)),
    "receptive_field": pooling.receptive_field,
    "shift_change": checks_pooling._shift_change,
}


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
