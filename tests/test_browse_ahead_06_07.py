"""Browsing ahead in notebooks 06 and 07: each student release runs top to bottom with no exercise
answered, only check cells failing (the test of :mod:`test_browse_ahead`, for these releases).

Notebook 05 is not listed: its ``final_model`` cell is top-level training code, which the release
replaces by ``raise NotImplementedError()`` (a course model standing in would hand out the points)."""

from __future__ import annotations

import pytest

import test_browse_ahead as browse


@pytest.mark.grading
@pytest.mark.parametrize("assignment", ["06_architectures", "07_transfer_learning"])
def test_release_runs_with_no_exercise_answered(assignment, monkeypatch):
    browse.test_release_runs_with_no_exercise_answered(assignment, monkeypatch)
