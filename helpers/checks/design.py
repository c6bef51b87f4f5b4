"""Checks of notebook 06's design exercises: predict a layer's output shape, a VGG block to spec,
and a cheap block designed under a multiplication budget (graded by what it does, not how).

Each exercise is one :class:`core.Exercise`: the self-check (``checks.design.layer_output_shape(f)``)
and the hidden test (``fresh("design").grade_layer_output_shape(f)``) run the same rules and fixed
cases; the hidden test adds seeded random cases.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn
from torch.nn.modules.utils import _pair
from torch.overrides import TorchFunctionMode

from . import core
from .core import Case, CheckFailure, Mistake, Rule

__all__ = ["layer_output_shape", "grade_layer_output_shape", "vgg_block", "grade_vgg_block",
           "cheap_block", "grade_cheap_block", "multiplications"]


# ================================================================== layer_output_shape
class _Unrunnable(RuntimeError):
    pass


def _refuse(*args, **kwargs):
    raise _Unrunnable("this layer refuses to run: predict its output shape from its settings "
                      "(kernel_size, stride, padding, dilation, out_features ...), do not call it")


def _unrunnable(layer: nn.Module) -> nn.Module:
    """``layer`` whose forward refuses to run: the shape must be predicted from its attributes."""
    layer.forward = _refuse
    return layer


def _axis(n: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _shape_reference(layer: nn.Module, in_shape: tuple) -> tuple:
    """(C, H, W) or (D,) of one image after ``layer``, from the layer's settings alone."""
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        _, h, w = in_shape
        k, s, p = _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding)
        d = _pair(getattr(layer, "dilation", 1))
        c = layer.out_channels if isinstance(layer, nn.Conv2d) else in_shape[0]
        return (c, _axis(h, k[0], s[0], p[0], d[0]), _axis(w, k[1], s[1], p[1], d[1]))
    if isinstance(layer, nn.Flatten):
        return (math.prod(in_shape),)
    if isinstance(layer, nn.Linear):
        return (layer.out_features,)
    return tuple(in_shape)


def _shape_case(layer: nn.Module, in_shape: tuple) -> Case:
    return Case((_unrunnable(layer), tuple(in_shape)), label=repr(layer).replace("\n", ""))


