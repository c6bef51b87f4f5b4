"""Backpropagation through convolution, ReLU and pooling, each forward beside its backward.

Every backward takes the upstream gradient ``dout`` (the gradient of the loss with respect to the
layer's output, same shape as the output) and the forward's inputs, and returns the gradient with
respect to each input. They are the references of notebook 04; autograd must agree with them.

- :func:`conv2d_backward`: ``dw`` sums ``dout * window`` over every position a shared weight was
  used at; ``dx`` spreads ``dout * w`` back over each window (a full convolution with the kernel
  rotated 180 degrees, or equivalently the transposed convolution).
- :func:`relu_backward`, :func:`max_pool2d_backward` (to the winning unit, first maximum in
  row-major order on ties, as PyTorch does), :func:`avg_pool2d_backward` (``dout / k^2`` to all).
- :func:`conv_matrix`: a convolution as a sparse matrix ``C``, so ``y = C x`` and ``dx = C^T dy``.
- :func:`col2im`: the adjoint of im2col (``F.unfold``), as ``F.fold``: columns scatter-added back into
  the image, overlaps summed, padding cropped; the input gradient of an im2col convolution.
- :func:`numerical_gradient` and :func:`relative_error`: checking a gradient by finite differences.
- :class:`Conv2dFunction`: a ``torch.autograd.Function`` whose backward is :func:`conv2d_backward`.
"""

from __future__ import annotations

import itertools
from typing import Callable

import torch
import torch.nn.functional as F

from . import _validate as check
from .conv import conv2d_unfold

__all__ = ["conv2d_forward", "conv2d_backward", "relu_forward", "relu_backward", "max_pool2d_backward",
           "avg_pool2d_backward", "conv_matrix", "col2im", "numerical_gradient", "relative_error", "Conv2dFunction",
           "conv2d"]


# ------------------------------------------------------------------------------ convolution
def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None, stride: int = 1,
                   padding: int = 0) -> torch.Tensor:
    """Cross-correlation, as ``F.conv2d``: x (N, C_in, H, W), w (C_out, C_in, kH, kW), b (C_out,)
    -> y (N, C_out, H_out, W_out) with ``H_out = (H + 2P - kH) // S + 1``."""
    return conv2d_unfold(x, w, b, stride=stride, padding=padding)


