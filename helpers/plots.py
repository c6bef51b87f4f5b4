"""Figures for the notebooks. Each function draws one idea and returns its matplotlib Figure.

Tensors may live on any device; they are moved to the CPU for drawing.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib import patheffects

__all__ = ["kernels", "padding_modes", "series", "error_curve", "sliding_window", "dilated_stack",
           "receptive_growth", "image_grid", "bars", "pooling_windows", "invariance_curve",
           "shift_comparison", "receptive_stack", "value_grids", "weight_footprint", "matrix_pattern",
           "step_size_errors", "shape_flow", "confusion", "curves", "augmentation_rows"]


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
    bottom.margins(y=0.35)               # room above the tallest stem for its "w[m]" label
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


def image_grid(images: Sequence[torch.Tensor], titles: Sequence[str] | None = None, ncols: int = 4,
               cmap: str = "gray", suptitle: str = "", size: float = 2.4, colorbar: bool = False) -> plt.Figure:
    """Images side by side, each ``(H, W)`` or ``(1, H, W)``; ``cmap="RdBu_r"`` centres signed maps on 0.

    ``colorbar=True`` gives every image its colour scale.
    """
    n = len(images)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = _np(images[k].reshape(images[k].shape[-2:]))
        if cmap == "RdBu_r":
            limit = float(abs(img).max()) or 1.0
            shown = ax.imshow(img, cmap=cmap, vmin=-limit, vmax=limit)
        else:
            shown = ax.imshow(img, cmap=cmap)
        if colorbar:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def bars(values: Mapping[str, float], title: str = "", ylabel: str = "", log: bool = False) -> plt.Figure:
    """One bar per named value, the value written on top."""
    fig, ax = plt.subplots(figsize=(max(4, 1.3 * len(values)), 3))
    names, heights = list(values), list(values.values())
    ax.bar(names, heights, color="tab:blue")
    for k, v in enumerate(heights):
        ax.annotate(f"{v:.3g}", (k, v), ha="center", va="bottom", fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set(title=title, ylabel=ylabel)
    fig.tight_layout()
    return fig


def pooling_windows(x: torch.Tensor, y: torch.Tensor, kernel_size: int, stride: int | None = None,
                    title: str = "") -> plt.Figure:
    """How a pooling layer reads a small map: each output's window outlined on ``x`` in the colour of its cell in ``y``.

    Args:
        x: (H, W) or (C, H, W), one row of the figure per channel; values are written in the cells.
        y: (H_out, W_out) or (C, H_out, W_out), the pooled maps.
        kernel_size, stride: the square window and its step (None: the window size); overlapping
            windows are drawn slightly inset so that each stays visible.
    """
    x, y = (t.detach().cpu().reshape(-1, *t.shape[-2:]) for t in (x, y))
    k, s = kernel_size, kernel_size if stride is None else stride
    colors = plt.get_cmap("tab10").colors
    fig, axes = plt.subplots(len(x), 2, figsize=(7, 3.2 * len(x)), squeeze=False,
                             gridspec_kw={"width_ratios": [x.shape[-1], max(y.shape[-1], 2)]})
    for row, (xc, yc) in enumerate(zip(x, y)):
        left, right = axes[row]
        for ax, grid in ((left, xc), (right, yc)):
            ax.imshow(grid, cmap="Greys", alpha=0.25, vmin=float(xc.min()) - 1, vmax=float(xc.max()) + 1)
            for i in range(grid.shape[0]):
                for j in range(grid.shape[1]):
                    ax.text(j, i, f"{grid[i, j].item():.3g}", ha="center", va="center", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        for n, (i, j) in enumerate((a, b) for a in range(yc.shape[0]) for b in range(yc.shape[1])):
            color, inset = colors[n % len(colors)], 0.08 + 0.07 * (n % 3) * (s < k)
            left.add_patch(plt.Rectangle((j * s - 0.5 + inset, i * s - 0.5 + inset), k - 2 * inset, k - 2 * inset,
                                         fill=False, lw=2.5, ec=color))
            right.add_patch(plt.Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False, lw=2.5, ec=color))
        left.set_title(f"input {tuple(xc.shape)}: window {k}x{k}, stride {s}", fontsize=10)
        right.set_title(f"output {tuple(yc.shape)}", fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def invariance_curve(shifts: Sequence[int], changes: Mapping[str, Sequence[float]], title: str = "") -> plt.Figure:
    """Relative change of features against the shift of the input (pixels), one line per feature stage."""
    return _named_lines(changes, shifts, height=3.4, xlabel="shift of the input (pixels)",
                        ylabel="relative change of the features",
                        title=title or "pooling makes features robust to small shifts")


def _named_lines(named: Mapping[str, Sequence[float]], x: Sequence[float] | None = None, height: float = 3.4,
                 scale: str = "linear", **labels) -> plt.Figure:
    """One marked line per named series against ``x`` (None: 1, 2, ... per series); ``scale`` for the y axis,
    or ``"loglog"`` for both; ``labels``: ``title``, ``xlabel``, ``ylabel``."""
    fig, ax = plt.subplots(figsize=(7, height))
    for name, values in named.items():
        ax.plot(range(1, len(values) + 1) if x is None else x, list(values), marker="o", ms=3, label=name)
    ax.set(yscale="log" if scale == "loglog" else scale, xscale="log" if scale == "loglog" else "linear", **labels)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def shift_comparison(rows: Mapping[str, tuple[torch.Tensor, torch.Tensor]], shift,
                     changes: Mapping[str, float] | None = None) -> plt.Figure:
    """Feature maps before and after shifting the input, one row per stage.

    Args:
        rows: stage name -> (map of the original, map of the shifted input), each (H, W).
        shift: the (dy, dx) the input moved, for the titles.
        changes: stage name -> its relative change, written over the difference.
    Columns: original, shifted, |difference|, all three on the colour scale of the original, so
    a dark difference means the map barely changed.
    """
    fig, axes = plt.subplots(len(rows), 3, figsize=(9, 3 * len(rows)), squeeze=False)
    for ax_row, (name, (before, after)) in zip(axes, rows.items()):
        top = float(before.max()) or 1.0
        note = f" (change {changes[name]:.2f})" if changes and name in changes else ""
        for ax, img, label in zip(ax_row, (before, after, (after - before).abs()),
                                  ("original", f"input shifted by {tuple(shift)}", "|difference|" + note)):
            ax.imshow(_np(img), cmap="magma", vmin=0, vmax=top)
            ax.set_title(f"{name}: {label}", fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    return fig


def receptive_stack(layers: Sequence[tuple[int, int]], names: Sequence[str] | None = None) -> plt.Figure:
    """Which input pixels one output of a stack of conv / pool layers sees, in 1D (one row per layer).

    Args:
        layers: (kernel_size, stride) per layer, first layer first.
        names: a label per layer, e.g. ``["conv 3", "pool 2", "conv 3"]``.
    Each unit is drawn at the centre of the input pixels it sees; the lines follow what the
    first unit of the last layer reads, down to the input pixels (orange).
    """
    jumps, fields = [1], [1]
    for k, s in layers:
        fields.append(fields[-1] + (k - 1) * jumps[-1])
        jumps.append(jumps[-1] * s)
    length = fields[-1] + 2 * jumps[-1] + 2
    counts = [length]
    for k, s in layers:
        counts.append((counts[-1] - k) // s + 1)

    def centre(level, u):
        return u * jumps[level] + (fields[level] - 1) / 2

    fig, ax = plt.subplots(figsize=(min(14, 0.32 * length + 2), 0.9 * (len(layers) + 1) + 1.2))
    active = {0}
    for level in range(len(layers), 0, -1):
        k, s = layers[level - 1]
        ax.scatter([centre(level, u) for u in range(counts[level])], [level] * counts[level], s=22,
                   color="lightgray", zorder=2)
        below = {u * s + i for u in active for i in range(k)}
        for u in active:
            for v in range(u * s, u * s + k):
                ax.plot([centre(level - 1, v), centre(level, u)], [level - 1, level], color="tab:orange", lw=1.2)
        ax.scatter([centre(level, u) for u in active], [level] * len(active), s=34, color="tab:orange", zorder=3)
        active = below
    ax.scatter(range(length), [0] * length, s=22, color="lightgray", zorder=2)
    ax.scatter(sorted(active), [0] * len(active), s=34, color="tab:orange", zorder=3)
    labels = names or [f"k={k}, s={s}" for k, s in layers]
    ax.set_yticks(range(len(layers) + 1), ["input"] + list(labels))
    ax.set(xlabel="input pixel", title=f"one output of the last layer sees {fields[-1]} input pixels")
    ax.grid(False)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------- notebook 04 (backprop)
def value_grids(named: Mapping[str, torch.Tensor], title: str = "", cmap: str = "coolwarm",
                colorbar: bool = False, centred: bool = True) -> plt.Figure:
    """Small matrices side by side, each ``(H, W)`` drawn as a coloured grid with its values written in.

    ``centred``: the colour scale is symmetric about 0 (signed values); otherwise it runs from the
    smallest to the largest value. ``colorbar=True`` draws each grid's scale beside it.
    """
    widths = [max(1.0, g.shape[-1] / max(g.shape[-2], 1)) for g in named.values()]
    fig, axes = plt.subplots(1, len(named), figsize=(2.6 * sum(widths) + 0.6 + 0.6 * colorbar * len(named), 2.9),
                             squeeze=False, gridspec_kw={"width_ratios": widths})
    for ax, (name, grid) in zip(axes[0], named.items()):
        grid = grid.detach().cpu().reshape(grid.shape[-2:])
        bound = float(grid.abs().max()) or 1.0
        limits = (-bound, bound) if centred else (float(grid.min()), float(grid.max()))
        shown = ax.imshow(grid, cmap=cmap, vmin=limits[0], vmax=limits[1])
        for (i, j), v in ((ij, grid[ij].item()) for ij in ((a, b) for a in range(grid.shape[0]) for b in range(grid.shape[1]))):
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=9,
                    path_effects=[patheffects.withStroke(linewidth=2, foreground="white")])   # legible on any colour
        if colorbar:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        ax.set(title=name, xticks=[], yticks=[])
        ax.grid(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def weight_footprint(height: int, width: int, kernel_size: int, weights: Sequence[tuple[int, int]],
                     stride: int = 1) -> plt.Figure:
    """Which inputs one shared weight ``w[m, n]`` multiplies: ``x[i*S + m, j*S + n]`` for every output (i, j).

    One panel per weight in ``weights``; the input is ``height x width`` (no padding), the kernel
    ``kernel_size x kernel_size``. The touched inputs are numbered by the output that reads them.
    """
    k, s = kernel_size, stride
    h_out, w_out = (height - k) // s + 1, (width - k) // s + 1
    fig, axes = plt.subplots(1, len(weights), figsize=(3.3 * len(weights), 3.4), squeeze=False)
    for ax, (m, n) in zip(axes[0], weights):
        touched = torch.zeros(height, width)
        for i in range(h_out):
            for j in range(w_out):
                touched[i * s + m, j * s + n] = 1
                ax.text(j * s + n, i * s + m, f"y{i}{j}", ha="center", va="center", fontsize=8)
        ax.imshow(touched, cmap="Oranges", vmin=0, vmax=1.6)
        ax.add_patch(plt.Rectangle((-0.5, -0.5), k, k, fill=False, lw=2, ec="tab:blue"))
        ax.plot(n, m, "s", ms=14, mfc="none", mec="tab:blue", mew=2)
        ax.set(title=f"w[{m},{n}] touches {h_out * w_out} inputs", xticks=range(width), yticks=range(height))
        ax.grid(False)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    legend = [Patch(fc=plt.get_cmap("Oranges")(1 / 1.6), label="input the weight multiplies (yij: output reading it)"),
              Patch(fc="none", ec="tab:blue", lw=2, label="first window (output y00)"),
              Line2D([], [], marker="s", ls="", ms=10, mfc="none", mec="tab:blue", mew=2, label="the weight in it")]
    fig.legend(handles=legend, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(f"a {k}x{k} kernel sliding over a {height}x{width} input (stride {s}): dE/dw sums over all of them")
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig


def matrix_pattern(C: torch.Tensor, title: str = "", annotate: bool = False) -> plt.Figure:
    """The sparsity pattern of a matrix ``C: (rows, cols)``: zero entries white, the others coloured."""
    C = C.detach().cpu()
    fig, ax = plt.subplots(figsize=(min(12, 1 + 0.35 * C.shape[1]), min(6, 1 + 0.35 * C.shape[0])))
    shown = C.masked_fill(C == 0, float("nan"))
    ax.imshow(shown, cmap="viridis", aspect="equal")
    if annotate:
        for i, j in (C != 0).nonzero().tolist():
            ax.text(j, i, f"{C[i, j].item():.3g}", ha="center", va="center", fontsize=8, color="w")
    nonzero = int((C != 0).sum())
    ax.set(xlabel="input pixel (flattened)", ylabel="output (flattened)",
           title=title or f"C: {C.shape[0]}x{C.shape[1]}, {nonzero} of {C.numel()} entries non-zero")
    ax.grid(False)
    fig.tight_layout()
    return fig


def step_size_errors(eps: Sequence[float], errors: Mapping[str, Sequence[float]], title: str = "") -> plt.Figure:
    """Relative error of a finite-difference gradient against the step ``eps`` (log-log), one line per method."""
    return _named_lines(errors, eps, height=3.6, scale="loglog", xlabel="step eps",
                        ylabel="relative error vs the exact gradient",
                        title=title or "truncation error falls with eps, rounding error grows as eps shrinks")


# ------------------------------------------------------------------------- notebook 06 (architectures)
def shape_flow(rows, title: str = "", kinds: Sequence[str] = ("Conv2d", "MaxPool2d", "AvgPool2d", "Linear",
                                                                "ConvTranspose2d", "Conv3d")) -> plt.Figure:
    """The volumes a network passes through, left to right, from ``helpers.inspect_models.trace_shapes`` rows.

    Each 4D output ``(N, C, H, W)`` of a layer in ``kinds`` is a box of height proportional to
    ``H`` and width growing with ``log2(C)``; a vector ``(N, n)`` is a thin bar. Labels give
    ``H x W x C`` (the seeds' notation) and the layer kind.
    """
    import math

    stages = [(r.kind, r.shape) for r in rows if r.kind in kinds and isinstance(r.shape[0], int)]
    top = max((s[2] for _, s in stages if len(s) >= 4), default=1)
    fig, ax = plt.subplots(figsize=(min(16, 1.2 * len(stages) + 2), 3.6))
    x = 0.0
    for kind, shape in stages:
        if len(shape) >= 4:
            c, h, w = shape[1], shape[-2], shape[-1]
            height, width, label = 0.15 + 0.85 * h / top, 0.15 + 0.1 * math.log2(c), f"{h}x{w}x{c}"
            color = "tab:orange" if "Pool" in kind else "tab:blue"
        else:
            height, width, label, color = 0.1 + 0.06 * math.log2(shape[-1]), 0.12, f"{shape[-1]}", "tab:green"
        ax.add_patch(plt.Rectangle((x, -height / 2), width, height, color=color, alpha=0.7))
        ax.text(x + width / 2, -height / 2 - 0.05, label, ha="center", va="top", fontsize=7, rotation=90)
        ax.text(x + width / 2, height / 2 + 0.03, kind.replace("2d", ""), ha="center", va="bottom", fontsize=7,
                rotation=90)
        x += width + 0.25
    ax.set(xlim=(-0.2, x), ylim=(-1.15, 1.15), title=title)
    ax.axis("off")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ notebook 05: training a CNN
def confusion(matrix: torch.Tensor, classes: Sequence[str], title: str = "confusion matrix") -> plt.Figure:
    """A (K, K) count matrix (rows: true class, columns: predicted class), each count written in its cell."""
    m = _np(matrix)
    fig, ax = plt.subplots(figsize=(0.45 * len(classes) + 2, 0.45 * len(classes) + 1.5))
    ax.imshow(m, cmap="Blues")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes,
           xlabel="predicted", ylabel="true", title=title)
    ax.grid(False)
    fig.tight_layout()
    return fig


def curves(named: Mapping[str, Sequence[float]], title: str = "", xlabel: str = "epoch", ylabel: str = "",
           log: bool = False) -> plt.Figure:
    """One line per named sequence of values, against 1, 2, ... (e.g. a loss per epoch for each optimizer)."""
    return _named_lines(named, height=3, scale="log" if log else "linear", title=title, xlabel=xlabel, ylabel=ylabel)


def augmentation_rows(rows: Mapping[str, torch.Tensor], size: float = 1.2) -> plt.Figure:
    """One row per named batch (N, 1, H, W) of the same images, on a fixed [0, 1] grey scale.

    The scale is fixed (0 black, 1 white), so brightness and contrast changes stay visible.
    """
    n = max(len(batch) for batch in rows.values())
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n + 1.2, size * len(rows)), squeeze=False)
    for r, (name, batch) in enumerate(rows.items()):
        for k, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if k < len(batch):
                ax.imshow(_np(batch[k].reshape(batch[k].shape[-2:])), cmap="gray", vmin=0.0, vmax=1.0)
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig
