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


@pytest.mark.parametrize("name", ["relu_backward", "conv2d_backward", "max_pool2d_backward", "avg_pool2d_backward",
                                  "conv_matrix", "numerical_gradient", "col2im"])
@pytest.mark.parametrize("check", ["", "grade_"])
def test_the_self_check_and_grading_refuse_the_reference_as_an_answer(name, check):
    reference = getattr(backprop, name)
    with pytest.raises(CheckFailure, match="course's own|from scratch"):
        getattr(checks_backprop, f"{check}{name}")(lambda *args: reference(*args))


@pytest.mark.parametrize("check", ["Conv2dFn", "grade_Conv2dFn"])
def test_conv2dfn_must_not_derive_from_the_course_function(check):
    class Mine(backprop.Conv2dFunction):
        pass

    with pytest.raises(CheckFailure, match="course's"):
        getattr(checks_backprop, check)(Mine)


@pytest.mark.parametrize("check", ["Conv2dFn", "grade_Conv2dFn"])
def test_conv2dfn_must_use_the_students_conv2d_backward(check):
    """A backward computed with torch.nn.grad is correct but is not what the exercise asks (issue 15)."""
    class WithTorchGrad(checks_backprop._NoBiasGradient):     # its forward, another backward
        @staticmethod
        def backward(ctx, dout):
            x, w = ctx.saved_tensors
            dx = torch.nn.grad.conv2d_input(x.shape, w, dout, ctx.stride, ctx.padding)
            dw = torch.nn.grad.conv2d_weight(x, w.shape, dout, ctx.stride, ctx.padding)
            return dx, dw, dout.sum(dim=(0, 2, 3)), None, None

    with pytest.raises(CheckFailure, match="never called your conv2d_backward"):
        getattr(checks_backprop, check)(WithTorchGrad)


@pytest.mark.parametrize("check", ["conv_matrix", "grade_conv_matrix"])
def test_conv_matrix_keeps_the_dtype_of_w(check):
    def always_float32(w, height, width):
        return ANSWERS["conv_matrix"](w, height, width).float()

    with pytest.raises(CheckFailure, match="dtype"):
        getattr(checks_backprop, check)(always_float32)


def _fold_by_autograd(cols, input_shape, kernel_size, stride=1, padding=0):
    """col2im as the gradient of <F.unfold(x), cols> with respect to x (autograd runs im2col's backward)."""
    x = cols.new_zeros(cols.shape[0], cols.shape[1] // (kernel_size[0] * kernel_size[1]), *input_shape)
    x.requires_grad_()
    return torch.autograd.grad((F.unfold(x, kernel_size, stride=stride, padding=padding) * cols).sum(), x)[0]


@pytest.mark.parametrize("check", ["col2im", "grade_col2im"])
@pytest.mark.parametrize("library", [
    lambda c, i, k, stride=1, padding=0: F.fold(c, i, k, stride=stride, padding=padding),
    lambda c, i, k, stride=1, padding=0: torch.nn.Fold(i, k, stride=stride, padding=padding)(c),
    lambda c, i, k, stride=1, padding=0: torch.ops.aten.col2im(c, list(i), list(k), [1, 1], [padding] * 2, [stride] * 2),
    _fold_by_autograd,
], ids=["F.fold", "nn.Fold", "aten.col2im", "autograd of unfold"])
def test_col2im_refuses_every_library_fold(check, library):
    with pytest.raises(CheckFailure, match="from scratch"):
        getattr(checks_backprop, check)(library)


@pytest.mark.parametrize("seed", range(20))
def test_the_col2im_reference_equals_f_fold_and_is_the_adjoint_of_unfold(seed, device):
    gen = torch.Generator().manual_seed(seed)
    kh, kw, s = (int(torch.randint(1, 5, (1,), generator=gen)) for _ in range(3))
    p = int(torch.randint(0, min(kh, kw), (1,), generator=gen))
    H, W = (int(torch.randint(max(1, k - 2 * p), 9, (1,), generator=gen)) for k in (kh, kw))
    dtype = torch.float32 if device.type == "mps" else torch.float64
    x = torch.randn(2, 3, H, W, generator=gen, dtype=dtype).to(device)
    cols = torch.randn_like(F.unfold(x, (kh, kw), stride=s, padding=p))
    folded = backprop.col2im(cols, (H, W), (kh, kw), stride=s, padding=p)
    assert folded.device == cols.device and folded.dtype == cols.dtype
    torch.testing.assert_close(folded, F.fold(cols, (H, W), (kh, kw), stride=s, padding=p))
    torch.testing.assert_close((F.unfold(x, (kh, kw), stride=s, padding=p) * cols).sum(), (x * folded).sum())


def test_the_col2im_reference_refuses_columns_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"cols \(1, 4, 5\) must be \(N, C \* 4, 4\)"):
        backprop.col2im(torch.zeros(1, 4, 5), (3, 3), (2, 2))


def test_the_col2im_adjoint_rule_names_a_column_added_to_the_wrong_pixel():
    with pytest.raises(CheckFailure, match="not added to exactly the pixel F.unfold read it from"):
        checks_backprop._adjoint_of_unfold(checks_backprop._col2im_variant(stride_used=False))
    with pytest.raises(CheckFailure, match="wrong shape"):
        checks_backprop._adjoint_of_unfold(checks_backprop._col2im_variant(crop="none"))


def test_a_numerical_gradient_that_ignores_eps_is_named():
    def fixed_step(f, x, eps=1e-6):
        return ANSWERS["numerical_gradient"](f, x)

    with pytest.raises(CheckFailure, match="eps argument was ignored"):
        checks_backprop.numerical_gradient(fixed_step)


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
