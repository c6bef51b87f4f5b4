"""Pooling: output sizes, max / average pooling (loops and vectorised), global average pooling, receptive fields,
and how much features change under a shift (:func:`shift_change`).

A pooling window of ``W`` slides with stride ``S`` (default ``S = W``: non-overlapping) over each
channel on its own and keeps the window's maximum or mean (seed 002). It has no parameters and
keeps the depth: (N, C, H, W) -> (N, C, H_out, W_out) with ``floor((L + 2P - W) / S) + 1``
outputs per axis. Padding matches torch: max pooling pads with ``-inf`` (a padded cell never
wins), average pooling with zeros that count in the mean (``count_include_pad=True``), and
``P`` may be at most half the window. ``kernel_size``, ``stride`` and ``padding`` accept an int
or an ``(h, w)`` pair.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _validate as check

MODES = ("max", "avg")

__all__ = ["MODES", "pool_output_size", "pool2d_naive", "pool2d", "global_avg_pool", "receptive_field", "shift_change"]


def pool_output_size(L: int, W: int, S: int | None = None, P: int = 0) -> int:
    """Outputs per axis of a pooling layer: ``floor((L + 2P - W) / S) + 1``, ``S`` defaulting to ``W``.

    Seed 002: ``pool_output_size(4, 2) == 2``, ``pool_output_size(16, 2, 2) == 8``.
    """
    S = W if S is None else S
    for name, value, minimum in (("L", L, 1), ("W", W, 1), ("S", S, 1), ("P", P, 0)):
        check.integer("pool_output_size", name, value, minimum=minimum)
    _check_half("pool_output_size", (P,), (W,), "P", "W")
    return check.sliding_output("pool_output_size", "the window W", (L,), (W,), (P,), (S,), (1,))[0]


def pool2d_naive(x: torch.Tensor, kernel_size, stride=None, padding=0, mode: str = "max") -> torch.Tensor:
    """Max or average pooling with explicit loops over the output positions.

    Args:
        x: (N, C, H, W) feature maps.
        kernel_size: window (kH, kW), an int or a pair.
        stride: an int or a pair; None means ``kernel_size`` (non-overlapping windows).
        padding: an int or a pair, at most half the window on each axis.
        mode: ``"max"`` (like ``F.max_pool2d``) or ``"avg"`` (like ``F.avg_pool2d``).
    Returns:
        y: (N, C, H_out, W_out), ``H_out = pool_output_size(H, kH, sH, pH)``.
    """
    (kh, kw), (sh, sw), out_hw, xp = _prepare("pool2d_naive", x, kernel_size, stride, padding, mode)
    y = x.new_empty(*x.shape[:2], *out_hw)
    for i in range(out_hw[0]):
        for j in range(out_hw[1]):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]    # (N, C, kH, kW)
            y[:, :, i, j] = window.amax(dim=(2, 3)) if mode == "max" else window.mean(dim=(2, 3))
    return y


def pool2d(x: torch.Tensor, kernel_size, stride=None, padding=0, mode: str = "max") -> torch.Tensor:
    """Max or average pooling, vectorised: ``Tensor.unfold`` cuts every window at once.

    Same arguments, shapes and result as :func:`pool2d_naive`; ``xp.unfold(2, kH, sH).unfold(3, kW, sW)``
    is a (N, C, H_out, W_out, kH, kW) view of all windows, reduced over its last two axes.
    """
    (kh, kw), (sh, sw), _, xp = _prepare("pool2d", x, kernel_size, stride, padding, mode)
    windows = xp.unfold(2, kh, sh).unfold(3, kw, sw)                     # (N, C, H_out, W_out, kH, kW)
    return windows.amax(dim=(-2, -1)) if mode == "max" else windows.mean(dim=(-2, -1))


def global_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling: the mean of each feature map, x: (N, C, H, W) -> (N, C)."""
    check.tensor("global_avg_pool", "x", x, min_dim=4, max_dim=4)
    return x.mean(dim=(2, 3))


