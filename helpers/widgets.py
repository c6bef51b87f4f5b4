"""Interactive explorers (ipywidgets). Each returns a widget to display as a cell's last line."""

from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt

from . import signals

__all__ = ["denoise_explorer"]

FILTERS = {"moving average": signals.moving_average_kernel, "triangle": signals.triangle_kernel}


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
            plt.show(fig)

    m_slider.observe(draw, names="value")
    kind.observe(draw, names="value")
    draw()
    return W.VBox([W.HBox([m_slider, kind]), out])
