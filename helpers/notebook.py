"""The setup every notebook runs first (seed, device, budget, quiet warnings, figure defaults), and
:func:`yours_or_ours`, which lets a demonstration run before the exercise it needs is answered, and
:func:`median_time`, the timing the notebooks' speed comparisons use; :func:`result_or_none` and
:func:`waiting_for`, which let the cells after a trained-model exercise wait for it quietly."""

from __future__ import annotations

import functools
import os
import time
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


def yours_or_ours(yours, ours, probe=None):
    """Your function where it is written, else the course's, so every demonstration runs.

    A demonstration that needs an exercise not yet answered would stop with the release's
    ``NotImplementedError``; wrapped, it shows the course's version with a one-line note instead,
    and yours as soon as it works::

        padded = yours_or_ours(pad, signals.pad)(x, 2, "reflect")

    "Works" means "does not raise ``NotImplementedError``" (the stub every exercise starts as):
    cheap, and any other error is a bug of yours that the demonstration should show you, so it
    propagates. The check cells never use this: they grade your function alone.

    Args:
        yours: your function (or class).
        ours: the course's version with the same contract.
        probe: ``None``: return a wrapper that tries ``yours`` at every call and falls back to
            ``ours`` for that call. A function ``probe(candidate)``: call it once now on ``yours``
            (needed when the stub raises later than the call, e.g. an autograd ``Function``'s
            ``backward``) and return ``yours`` or ``ours`` itself.

    Returns:
        a callable with the contract of ``yours``.
    """
    name = getattr(yours, "__name__", "function")
    note = f"your `{name}` is not done yet: showing the course's version"
    if probe is not None:
        try:
            probe(yours)
        except NotImplementedError:
            print(note)
            return ours
        return yours
    noted = []                       # print the note once per wrapper, not once per call

    @functools.wraps(yours)
    def call(*args, **kwargs):
        try:
            return yours(*args, **kwargs)
        except NotImplementedError:
            if not noted:
                print(note)
                noted.append(True)
            return ours(*args, **kwargs)

    return call


def result_or_none(exercise, *args, **kwargs):
    """``exercise(*args, **kwargs)``, or ``None`` with a one-line note while it is the release's stub.

    For an exercise whose *result* the rest of the notebook uses (a trained model): no course
    version may stand in for it (that would hand out its points), so the cells after it wait with
    :func:`waiting_for` instead. Any error other than ``NotImplementedError`` is yours and propagates.
    """
    try:
        return exercise(*args, **kwargs)
    except NotImplementedError:
        print(f"your `{getattr(exercise, '__name__', 'function')}` is not done yet: the cells that need its "
              "result will wait for it")
        return None


def waiting_for(result, name: str) -> bool:
    """True (and a one-line note) while ``result`` is ``None``: the cell then skips its demonstration."""
    if result is None:
        print(f"waiting for `{name}`: this cell runs once the exercise above is answered")
    return result is None


def median_time(fn, repeat: int = 5) -> tuple[float, float]:
    """Time one call of ``fn()``: the median and the interquartile range, in seconds, of ``repeat`` runs.

    A shared or busy machine makes single timings jump; the median of several runs after one
    warm-up call does not let a busy moment decide a ranking. The runs use **one thread**: on a
    loaded machine torch's worker threads wait for free cores, which made a 0.1 ms convolution
    take 60 ms with 2 threads (and Python loops, which run on one thread anyway, look fast).
    """
    if not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"median_time: repeat must be an int >= 1, got {repeat!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fn()                                     # warm up: first calls pay one-off costs
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    quartiles = torch.tensor(times, dtype=torch.float64).quantile(torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
    return float(quartiles[1]), float(quartiles[2] - quartiles[0])
