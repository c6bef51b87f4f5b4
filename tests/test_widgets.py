"""The explorers build their widgets for a student, and nothing while nbgrader runs the notebook."""

from __future__ import annotations

import ipywidgets as W
import pytest
import torch
from IPython.display import Markdown

from helpers import data, signals, widgets


def _relative_change(x, feature_fn, shift):
    """A stand-in for notebook 03's ``shift_change``: (N,) relative change of the features."""
    before, after = feature_fn(x), feature_fn(torch.roll(x, shifts=shift, dims=(2, 3)))
    return (after - before).flatten(1).norm(dim=1) / before.flatten(1).norm(dim=1).clamp_min(1e-12)


def _refuses(*_args):
    raise AssertionError("the explorer computed something while nbgrader ran the notebook")


EXPLORERS = {
    "denoise_explorer": lambda: widgets.denoise_explorer(signals.approval_series(n_days=80), max_M=5),
    "conv_explorer": lambda: widgets.conv_explorer(size=32),
    "shift_explorer": lambda: widgets.shift_explorer(data.shape_images(4, size=16)[0], _relative_change, max_shift=2),
}


@pytest.fixture(autouse=True)
def _no_figures_left():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_an_explorer_is_a_widget_for_a_student(name, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    explorer = EXPLORERS[name]()
    assert isinstance(explorer, W.VBox)
    assert any(isinstance(child, W.Output) for child in explorer.children)


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_under_nbgrader_an_explorer_builds_nothing_and_says_so(name, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    note = EXPLORERS[name]()
    assert isinstance(note, Markdown)
    assert note.data == widgets.NOT_BUILT.format(name=name) and "JupyterLab" in note.data


def test_under_nbgrader_an_explorer_runs_none_of_the_students_code(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    note = widgets.shift_explorer(torch.zeros(2, 1, 8, 8), _refuses)  # _refuses raises if it is called
    assert note.data == widgets.NOT_BUILT.format(name="shift_explorer")


def test_a_bad_argument_is_still_refused_with_its_name(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    with pytest.raises(ValueError, match="max_M=50"):
        widgets.denoise_explorer(signals.approval_series(n_days=60), max_M=50)
