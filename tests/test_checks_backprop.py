"""The notebook 04 checks (helpers.checks.backprop): correct answers pass, every known mistake is
rejected with its explanation, autograd is caught where a gradient must be computed by hand."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import helpers.checks.backprop as checks_backprop
from check_contract import assert_correct_answer_passes, assert_mistake_rejected, mistakes_of
from helpers import backprop
from helpers.checks.core import CheckFailure
from nbgrading import solution_sources


def _instructor_answers() -> dict:
    """The solution notebook's answers, run as a student's cells would be."""
    namespace = {"torch": torch, "F": F}
    for source in solution_sources("04_conv_backprop").values():
        exec(source, namespace)  # noqa: S102 - our own solution cells
    return namespace


ANSWERS = _instructor_answers()
EXERCISES = sorted(checks_backprop.MISTAKES)


@pytest.mark.parametrize("name", EXERCISES)
def test_self_check_and_grading_pass_the_instructor_answer(name, capsys):
    assert_correct_answer_passes(checks_backprop, name, ANSWERS[name], capsys)


@pytest.mark.parametrize("name", ["conv2d_backward", "max_pool2d_backward", "avg_pool2d_backward", "numerical_gradient"])
def test_grading_refuses_the_reference_as_an_answer(name):
    with pytest.raises(CheckFailure, match="from scratch"):
        getattr(checks_backprop, f"grade_{name}")(getattr(backprop, name))


@pytest.mark.parametrize("name,mistake", mistakes_of(checks_backprop),
                         ids=[f"{n}-{m.name}" for n, m in mistakes_of(checks_backprop)])
def test_every_known_mistake_is_rejected_and_explained(name, mistake):
    assert_mistake_rejected(checks_backprop, name, mistake)


def test_grading_rejects_autograd_where_the_gradient_is_by_hand():
    def with_autograd(dout, x):
        x = x.clone().requires_grad_()
        return torch.autograd.grad(F.relu(x), x, dout)[0]

    with pytest.raises(CheckFailure, match="from scratch"):
        checks_backprop.grade_relu_backward(with_autograd)


def test_function_check_uses_the_reference_conv2d_backward_and_rejects_a_non_function():
    namespace = _instructor_answers()
    namespace["conv2d_backward"] = None          # a student whose exercise 2 is broken
    checks_backprop.grade_Conv2dFn(namespace["Conv2dFn"])   # still passes: the check swaps in the reference
    assert namespace["conv2d_backward"] is None
    with pytest.raises(CheckFailure, match="subclass of torch.autograd.Function"):
        checks_backprop.grade_Conv2dFn(lambda *a: None)
