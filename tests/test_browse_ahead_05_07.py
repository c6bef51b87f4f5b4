"""Browsing ahead in notebooks 05, 06 and 07: each student release runs top to bottom with no exercise
answered, only check cells failing (the test of :mod:`test_browse_ahead`, for these releases).

In 05 no course model stands in for the unanswered capstone (it would hand out the points): the cell
that calls ``train_final_model`` gets ``None`` (``helpers.notebook.result_or_none``) and the cells that
look inside the model wait for it (``waiting_for``)."""

from __future__ import annotations

import pytest

import test_browse_ahead as browse


@pytest.mark.grading
@pytest.mark.parametrize("assignment", ["05_cnn_training", "06_architectures", "07_transfer_learning"])
def test_release_runs_with_no_exercise_answered(assignment, monkeypatch):
    browse.test_release_runs_with_no_exercise_answered(assignment, monkeypatch)