def _shape_cases(gen: torch.Generator | None) -> list[Case]:
    cases = [_shape_case(nn.Conv2d(1, 6, (5, 5)), (1, 32, 32)),                          # LeNet-5, seed 001
             _shape_case(nn.Conv2d(3, 96, 11, stride=4), (3, 227, 227)),                # AlexNet's first layer
             _shape_case(nn.MaxPool2d(3, stride=2), (96, 55, 55)),                      # overlapping pooling
             _shape_case(nn.Conv2d(192, 32, 5, padding=2), (192, 28, 28)),              # "same"
             _shape_case(nn.Conv2d(8, 4, 3, stride=2, padding=1), (8, 15, 15)),         # odd size, stride 2
             _shape_case(nn.Conv2d(4, 4, 3, padding=2, dilation=2), (4, 9, 12)),
             _shape_case(nn.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2)), (3, 17, 20)),
             _shape_case(nn.AvgPool2d(2), (6, 28, 28)),
             _shape_case(nn.MaxPool2d(2), (16, 5, 5)),                                   # floor: odd size
             _shape_case(nn.Flatten(), (16, 5, 5)),
             _shape_case(nn.Linear(400, 120), (400,)),
             _shape_case(nn.ReLU(), (6, 28, 28)),
             _shape_case(nn.BatchNorm2d(6), (6, 28, 28))]
    if gen is None:
        return cases
    for _ in range(12):
        r = lambda low, high: int(torch.randint(low, high + 1, (1,), generator=gen))   # noqa: E731
        k, s, d = r(1, 7), r(1, 4), r(1, 3)
        p = r(0, k // 2 + 1)
        size = d * (k - 1) + 1 + r(0, 30)
        h, w = max(size - 2 * p, 1), max(size - 2 * p + r(0, 5), 1)
        c = r(1, 16)
        layer = nn.Conv2d(c, r(1, 16), k, stride=s, padding=p, dilation=d) if r(0, 2) else nn.MaxPool2d(
            k, stride=s, padding=min(p, k // 2), dilation=d)
        pad = _pair(layer.padding)[0]
        if _axis(h, k, s, pad, d) >= 1 and _axis(w, k, s, pad, d) >= 1:   # the output is not empty
            cases.append(_shape_case(layer, (c, h, w)))
    return cases


def _shape_no_dilation(layer, in_shape):
    if isinstance(layer, nn.Conv2d) and layer.dilation != (1, 1):
        _, h, w = in_shape
        k, s, p = _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding)
        return (layer.out_channels, _axis(h, k[0], s[0], p[0]), _axis(w, k[1], s[1], p[1]))
    return _shape_reference(layer, in_shape)


def _shape_one_padding(layer, in_shape):
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        _, h, w = in_shape
        k, s, p = _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding)
        d = _pair(getattr(layer, "dilation", 1))
        c = layer.out_channels if isinstance(layer, nn.Conv2d) else in_shape[0]
        return (c, (h + p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1, (w + p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1)
    return _shape_reference(layer, in_shape)


def _shape_channels_kept(layer, in_shape):
    out = _shape_reference(layer, in_shape)
    return (in_shape[0], *out[1:]) if isinstance(layer, nn.Conv2d) else out


def _shape_rounded_up(layer, in_shape):
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        _, h, w = in_shape
        k, s, p = _pair(layer.kernel_size), _pair(layer.stride), _pair(layer.padding)
        d = _pair(getattr(layer, "dilation", 1))
        c = layer.out_channels if isinstance(layer, nn.Conv2d) else in_shape[0]
        return (c, -(-(h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0]) + 1, -(-(w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1]) + 1)
    return _shape_reference(layer, in_shape)


_SHAPE_MISTAKES = [
    Mistake("padding once", "padding P is added on both sides: H + 2P - D(k - 1) - 1, then // S, then + 1",
            _shape_one_padding),
    Mistake("no dilation", "a dilation D spreads the kernel to D(k - 1) + 1 pixels", _shape_no_dilation),
    Mistake("channels kept", "a convolution's output has out_channels channels; pooling keeps the channels",
            _shape_channels_kept),
    Mistake("rounded up", "PyTorch rounds the division by the stride down (floor)", _shape_rounded_up),
]


def _returns_ints(student: Callable) -> str:
    got = core.call_student("layer_output_shape", student, _shape_cases(None)[0])
    if not isinstance(got, tuple) or not all(type(v) is int for v in got):
        raise CheckFailure(f"layer_output_shape: return a tuple of Python ints such as (6, 28, 28), got {core.describe(got)} "
                           f"({type(got).__name__}); convert with int(...) and tuple(...)")
    return "returns a tuple of Python ints"


LAYER_OUTPUT_SHAPE = core.Exercise(
    "layer_output_shape", _shape_reference, _shape_cases, _SHAPE_MISTAKES,
    [Rule("returns a tuple of Python ints", _returns_ints)],
    ["Conv2d (stride, padding, dilation, rectangular kernels), MaxPool2d and AvgPool2d (floor), Flatten, Linear, "
     "and shape-keeping layers (ReLU, BatchNorm2d)", "predicted from the settings: the layers refuse to run"],
    seed=61)


def layer_output_shape(student: Callable) -> None:
    """Self-check of ``layer_output_shape(layer, in_shape) -> tuple``."""
    LAYER_OUTPUT_SHAPE.check(student)


def grade_layer_output_shape(student: Callable) -> None:
    """Hidden test: the same rules and cases plus seeded random convolutions and poolings."""
    LAYER_OUTPUT_SHAPE.grade(student)


# ============================================================================ vgg_block
def _layer_line(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        return (f"Conv2d({m.in_channels}, {m.out_channels}, kernel {m.kernel_size}, stride {m.stride}, "
                f"padding {m.padding}, bias {m.bias is not None})")
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        return f"{type(m).__name__}(kernel {_pair(m.kernel_size)}, stride {_pair(m.stride)})"
    return type(m).__name__


def _course_vgg_block() -> Callable:
    from ..models import vgg_block as course

    return course


def _vgg_outcome(factory: Callable) -> Callable:
    """factory(c_in, c_out, convs) -> (its leaf layers, described; its output on a fixed input with fixed weights)."""
    def outcome(in_channels, out_channels, convs, size):
        block = factory(in_channels, out_channels, convs)
        if not isinstance(block, nn.Module):
            return f"not an nn.Module: {type(block).__name__}"
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in block.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
            x = torch.randn(2, in_channels, size, size, generator=gen)
            y = block.eval()(x)
        leaves = tuple(_layer_line(m) for m in block.modules() if not list(m.children()))
        return (*leaves, y)
    outcome.__name__ = getattr(factory, "__name__", "vgg_block")
    return outcome


def _vgg_cases(gen: torch.Generator | None) -> list[Case]:
    cases = [Case((3, 64, 2, 8), label="VGG-16's first block on an 8x8 input"),
             Case((64, 128, 2, 6)), Case((8, 16, 3, 5), label="three convolutions, odd size"), Case((4, 4, 1, 4))]
    if gen is not None:
        for _ in range(3):
            r = lambda low, high: int(torch.randint(low, high + 1, (1,), generator=gen))   # noqa: E731
            cases.append(Case((r(1, 16), r(1, 16), r(1, 4), r(2, 9))))
    return cases


def _vgg_call(student: Callable) -> Callable:
    checked = _vgg_outcome(student)

    def call(in_channels, out_channels, convs, size):
        return checked(in_channels, out_channels, convs, size)
    call.__wrapped__ = student   # so the course-version detection looks at the student's own code
    return call


def _vgg_variant(padding=1, relu=True, pool=True, chain=True, stride=2):
    def block(in_channels, out_channels, convs):
        layers, c = [], in_channels
        for _ in range(convs):
            layers.append(nn.Conv2d(c, out_channels, 3, padding=padding))
            layers += [nn.ReLU()] if relu else []
            c = out_channels if chain else in_channels
        return nn.Sequential(*layers, *([nn.MaxPool2d(2, stride=stride)] if pool else []))
    return _vgg_outcome(block)


_VGG_MISTAKES = [
    Mistake("no padding", "VGG's convolutions are 'same': padding=1 keeps H and W for a 3x3 kernel",
            lambda *a: _vgg_variant(padding=0)(*a)),
    Mistake("no ReLU", "each convolution is followed by nn.ReLU()", lambda *a: _vgg_variant(relu=False)(*a)),
    Mistake("no pooling", "the block ends with nn.MaxPool2d(2, stride=2)", lambda *a: _vgg_variant(pool=False)(*a)),
    Mistake("pool stride 1", "the pooling halves H and W: kernel 2, stride 2", lambda *a: _vgg_variant(stride=1)(*a)),
]


VGG_BLOCK = core.Exercise(
    "vgg_block", _vgg_outcome(_course_vgg_block()), _vgg_cases, _VGG_MISTAKES, [],
    ["the layers in order: `convs` times Conv2d 3x3 padding 1 (in_channels, then out_channels in) + ReLU, "
     "then MaxPool2d(2, stride 2)", "the output on a fixed input with the same weights as the reference"],
    seed=62, course_versions=[_course_vgg_block()])


def vgg_block(student: Callable) -> None:
    """Self-check of ``vgg_block(in_channels, out_channels, convs) -> nn.Module``."""
    VGG_BLOCK.check(_vgg_call(student))


def grade_vgg_block(student: Callable) -> None:
    """Hidden test: the same cases plus seeded random channel counts, depths and sizes."""
    VGG_BLOCK.grade(_vgg_call(student))


# =========================================================================== cheap_block
BUDGET = 0.25   # of a dense 5x5 convolution's multiplications
SIZE = 16       # H = W of the measured input


class _CountMultiplications(TorchFunctionMode):
    """Counts the multiplications of every 2D convolution and linear map run inside it, module or function."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        weight = args[1] if len(args) > 1 else kwargs.get("weight")
        if func in (torch.conv2d, nn.functional.conv2d):
            self.total += out.numel() * weight[0].numel()            # per output: C_in / groups * kH * kW
        elif func is nn.functional.linear:
            self.total += out.numel() * weight.shape[-1]
        elif func in (torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.mm, torch.bmm):
            self.total += out.numel() * args[0].shape[-1]
        return out


def multiplications(module: nn.Module, shape: tuple) -> int:
    """Multiplications of one forward pass of ``module`` on zeros of ``shape``: every 2D convolution,
    linear layer and matrix product, also those called as functions rather than modules."""
    counter = _CountMultiplications()
    with counter, torch.no_grad():
        module(torch.zeros(shape))
    return counter.total


def _dense_5x5(channels: int) -> int:
    return SIZE * SIZE * channels * channels * 25


def _field_and_mixing(block: nn.Module, channels: int) -> tuple[int, bool]:
    """Receptive field (pixels across) of the centre output, and whether output channels 0, C/2 and C - 1
    each depend on every input channel (gradients of random inputs, summed over every position)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, channels, 15, 15, generator=gen, dtype=torch.float64, requires_grad=True)
    block(x)[:, :, 7, 7].sum().backward()
    seen = x.grad.abs().sum(dim=(0, 1)) > 0
    rows, cols = torch.nonzero(seen.any(dim=1)).flatten(), torch.nonzero(seen.any(dim=0)).flatten()
    field = 0 if len(rows) == 0 else int(min(rows.max() - rows.min(), cols.max() - cols.min())) + 1
    mixes = True
    for out_channel in sorted({0, channels // 2, channels - 1}):
        x.grad = None
        block(x)[:, out_channel].sum().backward()
        mixes = mixes and bool((x.grad.abs().amax(dim=(0, 2, 3)) > 0).all())
    return field, mixes


def _measure(factory: Callable) -> Callable:
    """factory(channels) -> what the exercise asks for, each a line that reads the same when it is met."""
    def measured(channels):
        block = factory(channels)
        if not isinstance(block, nn.Module):
            return (f"not an nn.Module: {type(block).__name__}",)
        block = block.double().eval()
        with torch.no_grad():
            shape = tuple(block(torch.zeros(2, channels, SIZE, SIZE, dtype=torch.float64)).shape)
        field, mixes = _field_and_mixing(block, channels)
        ratio = multiplications(block.float(), (1, channels, SIZE, SIZE)) / _dense_5x5(channels)
        return (f"output shape {'kept' if shape == (2, channels, SIZE, SIZE) else shape}",
                "receptive field at least 5x5" if field >= 5 else f"receptive field only {field}x{field}",
                "every output channel uses every input channel" if mixes else "some output channel ignores some input channels",
                f"multiplications within {BUDGET:.0%} of a dense 5x5 convolution" if ratio <= BUDGET
                else f"multiplications {ratio:.0%} of a dense 5x5 convolution (over the {BUDGET:.0%} budget)")
    measured.__name__ = getattr(factory, "__name__", "cheap_block")
    return measured


def _cheap_reference(channels: int) -> nn.Module:
    # a depthwise separable convolution: spatial 5x5 per channel, then a 1x1 mixing the channels
    return nn.Sequential(nn.Conv2d(channels, channels, 5, padding=2, groups=channels), nn.ReLU(),
                         nn.Conv2d(channels, channels, 1))


def _cheap_cases(gen: torch.Generator | None) -> list[Case]:
    cases = [Case((8,)), Case((16,)), Case((32,))]
    if gen is not None:
        cases += [Case((int(torch.randint(8, 65, (1,), generator=gen)),)) for _ in range(2)]
    return cases


def _cheap_call(student: Callable) -> Callable:
    measured = _measure(student)

    def call(channels):
        return measured(channels)
    call.__wrapped__ = student
    return call


_CHEAP_MISTAKES = [
    Mistake("dense 5x5", "a dense 5x5 convolution is the cost to beat: split it into a spatial and a channel step",
            _measure(lambda c: nn.Conv2d(c, c, 5, padding=2))),
    Mistake("depthwise only", "a depthwise convolution (groups = channels) never mixes channels: add a 1x1 convolution",
            _measure(lambda c: nn.Conv2d(c, c, 5, padding=2, groups=c))),
    Mistake("3x3 field", "a 3x3 kernel sees 3x3: stack two, or use 5x5",
            _measure(lambda c: nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c), nn.Conv2d(c, c, 1)))),
    Mistake("two dense 3x3", "two dense 3x3 convolutions cost 18/25 = 72% of a dense 5x5",
            _measure(lambda c: nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1)))),
]


CHEAP_BLOCK = core.Exercise(
    "cheap_block", _measure(_cheap_reference), _cheap_cases, _CHEAP_MISTAKES, [],
    [f"measured on (N, C, {SIZE}, {SIZE}) inputs for C = 8, 16, 32: the shape kept, a receptive field of at least "
     "5x5, every output channel depending on every input channel (gradients), and at most "
     f"{BUDGET:.0%} of a dense 5x5 convolution's multiplications (every convolution and linear map counted, modules or functions)"],
    seed=63, course_versions=[])


def cheap_block(student: Callable) -> None:
    """Self-check of ``cheap_block(channels) -> nn.Module``, graded by what the module does."""
    CHEAP_BLOCK.check(_cheap_call(student))


def grade_cheap_block(student: Callable) -> None:
    """Hidden test: the same measurements, plus seeded random channel counts from 8 to 64."""
    CHEAP_BLOCK.grade(_cheap_call(student))
