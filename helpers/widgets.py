"""Interactive explorers (ipywidgets). Each returns a widget to display as a cell's last line.

While nbgrader runs a notebook (validate or autograde: ``NBGRADER_EXECUTION`` is set) an explorer
builds no widget and returns a one-line note instead: nobody can move its sliders there, and
nbclient can miss the kernel's reply to a cell with an ``Output`` widget and wait out the cell's
time limit (nbclient issue 312), which could make a student's Validate slow for nothing.
"""

from __future__ import annotations

import functools

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from . import signals
from .device import under_nbgrader

__all__ = ["denoise_explorer", "conv_explorer", "shift_explorer"]

FILTERS = {"moving average": signals.moving_average_kernel, "triangle": signals.triangle_kernel}
NOT_BUILT = "*{name}: an interactive explorer, not built while nbgrader runs this notebook; open it in JupyterLab.*"


def _interactive_only(explorer):
    """``explorer`` as is, except under nbgrader, where it returns :data:`NOT_BUILT` as Markdown."""

    @functools.wraps(explorer)
    def built_when_interactive(*args, **kwargs):
        if under_nbgrader():
            return Markdown(NOT_BUILT.format(name=explorer.__name__))
        return explorer(*args, **kwargs)

    return built_when_interactive


@_interactive_only
def denoise_explorer(series: signals.Series, max_M: int = 30, padding: str = "replicate") -> W.VBox:
    """Sliders for the half-width ``M`` and the filter type over a noisy series.

    Shows the noisy, clean and denoised curves and the error of the denoised one against the clean
    signal, so a student can feel "too little" and "too much" smoothing.

    Args:
        series: a :class:`helpers.signals.Series` (``t``, ``clean``, ``noisy``, each ``(N,)``).
        max_M: the largest half-width on the slider (must satisfy ``2 * max_M + 1 <= N``).
        padding: the boundary mode used by the filter (see :func:`helpers.signals.pad`).
    """
    if 2 * max_M + 1 > series.noisy.shape[-1]:
        raise ValueError(f"denoise_explorer: max_M={max_M} needs at least {2 * max_M + 1} samples, "
                         f"the series has {series.noisy.shape[-1]}")
    m_slider = W.IntSlider(value=4, min=0, max=max_M, description="M")
    kind = W.Dropdown(options=list(FILTERS), value="moving average", description="filter")
    out = W.Output()

    def draw(*_):
        w = FILTERS[kind.value](m_slider.value, dtype=series.noisy.dtype)
        smooth = signals.conv1d(series.noisy, w, mode="same", padding=padding)
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(9, 3.2))
            ax.plot(series.t, series.noisy, lw=0.8, alpha=0.45, label="noisy")
            ax.plot(series.t, series.clean, lw=2, color="k", label="clean")
            ax.plot(series.t, smooth, lw=2, color="tab:orange", label=f"{kind.value}, M = {m_slider.value}")
            ax.set(title=f"RMSE to clean: {signals.rmse(smooth, series.clean):.3f}   "
                         f"(noisy: {signals.rmse(series.noisy, series.clean):.3f})", xlabel="day")
            ax.legend(fontsize=8, loc="upper right")
            display(fig)
            plt.close(fig)

    m_slider.observe(draw, names="value")
    kind.observe(draw, names="value")
    draw()
    return W.VBox([W.HBox([m_slider, kind]), out])


