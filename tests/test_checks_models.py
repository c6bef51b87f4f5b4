"""The notebook 06 checks (helpers.checks.models): references pass, every known mistake is
rejected with its explanation, crashes come with a hint, the seed facts are enforced."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import helpers.checks.models as checks_models
from check_contract import assert_correct_answer_passes, assert_mistake_rejected, mistakes_of
from helpers import inspect_models, models
from helpers.checks.core import CheckFailure
from nbgrading import solution_sources


def _instructor_answers() -> dict:
    """The solution notebook's answers, defined as a student's cells would define them."""
    namespace = {"torch": torch, "nn": nn, "F": nn.functional}
    for source in solution_sources("06_architectures").values():
        exec(compile(source, "<answer>", "exec"), namespace)
    return namespace


ANSWERS = _instructor_answers()


class _OwnLeNet(nn.Module):
    """LeNet-5 as a class with named parts (the check matches parameters by order, not by name)."""

    def __init__(self):
        super().__init__()
        self.c1, self.c3 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.f5, self.f6, self.out = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = nn.functional.avg_pool2d(torch.tanh(self.c1(x)), 2)
        x = nn.functional.avg_pool2d(torch.tanh(self.c3(x)), 2)
        return self.out(torch.tanh(self.f6(torch.tanh(self.f5(x.flatten(1))))))


REFERENCES = {name: ANSWERS[name] for name in ("count_parameters", "conv_multiplications", "lenet5", "ResidualBlock",
                                                "Inception", "UpBlock")}


def test_a_lenet5_written_as_a_class_passes():
    checks_models.lenet5(_OwnLeNet)
    checks_models.grade_lenet5(_OwnLeNet)


@pytest.mark.parametrize("name,answer", [
    ("count_parameters", inspect_models.count_parameters), ("conv_multiplications", inspect_models.conv_multiplications),
    ("lenet5", models.lenet5), ("ResidualBlock", models.ResidualBlock), ("Inception", models.Inception),
    ("UpBlock", type("UpBlock", (models.UpBlock,), {}))])
def test_the_course_answers_may_not_be_called(name, answer):
    for check in (getattr(checks_models, name), getattr(checks_models, f"grade_{name}")):
        with pytest.raises(CheckFailure, match="helpers.models and helpers.inspect_models"):
            check(answer)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_self_check_and_grading_pass_the_reference(name, capsys):
    assert_correct_answer_passes(checks_models, name, REFERENCES[name], capsys)


@pytest.mark.parametrize("name,mistake", mistakes_of(checks_models),
                         ids=[f"{n}-{m.name}" for n, m in mistakes_of(checks_models)])
def test_every_known_mistake_is_rejected_and_explained(name, mistake):
    assert_mistake_rejected(checks_models, name, mistake)


def test_every_exercise_has_at_least_three_known_mistakes():
    assert set(checks_models.MISTAKES) == set(REFERENCES)
    assert all(len(ms) >= 3 for ms in checks_models.MISTAKES.values())


class _PoolStride3(models.Inception):
    def __init__(self, *args):
        super().__init__(*args)
        self.branch_pool[0] = nn.MaxPool2d(3, padding=1)


class _UnpaddedInception(models.Inception):
    def __init__(self, *args):
        super().__init__(*args)
        self.branch5[2].padding = (1, 1)


class _UpBilinear(models.UpBlock):
    """Upsampling by interpolation with the transposed convolution's weights left unused: sizes still fine."""

    def forward(self, x, skip):
        up = nn.functional.interpolate(self.up(x), scale_factor=1.5)
        return self.conv(torch.cat([up, skip], dim=1))


def _padded_lenet():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                         nn.Linear(84, 10))


@pytest.mark.parametrize("name,answer,hint", [
    ("Inception", _UnpaddedInception, "padding=2 for the 5x5"),
    ("Inception", _PoolStride3, "its stride defaults to the kernel size"),
    ("UpBlock", _UpBilinear, "doubles H and W exactly"),
    ("lenet5", _padded_lenet, "valid (no padding)"),
])
def test_a_crash_comes_with_a_hint(name, answer, hint):
    for check in (getattr(checks_models, name), getattr(checks_models, f"grade_{name}")):
        with pytest.raises(CheckFailure, match="hint") as failure:
            check(answer)
        assert hint in str(failure.value)


def test_an_unwritten_answer_says_not_implemented():
    def todo(*args):
        raise NotImplementedError()

    for name in REFERENCES:
        with pytest.raises(CheckFailure, match="not implemented"):
            getattr(checks_models, name)(todo)


def test_grading_enforces_the_seed_facts():
    with pytest.raises(CheckFailure):
        checks_models.grade_count_parameters(lambda model, trainable_only=False: 138_357_544)
    assert inspect_models.conv_multiplications((192, 28, 28), 32, 5, padding=2) == 120_422_400


