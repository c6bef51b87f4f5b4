"""Notebook 06's design checks (helpers.checks.design): the instructor's answers pass the self-check
and the hidden test; known wrong answers are rejected, with their explanation where one is known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import helpers.checks.design as design
from check_contract import assert_correct_answer_passes
from helpers import models
from helpers.checks.core import CheckFailure
from nbgrading import solution_sources


def _answers() -> dict:
    namespace = {"torch": torch, "nn": nn, "F": nn.functional, "models": models}
    sources = solution_sources("06_architectures")
    for name in ("layer_output_shape", "vgg_block", "cheap_block"):
        exec(compile(sources[name], "<answer>", "exec"), namespace)
    return namespace


ANSWERS = _answers()


@pytest.mark.parametrize("name", ["layer_output_shape", "vgg_block", "cheap_block"])
def test_instructor_answer_passes(name, capsys):
    assert_correct_answer_passes(design, name, ANSWERS[name], capsys)


def _vgg(padding=1, relu=True, stride=2):
    def vgg_block(in_channels, out_channels, convs):
        layers = []
        for i in range(convs):
            layers.append(nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=padding))
            layers += [nn.ReLU()] if relu else []
        return nn.Sequential(*layers, nn.MaxPool2d(2, stride=stride))
    return vgg_block


WRONG = [
    ("layer_output_shape", lambda layer, in_shape: tuple(layer(torch.zeros(1, *in_shape)).shape[1:]), "refuses to run"),
    ("layer_output_shape", lambda layer, in_shape: design._shape_one_padding(layer, in_shape), "on both sides"),
    ("layer_output_shape", lambda layer, in_shape: design._shape_no_dilation(layer, in_shape), "dilation D"),
    ("layer_output_shape", lambda layer, in_shape: list(ANSWERS["layer_output_shape"](layer, in_shape)), "list"),
    ("vgg_block", _vgg(padding=0), "padding=1"),
    ("vgg_block", _vgg(relu=False), "nn.ReLU()"),
    ("vgg_block", _vgg(stride=1), "stride 2"),
    ("vgg_block", lambda a, b, c: models.vgg_block(a, b, c), "course's own"),
    ("cheap_block", lambda c: nn.Conv2d(c, c, 5, padding=2), "cost to beat"),
    ("cheap_block", lambda c: nn.Conv2d(c, c, 5, padding=2, groups=c), "never mixes channels"),
    ("cheap_block", lambda c: nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c), nn.Conv2d(c, c, 1)), "sees 3x3"),
    ("cheap_block", lambda c: nn.Conv2d(c, c, 1), "receptive field only 1x1"),
]


@pytest.mark.parametrize("name, wrong, explains", WRONG, ids=[f"{n}-{e}" for n, _, e in WRONG])
def test_wrong_answer_rejected(name, wrong, explains):
    with pytest.raises(CheckFailure) as failure:
        getattr(design, name)(wrong)
    assert explains in str(failure.value)
    with pytest.raises(CheckFailure):
        getattr(design, f"grade_{name}")(wrong)


def test_functional_convolutions_are_counted():
    """A block that calls F.conv2d itself cannot hide its cost from the budget."""
    class Hidden(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(c, c, 5, 5))

        def forward(self, x):
            return nn.functional.conv2d(x, self.weight, padding=2)

    assert design.multiplications(Hidden(8), (1, 8, 16, 16)) == 16 * 16 * 8 * 8 * 25
    with pytest.raises(CheckFailure, match="over the 25% budget"):
        design.cheap_block(Hidden)
