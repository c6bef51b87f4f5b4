"""Figures for the notebooks. Each function draws one idea and returns its matplotlib Figure.

Tensors may live on any device; they are moved to the CPU for drawing.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

__all__ = ["kernels", "padding_modes", "series", "error_curve", "sliding_window", "dilated_stack",
           "receptive_growth"]


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def kernels(named: Mapping[str, torch.Tensor], title: str = "kernels") -> plt.Figure:
    """Stem plots of centred kernels, each ``w: (2M + 1,)`` drawn at offsets ``m = -M..M``."""
    fig, axes = plt.subplots(1, len(named), figsize=(4 * len(named), 2.8), sharey=True, squeeze=False)
    for ax, (name, w) in zip(axes[0], named.items()):
        M = (len(w) - 1) // 2
        ax.stem(range(-M, M + 1), _np(w))
        ax.set(title=f"{name}  (sum = {float(w.sum()):.3f})", xlabel="offset m")
    axes[0][0].set_ylabel("w[m]")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def padding_modes(x: torch.Tensor, M: int, pad_fn, modes: Sequence[str] = ("zero", "replicate", "reflect")) -> plt.Figure:
    """``x: (N,)`` padded by ``pad_fn(x, M, mode)`` in each mode; the added entries are shaded."""
    N = x.shape[-1]
    fig, axes = plt.subplots(1, len(modes), figsize=(4.2 * len(modes), 2.8), sharey=True)
    for ax, mode in zip(axes, modes):
        padded = _np(pad_fn(x, M, mode))
        positions = range(-M, N + M)
        colors = ["tab:orange" if (i < 0 or i >= N) else "tab:blue" for i in positions]
        ax.bar(positions, padded, color=colors)
        ax.axvspan(-M - 0.5, -0.5, color="tab:orange", alpha=0.1)
        ax.axvspan(N - 0.5, N + M - 0.5, color="tab:orange", alpha=0.1)
        ax.set(title=f"mode = {mode!r}", xlabel="index n")
    fig.suptitle(f"padding M = {M} entries on each side (orange) of N = {N} samples (blue)")
    fig.tight_layout()
    return fig


def series(t: torch.Tensor, named: Mapping[str, torch.Tensor], title: str = "", ylabel: str = "") -> plt.Figure:
    """Line plots of several ``(N,)`` series against ``t: (N,)``; a name containing 'noisy' is drawn faint."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for name, y in named.items():
        faint = "noisy" in name
        ax.plot(_np(t), _np(y), label=name, lw=0.8 if faint else 2, alpha=0.5 if faint else 1)
    ax.set(title=title, xlabel="t", ylabel=ylabel)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def error_curve(Ms: Sequence[int], errors: Mapping[str, Sequence[float]], noise_level: float | None = None) -> plt.Figure:
    """Error against the clean signal as the half-width ``M`` grows, one line per filter."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for row, (name, errs) in enumerate(errors.items()):
        line, = ax.plot(Ms, errs, marker="o", ms=3, label=name)
        best = min(range(len(errs)), key=errs.__getitem__)
        ax.annotate(f"best M = {Ms[best]}", (Ms[best], errs[best]), textcoords="offset points",
                    xytext=(0, -14 - 11 * row), ha="center", fontsize=8, color=line.get_color())
    if noise_level is not None:
        ax.axhline(noise_level, color="gray", ls="--", lw=1, label="no filtering")
    ax.set(xlabel="half-width M", ylabel="RMSE to the clean signal",
           title="too little smoothing leaves noise, too much blurs the signal")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sliding_window(x: torch.Tensor, w: torch.Tensor, n: int) -> plt.Figure:
    """How output ``n`` of the true convolution is made: the kernel ``w: (2M+1,)`` flipped over ``x: (N,)``.

    Top: ``x`` with the window ``n - M .. n + M`` shaded. Bottom: the weight each sample in the
    window receives, ``w[n - k]`` for sample ``k``, i.e. the kernel read backwards.
    """
    M, N = (len(w) - 1) // 2, len(x)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
    top.stem(range(N), _np(x))
    top.axvspan(n - M - 0.5, n + M + 0.5, color="tab:orange", alpha=0.2)
    top.set(title=f"x and the window that makes output n = {n}", ylabel="x[k]")
    ks = list(range(n - M, n + M + 1))
    bottom.stem(ks, _np(w.flip(0)), linefmt="tab:orange", markerfmt="o")
    for k, m in zip(ks, range(M, -M - 1, -1)):
        bottom.annotate(f"w[{m}]", (k, float(w[m + M])), textcoords="offset points", xytext=(0, 6), ha="center",
                        fontsize=8)
    bottom.set(title="weights: sample k gets w[n - k], so the kernel appears flipped", xlabel="k", ylabel="weight")
    fig.tight_layout()
    return fig


def dilated_stack(kernel_size: int, dilations: Sequence[int], length: int | None = None) -> plt.Figure:
    """WaveNet's picture: which inputs the last output of a stack of causal dilated convolutions sees."""
    span = 1 + sum((kernel_size - 1) * d for d in dilations)
    length = length or span + 4
    layers = len(dilations)
    fig, ax = plt.subplots(figsize=(min(14, 0.35 * length + 2), 0.9 * (layers + 1) + 1))
    active = {length - 1}
    for level in range(layers, 0, -1):
        d = dilations[level - 1]
        below = {t - i * d for t in active for i in range(kernel_size) if t - i * d >= 0}
        for t in active:
            for s in (t - i * d for i in range(kernel_size)):
                if s >= 0:
                    ax.plot([s, t], [level - 1, level], color="tab:orange", lw=1.2)
        active = below
        ax.scatter(range(length), [level] * length, s=18, color="lightgray", zorder=2)
    ax.scatter(range(length), [0] * length, s=18, color="lightgray", zorder=2)
    ax.scatter(sorted(active), [0] * len(active), s=30, color="tab:orange", zorder=3)
    ax.set_yticks(range(layers + 1), ["input"] + [f"layer {i + 1}\n(d={d})" for i, d in enumerate(dilations)])
    ax.set(xlabel="time", title=f"receptive field of the last output: {span} input samples")
    ax.grid(False)
    fig.tight_layout()
    return fig


def receptive_growth(depths: Sequence[int], fields: Mapping[str, Sequence[int]]) -> plt.Figure:
    """Receptive field against depth for several stacking rules (log scale)."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, values in fields.items():
        ax.plot(depths, values, marker="o", ms=3, label=name)
    ax.set_yscale("log", base=2)
    ax.set(xlabel="layers", ylabel="receptive field (samples)", title="dilation makes the view grow exponentially")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