@_interactive_only
def conv_explorer(image=None, size: int = 128) -> W.VBox:
    """A kernel picker and stride / padding / dilation sliders over a photograph.

    Shows the input, the feature map ``conv2d(image, kernel)`` and the output size given by
    ``floor((L + 2P - D(W - 1) - 1) / S) + 1``, so a student sees each argument's effect.

    Args:
        image: (1, H, W) grayscale in [0, 1]; default scikit-image's ``camera`` at ``size`` x ``size``.
    """
    import torch
    import torch.nn.functional as F

    from . import data, features

    image = data.sample_image("camera", size=size) if image is None else image
    kernels = {**features.edge_kernels(image.dtype),
               **{f"direction {45 * i} deg": k for i, k in enumerate(features.directional_kernels(image.dtype))},
               "blur 5x5": torch.full((5, 5), 1 / 25, dtype=image.dtype)}
    pick = W.Dropdown(options=list(kernels), value="vertical", description="kernel")
    stride = W.IntSlider(value=1, min=1, max=4, description="stride S")
    padding = W.IntSlider(value=0, min=0, max=4, description="padding P")
    dilation = W.IntSlider(value=1, min=1, max=4, description="dilation D")
    out = W.Output()

    def draw(*_):
        k = kernels[pick.value]
        y = F.conv2d(image[None], k[None, None], stride=stride.value, padding=padding.value, dilation=dilation.value)
        H, Wd = image.shape[-2:]
        sizes = tuple(y.shape[-2:])  # the map's own size, which the formula in the title predicts
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
            axes[0].imshow(image[0], cmap="gray")
            axes[0].set_title(f"input {H} x {Wd}")
            axes[1].imshow(y[0, 0], cmap="RdBu_r")
            axes[1].set_title(f"feature map {sizes[0]} x {sizes[1]} = floor(({H} + 2*{padding.value} - "
                              f"{dilation.value}*({k.shape[0]}-1) - 1)/{stride.value}) + 1")
            for ax in axes:
                ax.axis("off")
            display(fig)
            plt.close(fig)

    for control in (pick, stride, padding, dilation):
        control.observe(draw, names="value")
    draw()
    return W.VBox([W.HBox([pick, stride]), W.HBox([padding, dilation]), out])


@_interactive_only
def shift_explorer(images, measure, max_shift: int = 6) -> W.VBox:
    """Shift an image and watch its feature maps before and after pooling.

    Sliders pick the image, the shift (dy rows down, dx columns right, circular), one of the 8
    directional edge kernels, the pooling window (1 = no pooling) and max or average pooling.
    Rows: conv + ReLU maps, then the pooled maps; columns: original, shifted, |difference|. Each
    row's title gives ``measure(x, feature_fn, (dy, dx))``, the relative change over all 8 maps.

    Args:
        images: (N, 1, H, W) grayscale images, e.g. from :func:`helpers.data.shape_images`.
        measure: ``shift_change(x, feature_fn, shift) -> (N,)`` (notebook 03's exercise).
        max_shift: the largest shift on the sliders, in pixels.
    """
    import torch

    from . import features, plots, pooling

    which = W.IntSlider(value=0, min=0, max=images.shape[0] - 1, description="image")
    dy = W.IntSlider(value=1, min=-max_shift, max=max_shift, description="dy (down)")
    dx = W.IntSlider(value=0, min=-max_shift, max=max_shift, description="dx (right)")
    kernel = W.IntSlider(value=0, min=0, max=7, description="kernel")
    window = W.IntSlider(value=2, min=1, max=4, description="pool window")
    mode = W.Dropdown(options=list(pooling.MODES), value="max", description="mode")
    out = W.Output()

    def draw(*_):
        x = images[which.value:which.value + 1]
        shift = (dy.value, dx.value)
        stages = {"conv + ReLU": features.edge_maps,
                  f"{window.value}x{window.value} {mode.value} pooled":
                      lambda t: pooling.pool2d(features.edge_maps(t), window.value, mode=mode.value)}
        shifted = torch.roll(x, shifts=shift, dims=(2, 3))
        rows = {name: (fn(x)[0, kernel.value], fn(shifted)[0, kernel.value]) for name, fn in stages.items()}
        changes = {name: float(measure(x, fn, shift)[0]) for name, fn in stages.items()}
        with out:
            out.clear_output(wait=True)
            fig = plots.shift_comparison(rows, shift, changes)
            display(fig)
            plt.close(fig)

    for control in (which, dy, dx, kernel, window, mode):
        control.observe(draw, names="value")
    draw()
    return W.VBox([W.HBox([which, kernel, mode]), W.HBox([dy, dx, window]), out])
