"""The setup every notebook runs first: seed, device, budget, quiet warnings, figure defaults."""

from __future__ import annotations

import os
import warnings

import torch

from .device import budget, get_device, seed_everything, under_nbgrader

FIGURES = "CNN_COURSE_FIGURES"  # set (to 1) for graded notebooks that keep their figures


def _close_figures() -> None:
    import matplotlib.pyplot as plt

    plt.close("all")


def _figures_off() -> None:
    """Build figures without drawing them, and close them after every cell.

    A graded run's figures are seen by nobody (the student's own notebook keeps them) and drawing
    them costs up to 4 s of a notebook's grading time. Plotting code still runs, so it can still fail.
    """
    try:
        import matplotlib.pyplot as plt
        from IPython import get_ipython
    except ImportError:
        return
    plt.switch_backend("agg")
    shell = get_ipython()
    if shell is not None and _close_figures not in shell.events.callbacks["post_execute"]:
        shell.events.register("post_execute", _close_figures)


def setup_notebook(seed: int = 0, verbose: bool = True) -> torch.device:
    """Seed everything, choose the device, and keep harmless warnings off stderr.

    nbgrader scores any text on stderr in a test cell as a failure, so while it runs a notebook
    (``NBGRADER_EXECUTION`` is set) every warning is silenced, torch uses one thread (graders
    run notebooks in parallel) and figures are not drawn (:func:`_figures_off`; the instructor sets
    ``CNN_COURSE_FIGURES=1`` to keep them); otherwise only the known-harmless warnings are
    silenced, and students still see the rest.

    Returns:
        the ``torch.device`` to compute on (see :func:`helpers.device.get_device`).
    """
    if under_nbgrader():
        warnings.simplefilter("ignore")
        # graders run several notebooks side by side; torch's threads would then fight over the
        # cores (tiny models ran 10x slower), so each graded kernel computes on one thread
        torch.set_num_threads(1)
        if not os.environ.get(FIGURES):
            _figures_off()
    else:
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*(pin_memory|TypedStorage|NumPy|tqdm).*")
    try:
        import matplotlib.pyplot as plt

        plt.rcParams.update({"figure.figsize": (8, 3), "figure.dpi": 90, "axes.grid": True,
                             "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False})
    except ImportError:  # plots are optional for scripts and tests
        pass
    seed_everything(seed)
    device = get_device()
    if verbose:
        print(f"device: {device}   budget: {budget()}   torch {torch.__version__}   seed {seed}")
    return device
