"""Convolution in 2D: sizes, parameter counts and the two reference implementations of notebook 02.

Conventions: like every deep-learning library we compute the *cross-correlation*

    y[n, o, i, j] = b[o] + sum_{c, r, s} w[o, c, r, s] * x_pad[n, g*C_in/groups + c, i*S_h + r*D_h, j*S_w + s*D_w]

(``g`` is the group of output channel ``o``, ``x_pad`` is ``x`` with ``P`` zeros on every side).
``flip=True`` gives the *true* convolution of seed 002: the same sum with the kernel rotated
by 180 degrees, ``w.flip(-2, -1)``.

Sizes follow seed 002: an input of length ``L``, a kernel ``W``, padding ``P``, stride ``S``
and dilation ``D`` give ``floor((L + 2P - D(W - 1) - 1) / S) + 1`` outputs per axis.

Every function keeps its input's device and dtype; ``stride``, ``padding`` and ``dilation``
accept an int (both axes) or an ``(h, w)`` pair.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _validate as check

__all__ = ["output_size", "conv_params", "dense_params", "conv2d_naive", "conv2d_unfold"]


def output_size(L: int, W: int, P: int = 0, S: int = 1, D: int = 1) -> int:
    """Outputs per axis of a convolution: ``floor((L + 2P - D(W - 1) - 1) / S) + 1``.

    Args:
        L: input length (height or width), W: kernel size, P: zero padding on each side,
        S: stride, D: dilation (the kernel then spans ``D(W - 1) + 1`` inputs).
    Returns:
        the output length; ``output_size(32, 5) == 28``, ``output_size(4, 2) == 3`` (seed 002).
    """
    for name, value, minimum in (("L", L, 1), ("W", W, 1), ("P", P, 0), ("S", S, 1), ("D", D, 1)):
        check.integer("output_size", name, value, minimum=minimum)
    return check.sliding_output("output_size", "the kernel W", (L,), (W,), (P,), (S,), (D,))[0]


def conv_params(w_k: int, h_k: int, d_in: int, d_out: int, bias: bool = True, groups: int = 1) -> int:
    """Learnable numbers in a conv layer: ``w_k * h_k * (d_in / groups) * d_out (+ d_out biases)``.

    Six 5x5x3 kernels have ``5 * 5 * 3 * 6 + 6 = 456``; ``groups`` divides the weights by g.
    """
    for name, value in (("w_k", w_k), ("h_k", h_k), ("d_in", d_in), ("d_out", d_out), ("groups", groups)):
        check.integer("conv_params", name, value, minimum=1)
    check.boolean("conv_params", "bias", bias)
    _check_groups("conv_params", groups, d_in, d_out, "d_in", "d_out")
    return w_k * h_k * (d_in // groups) * d_out + (d_out if bias else 0)


def dense_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """Learnable numbers in a fully connected layer: ``n_in * n_out (+ n_out biases)``.

    Seed 001: a 1000x1000x3 image (3 million inputs) into 1000 units needs 3 billion weights,
    ``dense_params(3 * 1000 * 1000, 1000, bias=False) == 3_000_000_000``.
    """
    check.integer("dense_params", "n_in", n_in, minimum=1)
    check.integer("dense_params", "n_out", n_out, minimum=1)
    check.boolean("dense_params", "bias", bias)
    return n_in * n_out + (n_out if bias else 0)


def conv2d_naive(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None, stride=1, padding=0,
                 dilation=1, groups: int = 1, flip: bool = False) -> torch.Tensor:
    """2D convolution with explicit loops over the output positions (small inputs only).

    Args:
        x: (N, C_in, H, W) images.
        w: (C_out, C_in / groups, kH, kW) kernels; output channel ``o`` reads the input
            channels of its group ``o // (C_out / groups)``.
        b: (C_out,) biases or None.
        stride, padding, dilation: an int or an (h, w) pair; stride, dilation >= 1, padding >= 0 (zeros).
        groups: split the channels into this many independent convolutions.
        flip: False for the cross-correlation (``F.conv2d``), True for the true convolution.
    Returns:
        y: (N, C_out, H_out, W_out), ``H_out = output_size(H, kH, padding, stride, dilation)``.
    """
    (sh, sw), (dh, dw), out_hw, xp, w = _prepare("conv2d_naive", x, w, b, stride, padding, dilation, groups, flip)
    span_h, span_w = dh * (w.shape[2] - 1) + 1, dw * (w.shape[3] - 1) + 1
    cin_g, cout_g = w.shape[1], w.shape[0] // groups                    # channels per group
    y = x.new_zeros(x.shape[0], w.shape[0], *out_hw)
    for g in range(groups):
        xg = xp[:, g * cin_g:(g + 1) * cin_g]        # (N, C_in/groups, H + 2P, W + 2P)
        wg = w[g * cout_g:(g + 1) * cout_g]          # (C_out/groups, C_in/groups, kH, kW)
        for i in range(out_hw[0]):
            for j in range(out_hw[1]):
                top, left = i * sh, j * sw
                patch = xg[:, :, top:top + span_h:dh, left:left + span_w:dw]  # (N, C_in/groups, kH, kW)
                y[:, g * cout_g:(g + 1) * cout_g, i, j] = (patch[:, None] * wg).sum(dim=(2, 3, 4))
    return y if b is None else y + b[:, None, None]


def conv2d_unfold(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None, stride=1, padding=0,
                  dilation=1, groups: int = 1, flip: bool = False) -> torch.Tensor:
    """2D convolution as one matrix product (im2col): ``F.unfold`` then ``kernels @ columns``.

    ``F.unfold`` lays every receptive field out as a column, (N, C_in * kH * kW, H_out * W_out),
    channel-major like ``w.reshape(C_out, -1)``; each group is then one (batched) matmul.
    Same arguments, shapes and result as :func:`conv2d_naive`.
    """
    stride, dilation, out_hw, xp, w = _prepare("conv2d_unfold", x, w, b, stride, padding, dilation, groups, flip)
    n, c_out = x.shape[0], w.shape[0]
    cols = F.unfold(xp, w.shape[2:], dilation=dilation, stride=stride)   # (N, C_in*kH*kW, L)
    cols = cols.reshape(n, groups, -1, cols.shape[-1])                   # (N, groups, C_in/groups*kH*kW, L)
    kernels = w.reshape(groups, c_out // groups, -1)                     # (groups, C_out/groups, C_in/groups*kH*kW)
    y = (kernels @ cols).reshape(n, c_out, *out_hw)                      # (N, groups, C_out/groups, L) -> ...
    return y if b is None else y + b[:, None, None]


def _prepare(where, x, w, b, stride, padding, dilation, groups, flip):
    """Check every argument of a conv2d; return stride, dilation, (H_out, W_out), padded x, (flipped) w."""
    check.tensor(where, "x", x, min_dim=4, max_dim=4)
    check.tensor(where, "w", w, min_dim=4, max_dim=4)
    if b is not None:
        check.tensor(where, "b", b, min_dim=1, max_dim=1)
    check.same_device(where, x=x, w=w, b=b)
    stride = check.pair(where, "stride", stride, minimum=1)
    padding = check.pair(where, "padding", padding, minimum=0)
    dilation = check.pair(where, "dilation", dilation, minimum=1)
    check.integer(where, "groups", groups, minimum=1)
    check.boolean(where, "flip", flip)
    c_in, c_out = x.shape[1], w.shape[0]
    _check_groups(where, groups, c_in, c_out, "C_in (x.shape[1])", "C_out (w.shape[0])")
    if w.shape[1] * groups != c_in:
        raise ValueError(f"{where}: w has {w.shape[1]} input channels (shape {tuple(w.shape)}, groups={groups}) "
                         f"but x has {c_in} (shape {tuple(x.shape)}); w needs C_in / groups = "
                         f"{c_in // groups} input channels")
    if b is not None and tuple(b.shape) != (c_out,):
        raise ValueError(f"{where}: b must have shape ({c_out},), one bias per output channel of w, "
                         f"got {tuple(b.shape)}")
    out_hw = check.sliding_output(where, "the kernel w", x.shape[2:], w.shape[2:], padding, stride, dilation)
    xp = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
    return stride, dilation, out_hw, xp, (w.flip(-2, -1) if flip else w)


def _check_groups(where: str, groups: int, c_in: int, c_out: int, in_name: str, out_name: str) -> None:
    for name, channels in ((in_name, c_in), (out_name, c_out)):
        if channels % groups:
            raise ValueError(f"{where}: groups={groups} does not divide {name} = {channels}; "
                             "pick groups among the common divisors of the input and output channels")

