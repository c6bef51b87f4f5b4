"""Looking inside any ``nn.Module``: how many parameters, what shape each layer outputs, how many multiplications.

- :func:`count_parameters` counts the learnable numbers (shared tensors once).
- :func:`trace_shapes` runs one forward pass with hooks and records, for every leaf layer in the
  order it ran, its output shape and its own parameter count. It works on the ``meta`` device,
  so VGG-16's 138 million parameters never need to be allocated:

      with torch.device("meta"):
          vgg = torchvision.models.vgg16(weights=None)
      rows = trace_shapes(vgg, (1, 3, 224, 224))

- :func:`conv_multiplications` is the cost of one convolution from its shapes (seed 001's
  120,422,400 for a 5x5 "same" convolution of 28x28x192 into 32 channels);
  :func:`model_multiplications` adds up the convolutions and linear layers a forward pass runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from . import _validate as check

__all__ = ["count_parameters", "TraceRow", "trace_shapes", "format_trace", "conv_multiplications",
           "model_multiplications"]


def _module(where: str, model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{where}: model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Learnable numbers in ``model``: the sum of ``p.numel()`` over ``model.parameters()``.

    Args:
        model: any module; a tensor shared by two layers is counted once; buffers (batch norm's
            running mean and variance) are not parameters and are not counted.
        trainable_only: count only the parameters with ``requires_grad`` (not the frozen ones).
    Returns:
        an int; LeNet-5 has 61,706, torchvision's VGG-16 138,357,544.
    """
    _module("count_parameters", model)
    check.boolean("count_parameters", "trainable_only", trainable_only)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@dataclass
class TraceRow:
    """One leaf layer of a forward pass: its dotted ``name``, class ``kind``, output ``shape`` and own ``params``."""

    name: str
    kind: str
    shape: tuple
    params: int


def _shape_of(output) -> tuple:
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return tuple(_shape_of(o) for o in output)
    return ()


def _model_tensor(model: nn.Module) -> torch.Tensor | None:
    return next(iter(model.parameters()), next(iter(model.buffers()), None))


def _input(where: str, model: nn.Module, x) -> torch.Tensor:
    """``x`` itself, or zeros of shape ``x`` on the model's device and dtype."""
    like = _model_tensor(model)
    if isinstance(x, torch.Tensor):
        if like is not None and x.device.type != like.device.type:
            raise ValueError(f"{where}: x is on {x.device} but the model is on {like.device}; move x with "
                             f".to({str(like.device)!r}) or pass its shape, e.g. {tuple(x.shape)}")
        return x
    if not isinstance(x, (tuple, list, torch.Size)) or not all(isinstance(n, int) and n > 0 for n in x):
        raise TypeError(f"{where}: x must be a tensor or a shape such as (1, 3, 224, 224), got {x!r}")
    if like is None:
        return torch.zeros(tuple(x))
    return torch.zeros(tuple(x), device=like.device, dtype=like.dtype if like.is_floating_point() else None)


def trace_shapes(model: nn.Module, x) -> list[TraceRow]:
    """Run ``model(x)`` once and record every leaf layer's output shape, in the order the layers ran.

    Args:
        model: any module (its mode is kept); parameters may live on the ``meta`` device.
        x: an input tensor, or an input shape such as ``(1, 3, 224, 224)``: zeros are then made on
            the model's device (``meta`` for a meta model, so nothing is computed or allocated).
    Returns:
        one :class:`TraceRow` per call of a leaf module (a module without children); a layer that
        runs twice appears twice. Shapes include the batch dimension.
    """
    _module("trace_shapes", model)
    x = _input("trace_shapes", model, x)
    rows: list[TraceRow] = []
    names = {module: name for name, module in model.named_modules()}

    def hook(module, inputs, output):
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(TraceRow(names[module] or type(module).__name__, type(module).__name__, _shape_of(output), params))

    _run_hooked(model, x, hook, [m for m in model.modules() if not any(True for _ in m.children())])
    return rows


def format_trace(rows: list[TraceRow], skip=("ReLU", "Tanh", "Dropout", "GELU", "Identity")) -> str:
    """A printable table of :func:`trace_shapes`' rows (activations and dropout left out), with the total."""
    lines = [f"{'layer':<24}{'kind':<18}{'output shape':<22}{'params':>12}"]
    for row in rows:
        if row.kind not in skip:
            lines.append(f"{row.name:<24}{row.kind:<18}{str(row.shape):<22}{row.params:>12,}")
    lines.append(f"{'total':<64}{sum(r.params for r in rows):>12,}")
    return "\n".join(lines)


def conv_multiplications(in_shape, out_channels: int, kernel_size, stride=1, padding=0, groups: int = 1) -> int:
    """Multiplications of one convolution: ``H_out * W_out * C_out * kH * kW * C_in / groups``.

    Each of the ``H_out * W_out * C_out`` outputs is a dot product of its kernel (``kH * kW *
    C_in / groups`` weights) with the window under it; adding the bias is an addition, not a
    multiplication.

    Args:
        in_shape: the input ``(C_in, H, W)`` of one image.
        out_channels: ``C_out``; kernel_size, stride, padding: an int or an ``(h, w)`` pair.
        groups: split the channels into this many independent convolutions (``C_in`` for depthwise).
    Returns:
        an int; ``conv_multiplications((192, 28, 28), 32, 5, padding=2) == 120_422_400`` (seed 001).
    """
    where = "conv_multiplications"
    if not isinstance(in_shape, (tuple, list, torch.Size)) or len(in_shape) != 3:
        raise ValueError(f"{where}: in_shape must be (C_in, H, W), got {in_shape!r}")
    c_in, h, w = (check.integer(where, f"in_shape[{i}]", n, minimum=1) for i, n in enumerate(in_shape))
    check.integer(where, "out_channels", out_channels, minimum=1)
    check.integer(where, "groups", groups, minimum=1)
    kernel = check.pair(where, "kernel_size", kernel_size, minimum=1)
    out_hw = check.sliding_output(where, "kernel_size", (h, w), kernel, check.pair(where, "padding", padding, 0),
                                  check.pair(where, "stride", stride, 1), (1, 1))
    if c_in % groups or out_channels % groups:
        raise ValueError(f"{where}: groups={groups} must divide C_in = {c_in} and out_channels = {out_channels}")
    return out_hw[0] * out_hw[1] * out_channels * kernel[0] * kernel[1] * (c_in // groups)


def model_multiplications(model: nn.Module, x) -> int:
    """Multiplications of the convolutions (any dimension, transposed too) and linear layers in ``model(x)``.

    Args:
        model: any module; x: an input tensor or shape, as for :func:`trace_shapes` (meta works).
    Returns:
        an int, for the whole batch: per output value of a convolution ``C_in / groups * prod(kernel)``,
        per input value of a transposed convolution ``C_out / groups * prod(kernel)``, per output
        of a linear layer ``in_features``. Pooling, activations and normalisation are not counted.
    """
    _module("model_multiplications", model)
    x = _input("model_multiplications", model, x)
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.modules.conv._ConvTransposeNd):
            per = module.out_channels // module.groups * math.prod(module.kernel_size)
            total[0] += inputs[0].numel() * per
        elif isinstance(module, nn.modules.conv._ConvNd):
            total[0] += output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
        elif isinstance(module, nn.Linear):
            total[0] += output.numel() * module.in_features

    _run_hooked(model, x, hook, list(model.modules()))
    return total[0]


def _run_hooked(model: nn.Module, x: torch.Tensor, hook, modules: list[nn.Module]) -> None:
    """One forward pass without gradients, with ``hook`` on each of ``modules`` (removed afterwards)."""
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