def conv2d_backward(dout: torch.Tensor, x: torch.Tensor, w: torch.Tensor, stride: int = 1,
                    padding: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of a 2D convolution (cross-correlation) with stride and zero padding.

    Args:
        dout: (N, C_out, H_out, W_out) gradient of the loss with respect to the output.
        x: (N, C_in, H, W) the forward's input; w: (C_out, C_in, kH, kW) its kernels.
        stride, padding: the forward's ints (padding: zeros on all four sides).
    Returns:
        dx: (N, C_in, H, W), the padding cropped off;
        dw: (C_out, C_in, kH, kW), summed over every output position and every image;
        db: (C_out,), ``dout`` summed over the batch and the positions.
    """
    where = "conv2d_backward"
    x, w, dout = (check.tensor(where, n, v, 4, 4) for n, v in (("x", x), ("w", w), ("dout", dout)))
    check.same_device(where, dout=dout, x=x, w=w)
    stride, padding = check.integer(where, "stride", stride, 1), check.integer(where, "padding", padding, 0)
    expected = (x.shape[0], w.shape[0], *check.sliding_output(where, "the kernel w", x.shape[2:], w.shape[2:],
                                                              (padding,) * 2, (stride,) * 2, (1, 1)))
    if tuple(dout.shape) != expected:
        raise ValueError(f"{where}: dout must have the forward output's shape {expected}, got {tuple(dout.shape)}")
    kernel = w.shape[2:]
    cols = F.unfold(x, kernel, padding=padding, stride=stride)          # (N, C_in*kH*kW, L)
    d = dout.reshape(dout.shape[0], dout.shape[1], -1)                   # (N, C_out, L)
    dw = torch.einsum("nol,nkl->ok", d, cols).reshape(w.shape)           # every copy of a weight summed
    dcols = torch.einsum("ok,nol->nkl", w.reshape(w.shape[0], -1), d)    # each window's share of dx
    dx = F.fold(dcols, x.shape[2:], kernel, padding=padding, stride=stride)  # overlaps summed, padding cropped
    return dx, dw, dout.sum(dim=(0, 2, 3))


# ------------------------------------------------------------------------------------- ReLU
def relu_forward(x: torch.Tensor) -> torch.Tensor:
    """``max(0, x)`` elementwise; any shape."""
    return x.clamp_min(0)


def relu_backward(dout: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """dout, x: the same shape -> dx: ``dout`` where ``x > 0``, 0 elsewhere (0 at x == 0, as PyTorch)."""
    if tuple(dout.shape) != tuple(x.shape):
        raise ValueError(f"relu_backward: dout {tuple(dout.shape)} and x {tuple(x.shape)} must have the same shape")
    return torch.where(x > 0, dout, torch.zeros_like(dout))


# ---------------------------------------------------------------------------------- pooling
def _pool_geometry(where: str, dout: torch.Tensor, x: torch.Tensor, kernel_size: int, stride: int | None):
    """Validate a pooling backward's arguments; return (k, s, the windows of x as (N*C, k*k, L))."""
    check.tensor(where, "x", x, 4, 4)
    check.tensor(where, "dout", dout, 4, 4)
    k = check.integer(where, "kernel_size", kernel_size, 1)
    s = k if stride is None else check.integer(where, "stride", stride, 1)
    out = check.sliding_output(where, "the window", x.shape[2:], (k, k), (0, 0), (s, s), (1, 1))
    if tuple(dout.shape) != (*x.shape[:2], *out):
        raise ValueError(f"{where}: dout must have the pooled shape {(*x.shape[:2], *out)}, got {tuple(dout.shape)}")
    n, c, h, w = x.shape
    return k, s, F.unfold(x.reshape(n * c, 1, h, w), k, stride=s)


def max_pool2d_backward(dout: torch.Tensor, x: torch.Tensor, kernel_size: int, stride: int | None = None) -> torch.Tensor:
    """Gradient of ``F.max_pool2d(x, kernel_size, stride)`` (no padding).

    Args:
        dout: (N, C, H_out, W_out); x: (N, C, H, W); stride None means ``kernel_size``.
    Returns:
        dx: (N, C, H, W). Each window's gradient goes to its winning unit only; on a tie, to the
        first maximum in row-major order. Overlapping windows add their gradients.
    """
    k, s, windows = _pool_geometry("max_pool2d_backward", dout, x, kernel_size, stride)   # (N*C, k*k, L)
    winner = windows.argmax(dim=1, keepdim=True)                                         # first maximum
    grads = torch.zeros_like(windows).scatter_(1, winner, dout.reshape(windows.shape[0], 1, -1))
    return F.fold(grads, x.shape[2:], k, stride=s).reshape(x.shape)


def avg_pool2d_backward(dout: torch.Tensor, x: torch.Tensor, kernel_size: int, stride: int | None = None) -> torch.Tensor:
    """Gradient of ``F.avg_pool2d(x, kernel_size, stride)`` (no padding).

    Args:
        dout: (N, C, H_out, W_out); x: (N, C, H, W) (only its shape is used).
    Returns:
        dx: (N, C, H, W): every unit of a window receives ``dout / k^2``; overlaps add.
    """
    k, s, windows = _pool_geometry("avg_pool2d_backward", dout, x, kernel_size, stride)
    grads = (dout.reshape(windows.shape[0], 1, -1) / (k * k)).expand_as(windows)
    return F.fold(grads, x.shape[2:], k, stride=s).reshape(x.shape)


# ---------------------------------------------------------------------------- matrix view
def conv_matrix(w: torch.Tensor, height: int, width: int, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """The convolution with one kernel as a matrix acting on the flattened image.

    Args:
        w: (kH, kW) kernel; height, width: the input size; stride, padding as in ``F.conv2d``.
    Returns:
        C: (H_out * W_out, height * width) with ``conv2d(x, w).flatten() == C @ x.flatten()``
        (row-major flattening); row r holds the kernel's weights at the inputs output r reads.
        ``C.T @ dy.flatten()`` is the input gradient, the transposed convolution of ``dy``.
    """
    check.tensor("conv_matrix", "w", w, 2, 2)
    height, width = check.integer("conv_matrix", "height", height, 1), check.integer("conv_matrix", "width", width, 1)
    basis = torch.eye(height * width, dtype=w.dtype, device=w.device).reshape(-1, 1, height, width)
    cols = F.unfold(basis, w.shape, padding=padding, stride=stride)      # (H*W, kH*kW, L): input q in window l?
    return torch.einsum("k,qkl->lq", w.reshape(-1), cols)


def col2im(cols: torch.Tensor, input_shape: tuple[int, int], kernel_size: tuple[int, int], stride: int = 1,
           padding: int = 0) -> torch.Tensor:
    """The adjoint of im2col (``F.unfold``), as ``F.fold``: every column added back into the image.

    Args:
        cols: (N, C * kH * kW, L), one column per window, rows ordered (channel, kernel row, kernel
            column) and windows row-major, as ``F.unfold(x, kernel_size, stride=stride, padding=padding)``.
        input_shape: (H, W) of the image, without the padding; kernel_size: (kH, kW);
            stride, padding: ints (padding: zeros on all four sides).
    Returns:
        (N, C, H, W), same dtype and device as ``cols``: where windows overlap their values add up;
        what fell on the padding is cropped off. ``<F.unfold(x), cols> == <x, col2im(cols)>``.
    """
    where = "col2im"
    check.tensor(where, "cols", cols, 3, 3)
    (H, W), (kh, kw) = check.pair(where, "input_shape", input_shape, 1), check.pair(where, "kernel_size", kernel_size, 1)
    s, p = check.integer(where, "stride", stride, 1), check.integer(where, "padding", padding, 0)
    h_out, w_out = check.sliding_output(where, "the kernel", (H, W), (kh, kw), (p, p), (s, s), (1, 1))
    n, rows, length = cols.shape
    if rows % (kh * kw) or length != h_out * w_out:
        raise ValueError(f"{where}: cols {tuple(cols.shape)} must be (N, C * {kh * kw}, {h_out * w_out}) for a "
                         f"{kh}x{kw} kernel on a {H}x{W} input with stride {s} and padding {p}")
    windows = cols.reshape(n, rows // (kh * kw), kh, kw, h_out, w_out)
    image = cols.new_zeros(n, rows // (kh * kw), H + 2 * p, W + 2 * p)
    for m in range(kh):          # kernel offset (m, n): every window's value there, all positions at once
        for q in range(kw):
            image[:, :, m:m + s * (h_out - 1) + 1:s, q:q + s * (w_out - 1) + 1:s] += windows[:, :, m, q]
    return image[:, :, p:p + H, p:p + W]


# -------------------------------------------------------------------------- gradient checks
def numerical_gradient(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Centred differences ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for every entry i.

    Args:
        f: maps x to a scalar (a 0-d tensor or a float); x: any shape, float64 recommended
            (it is perturbed in place and restored).
    Returns:
        (same shape as x) the estimated gradient; the error is O(eps^2) plus rounding ~ 1e-16 / eps.
    """
    check.tensor("numerical_gradient", "x", x, 0)
    grad = torch.zeros_like(x)
    with torch.no_grad():
        for i in itertools.product(*(range(n) for n in x.shape)):   # every index, in row-major order
            old = x[i].item()
            x[i] = old + eps
            plus = float(f(x))
            x[i] = old - eps
            minus = float(f(x))
            x[i] = old
            grad[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """``max |a - b| / max(|a| + |b|)`` over all entries, 0 when both are 0; a, b: the same shape."""
    scale = float((a.abs() + b.abs()).max())
    return 0.0 if scale == 0 else float((a - b).abs().max()) / scale


# ------------------------------------------------------------------------ autograd Function
class Conv2dFunction(torch.autograd.Function):
    """``F.conv2d`` forward with :func:`conv2d_backward` as its hand-written backward.

    ``Conv2dFunction.apply(x, w, b, stride, padding)``: x (N, C_in, H, W), w (C_out, C_in, kH, kW),
    b (C_out,) -> (N, C_out, H_out, W_out).
    """

    @staticmethod
    def forward(ctx, x, w, b, stride=1, padding=0):
        ctx.save_for_backward(x, w)
        ctx.stride, ctx.padding = stride, padding
        return conv2d_forward(x, w, b, stride, padding)

    @staticmethod
    def backward(ctx, dout):
        x, w = ctx.saved_tensors
        dx, dw, db = conv2d_backward(dout, x, w, ctx.stride, ctx.padding)
        return dx, dw, db, None, None


def conv2d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """The convolution of :class:`Conv2dFunction` (same shapes as :func:`conv2d_forward`)."""
    return Conv2dFunction.apply(x, w, b, stride, padding)