def _block_with_shortcut(make_shortcut):
    """The instructor's ResidualBlock whose identity shortcut is replaced by ``make_shortcut()``."""
    class Block(ANSWERS["ResidualBlock"]):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__(in_channels, out_channels, stride)
            if isinstance(self.shortcut, nn.Identity):
                self.shortcut = make_shortcut(in_channels)
    return Block


@pytest.mark.parametrize("check", ["ResidualBlock", "grade_ResidualBlock"])
def test_an_identity_shortcut_written_as_an_empty_sequential_passes(check):
    """pytorch-cifar's style, nn.Sequential(), behaves as the identity (issue 15, section 1)."""
    getattr(checks_models, check)(_block_with_shortcut(lambda c: nn.Sequential()))


@pytest.mark.parametrize("check", ["ResidualBlock", "grade_ResidualBlock"])
def test_a_shortcut_with_parameters_where_the_identity_belongs_is_refused(check):
    def identity_conv(c):
        conv = nn.Conv2d(c, c, 1, bias=False)
        with torch.no_grad():
            conv.weight.copy_(torch.eye(c)[:, :, None, None])
        return conv

    with pytest.raises(CheckFailure):
        getattr(checks_models, check)(_block_with_shortcut(identity_conv))


@pytest.mark.parametrize("check", ["conv_multiplications", "grade_conv_multiplications"])
def test_ceil_instead_of_floor_is_refused_by_the_self_check_too(check):
    def with_ceil(in_shape, out_channels, kernel_size, stride=1, padding=0):
        c, h, w = in_shape
        h_out, w_out = -(-(h + 2 * padding - kernel_size) // stride) + 1, -(-(w + 2 * padding - kernel_size) // stride) + 1
        return h_out * w_out * out_channels * kernel_size * kernel_size * c

    with pytest.raises(CheckFailure, match="rounds DOWN"):
        getattr(checks_models, check)(with_ceil)


@pytest.mark.parametrize("skeleton,model", [
    (checks_models._skeleton(checks_models._LENET_PARAMS), models.lenet5()),
    (checks_models._block_skeleton(4, 8), models.ResidualBlock(4, 8, stride=2)),
    (checks_models._block_skeleton(3, 4), models.ResidualBlock(3, 4, stride=2))])
def test_the_counting_skeletons_hold_the_course_models_parameters_and_buffers(skeleton, model):
    """count_parameters is checked on skeletons (no architecture's code ships to students): the same names, shapes."""
    def layout(m):
        return ([(n, tuple(p.shape)) for n, p in m.named_parameters()],
                [(n, tuple(b.shape)) for n, b in m.named_buffers()])

    assert sorted(layout(skeleton)[0]) == sorted(layout(model)[0])
    assert sorted(layout(skeleton)[1]) == sorted(layout(model)[1])
    assert checks_models._count_per_module(skeleton) == checks_models._count_per_module(model)   # the same nesting


# ---- notebook 06's demonstrations build the course's models from the student's classes (issue 19: the
# student edition ships no course answer for them); with the instructor's answers, as a student types them.
def test_deep_net_runs_the_students_residual_block_as_the_plain_and_the_residual_block():
    x, h = torch.randn(3, 1, 8, 8), torch.randn(3, 8, 8, 8)
    for residual in (False, True):
        torch.manual_seed(0)
        theirs = models.DeepNet(4, width=8, residual=residual, block=ANSWERS["ResidualBlock"])  # no `residual` arg
        torch.manual_seed(0)
        ours = models.DeepNet(4, width=8, residual=residual)
        torch.testing.assert_close(theirs(x), ours(x))   # the same layers from the same random numbers
        course = nn.Sequential(*(models.ResidualBlock(8, 8, residual=residual) for _ in range(4)))
        course.load_state_dict(ours.blocks.state_dict())
        torch.testing.assert_close(ours.blocks(h), course(h))   # a zero shortcut is the course's plain block
    with pytest.raises(TypeError, match="residual must be True or False"):
        models.DeepNet(2, residual=0)


def test_vgg16_stacks_the_students_vgg_block_into_torchvisions_count():
    calls = []

    def students(*args):
        calls.append(args)
        return ANSWERS["vgg_block"](*args)

    with torch.device("meta"):
        theirs, ours = models.vgg16(block=students), models.vgg16()
    assert calls == [(3, 64, 2), (64, 128, 2), (128, 256, 3), (256, 512, 3), (512, 512, 3)]
    assert inspect_models.count_parameters(theirs) == 138_357_544
    assert [p.shape for p in theirs.parameters()] == [p.shape for p in ours.parameters()]