def receptive_field(layers) -> int:
    """Input pixels (per axis) that one output of a stack of conv / pool layers sees.

    ``r = 1 + sum_l (k_l - 1) * d_l * prod_{j < l} s_j``: layer ``l`` widens the view by
    ``(k_l - 1) * d_l`` of its own inputs, each of which is ``prod_{j<l} s_j`` pixels apart.
    ``r`` is the extent of the view; stacked dilations can leave holes inside it.

    Args:
        layers: one ``(kernel_size, stride)`` or ``(kernel_size, stride, dilation)`` of ints per
            layer, first layer first; ``[(3, 1), (3, 1)] -> 5``, ``[(3, 1), (2, 2), (3, 1)] -> 8``.
    """
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"receptive_field: layers must be a list of (kernel_size, stride) pairs, got {layers!r}")
    r, jump = 1, 1
    for index, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) not in (2, 3):
            raise ValueError(f"receptive_field: layers[{index}] must be (kernel_size, stride) or "
                             f"(kernel_size, stride, dilation), got {layer!r}")
        k, s, d = (*layer, 1)[:3]
        for name, value in (("kernel_size", k), ("stride", s), ("dilation", d)):
            check.integer("receptive_field", f"layers[{index}] {name}", value, minimum=1)
        r += (k - 1) * d * jump
        jump *= s
    return r


def shift_change(x: torch.Tensor, feature_fn, shift) -> torch.Tensor:
    """How much features change, per image, when the images move: local translation invariance measured.

    ``||f(roll(x, shift)) - f(x)|| / ||f(x)||`` over each image's feature entries, rolling
    circularly (nothing is lost at the border).

    Args:
        x: (N, C, H, W) images.
        feature_fn: a function from (N, C, H, W) to features (N, ...).
        shift: ``(dy, dx)`` ints, rows down and columns right.
    Returns:
        (N,) relative changes; 0 means the features did not change.
    """
    check.tensor("shift_change", "x", x, min_dim=4, max_dim=4)
    if not isinstance(shift, (tuple, list)) or len(shift) != 2:
        raise ValueError(f"shift_change: shift must be a pair (dy, dx) of ints, got {shift!r}")
    before = feature_fn(x)
    after = feature_fn(torch.roll(x, shifts=tuple(shift), dims=(2, 3)))
    return (after - before).flatten(1).norm(dim=1) / before.flatten(1).norm(dim=1)


def _prepare(where, x, kernel_size, stride, padding, mode):
    """Check a pool2d call; return kernel, stride, (H_out, W_out) and x padded for ``mode``."""
    check.tensor(where, "x", x, min_dim=4, max_dim=4)
    kernel = check.pair(where, "kernel_size", kernel_size, minimum=1)
    stride = kernel if stride is None else check.pair(where, "stride", stride, minimum=1)
    padding = check.pair(where, "padding", padding, minimum=0)
    check.choice(where, "mode", mode, MODES)
    _check_half(where, padding, kernel, "padding", "kernel_size")
    out_hw = check.sliding_output(where, "the window kernel_size", x.shape[2:], kernel, padding, stride, (1, 1))
    fill = float("-inf") if mode == "max" else 0.0
    return kernel, stride, out_hw, F.pad(x, (padding[1], padding[1], padding[0], padding[0]), value=fill)


def _check_half(where: str, padding, kernel, p_name: str, k_name: str) -> None:
    """torch's rule: padding at most half the window (a window must never be all padding)."""
    if any(2 * p > k for p, k in zip(padding, kernel)):
        shown = (lambda t: t[0]) if len(kernel) == 1 else tuple
        raise ValueError(f"{where}: {p_name}={shown(padding)} must be at most half of {k_name}={shown(kernel)}; "
                         "use less padding or a larger window")
