"""Convolution in 1D: the reference implementations and the time series of notebook 01.

Conventions (seed 002): a kernel ``w`` has odd length ``K = 2M + 1`` and is indexed by
``m = -M..M``, stored at position ``m + M``. The *true* convolution is

    (x * w)[n] = sum_{m=-M}^{M} x[n - m] w[m]

and the *cross-correlation* (what deep-learning libraries call convolution) is
``sum_m x[n + m] w[m]``: the same thing with the kernel flipped.

Every function takes and returns torch tensors, keeps the input's device and dtype, and works
on any batch shape in front of the signal axis: ``x: (..., N)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import _validate as check

PADDINGS = ("zero", "replicate", "reflect")
MODES = ("valid", "same", "full")

__all__ = [
    "PADDINGS", "MODES", "moving_average_kernel", "triangle_kernel", "pad", "output_length", "conv1d",
    "causal_conv1d", "receptive_field", "wavenet_dilations", "Series", "approval_series", "rmse",
]


def _kernel_support(where: str, M: int, dtype, device) -> torch.Tensor:
    check.integer(where, "M", M, minimum=0)
    dtype = dtype or torch.get_default_dtype()
    if not dtype.is_floating_point:
        raise TypeError(f"{where}: dtype must be a floating-point dtype such as torch.float64, got {dtype}")
    return torch.arange(-M, M + 1, dtype=dtype, device=device)


def moving_average_kernel(M: int, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """The moving average ``w_m = 1 / (2M + 1)`` for ``m = -M..M``.

    Args:
        M: half-width, an int >= 0.
    Returns:
        w: (2M + 1,) weights that sum to 1.
    """
    m = _kernel_support("moving_average_kernel", M, dtype, device)
    return torch.full_like(m, 1.0 / (2 * M + 1))


def triangle_kernel(M: int, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """The triangle ``w_m = (M + 1 - |m|) / (M + 1)^2`` for ``m = -M..M`` (seed 002).

    Args:
        M: half-width, an int >= 0.
    Returns:
        w: (2M + 1,) weights that sum to 1; ``triangle_kernel(1) == [1/4, 1/2, 1/4]``.
    """
    m = _kernel_support("triangle_kernel", M, dtype, device)
    return (M + 1 - m.abs()) / (M + 1) ** 2


def pad(x: torch.Tensor, M: int, mode: str = "zero") -> torch.Tensor:
    """Add ``M`` entries to both ends of the last axis.

    Args:
        x: (..., N) signal(s).
        M: entries to add on *each* side, an int >= 0.
        mode: ``"zero"`` (0, 0 | x | 0, 0), ``"replicate"`` (x0, x0 | x | xN, xN) or
            ``"reflect"`` (x2, x1 | x0 ... | ...), the mirror that does not repeat the edge
            value; reflect needs ``M <= N - 1``.
    Returns:
        (..., N + 2M)
    """
    check.tensor("pad", "x", x)
    check.integer("pad", "M", M, minimum=0)
    check.choice("pad", "mode", mode, PADDINGS)
    N = x.shape[-1]
    if N == 0:
        raise ValueError("pad: x is empty along its last axis; pass at least one sample")
    if mode == "reflect" and M > N - 1:
        raise ValueError(f"pad: mode='reflect' needs M <= N - 1 = {N - 1}, got M={M}; "
                         "use a shorter kernel or mode='replicate'")
    if mode == "zero":
        zeros = x.new_zeros(*x.shape[:-1], M)
        return torch.cat([zeros, x, zeros], dim=-1)
    index = torch.arange(-M, N + M, device=x.device)
    if mode == "replicate":
        index = index.clamp(0, N - 1)
    else:
        index = index.abs()
        index = torch.where(index > N - 1, 2 * (N - 1) - index, index)
    return x[..., index]


def output_length(N: int, K: int, mode: str) -> int:
    """Output length of a 1D convolution of N samples with a K = 2M + 1 kernel.

    ``valid``: N - 2M (no padding); ``same``: N (M each side); ``full``: N + 2M (2M each side).
    """
    check.integer("output_length", "N", N, minimum=1)
    check.integer("output_length", "K", K, minimum=1)
    check.choice("output_length", "mode", mode, MODES)
    if K % 2 == 0:
        raise ValueError(f"output_length: K={K} is even; kernels here have odd length 2M + 1")
    M = (K - 1) // 2
    return {"valid": N - 2 * M, "same": N, "full": N + 2 * M}[mode]


def conv1d(x: torch.Tensor, w: torch.Tensor, mode: str = "same", padding: str = "zero",
           flip: bool = True) -> torch.Tensor:
    """1D convolution of each signal in ``x`` with one centred kernel ``w``.

    Args:
        x: (..., N) signal(s).
        w: (K,) kernel, K = 2M + 1 odd, ``w[m + M]`` is the weight of offset ``m``.
        mode: ``"valid"`` -> (..., N - 2M), ``"same"`` -> (..., N), ``"full"`` -> (..., N + 2M).
        padding: how the missing samples are filled (see :func:`pad`).
        flip: True for the true convolution ``sum_m x[n-m] w[m]``, False for the
            cross-correlation ``sum_m x[n+m] w[m]`` that ``torch.nn.functional.conv1d`` computes.
    Returns:
        y: (..., L_out) with ``L_out = output_length(N, K, mode)``.
    """
    check.tensor("conv1d", "x", x)
    check.tensor("conv1d", "w", w, min_dim=1, max_dim=1)
    check.choice("conv1d", "mode", mode, MODES)
    check.choice("conv1d", "padding", padding, PADDINGS)
    if not isinstance(flip, bool):
        raise TypeError(f"conv1d: flip must be True (convolution) or False (cross-correlation), got {flip!r}")
    check.same_device("conv1d", x=x, w=w)
    K = w.shape[0]
    if K % 2 == 0:
        raise ValueError(f"conv1d: w has even length {K}; kernels here are centred on m = -M..M "
                         "and so have odd length 2M + 1")
    M = (K - 1) // 2
    N = x.shape[-1]
    if mode == "valid" and N < K:
        raise ValueError(f"conv1d: mode='valid' needs N >= K, got N={N} samples and a kernel of length {K}")
    P = {"valid": 0, "same": M, "full": 2 * M}[mode]
    if padding == "reflect" and P > N - 1:
        raise ValueError(f"conv1d: mode={mode!r} with padding='reflect' pads {P} samples per side, which needs "
                         f"N >= {P + 1} samples, got N={N}; use padding='replicate' or a shorter kernel w")
    windows = pad(x, P, padding).unfold(-1, K, 1)  # (..., L_out, K): windows[..., j, k] = x_pad[j + k]
    return windows @ (w.flip(0) if flip else w)


def causal_conv1d(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None,
                  dilation: int = 1) -> torch.Tensor:
    """Causal, dilated, multi-channel 1D convolution as ``torch.nn.Conv1d`` sees it.

    ``y[b, o, t] = bias[o] + sum_c sum_i w[o, c, i] * x[b, c, t - (K - 1 - i) * dilation]``
    with ``x[..., s] = 0`` for ``s < 0``: the last tap ``w[..., K-1]`` sees the present sample,
    tap ``i`` the sample ``(K - 1 - i) * dilation`` steps in the past, and nothing sees the future.

    Args:
        x: (N, C_in, L) batch of multi-channel signals.
        w: (C_out, C_in, K) kernels.
        bias: (C_out,) or None.
        dilation: spacing between taps, an int >= 1.
    Returns:
        y: (N, C_out, L), the same length as the input.
    """
    check.tensor("causal_conv1d", "x", x, min_dim=3, max_dim=3)
    check.tensor("causal_conv1d", "w", w, min_dim=3, max_dim=3)
    check.integer("causal_conv1d", "dilation", dilation, minimum=1)
    if bias is not None:
        check.tensor("causal_conv1d", "bias", bias, min_dim=1, max_dim=1)
    check.same_device("causal_conv1d", x=x, w=w, bias=bias)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"causal_conv1d: w has {w.shape[1]} input channels (shape {tuple(w.shape)}) "
                         f"but x has {x.shape[1]} (shape {tuple(x.shape)})")
    if bias is not None and tuple(bias.shape) != (w.shape[0],):
        raise ValueError(f"causal_conv1d: bias must have shape ({w.shape[0]},), got {tuple(bias.shape)}")
    left = (w.shape[-1] - 1) * dilation
    return F.conv1d(F.pad(x, (left, 0)), w, bias, dilation=dilation)


def receptive_field(kernel_size: int, dilations) -> int:
    """Input samples one output of a stack of 1D convolutions sees.

    Each layer with kernel ``K`` and dilation ``d`` widens the view by ``(K - 1) * d``:
    ``1 + sum_l (K - 1) * d_l``. WaveNet's ``K = 2``, ``d = 1, 2, 4, ..., 2^(L-1)`` gives ``2^L``.

    Args:
        kernel_size: K, an int >= 1, the same in every layer.
        dilations: one int >= 1 per layer.
    """
    check.integer("receptive_field", "kernel_size", kernel_size, minimum=1)
    try:
        dilations = list(dilations)
    except TypeError:
        raise TypeError(f"receptive_field: dilations must be a list with one int per layer, got {dilations!r}") from None
    for d in dilations:
        check.integer("receptive_field", "each dilation", d, minimum=1)
    return 1 + sum((kernel_size - 1) * d for d in dilations)


def wavenet_dilations(layers: int) -> list[int]:
    """``[1, 2, 4, ..., 2^(layers - 1)]``: the dilations of one WaveNet block."""
    check.integer("wavenet_dilations", "layers", layers, minimum=0)
    return [2**i for i in range(layers)]


@dataclass(frozen=True)
class Series:
    """A time series: ``t`` (N,) day numbers, ``clean`` (N,) the smooth truth, ``noisy`` (N,) what we observe."""

    t: torch.Tensor
    clean: torch.Tensor
    noisy: torch.Tensor


def approval_series(n_days: int = 365, noise: float = 2.5, seed: int = 0,
                    dtype: torch.dtype = torch.float64) -> Series:
    """A jagged daily series like seed 002's approval ratings: a smooth trend plus daily noise.

    The clean signal is a slow drift (a few sinusoids with periods of months) around 45%;
    the noise is independent Gaussian with standard deviation ``noise`` percentage points.
    The same ``seed`` always gives the same series, on any machine.

    Returns:
        a :class:`Series` with tensors of shape (n_days,).
    """
    check.integer("approval_series", "n_days", n_days, minimum=2)
    check.integer("approval_series", "seed", seed)
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"approval_series: noise must be >= 0 (a number), got {noise!r}")
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(n_days, dtype=dtype)
    periods = torch.tensor([180.0, 75.0, 40.0], dtype=dtype)
    amplitudes = torch.tensor([4.0, 2.0, 1.0], dtype=dtype)
    phases = 2 * math.pi * torch.rand(3, generator=gen, dtype=dtype)
    waves = amplitudes[:, None] * torch.sin(2 * math.pi * t[None, :] / periods[:, None] + phases[:, None])
    clean = 45.0 + waves.sum(0) - 3.0 * t / n_days
    noisy = clean + noise * torch.randn(n_days, generator=gen, dtype=dtype)
    return Series(t=t, clean=clean, noisy=noisy)


def rmse(estimate: torch.Tensor, truth: torch.Tensor) -> float:
    """Root-mean-square error between two (..., N) tensors of the same shape."""
    if estimate.shape != truth.shape:
        raise ValueError(f"rmse: estimate has shape {tuple(estimate.shape)} but truth has {tuple(truth.shape)}")
    return float(((estimate - truth) ** 2).mean().sqrt())
