"""A student can browse ahead: each student release runs top to bottom with no exercise answered.

Demonstrations that need an exercise use ``helpers.notebook.yours_or_ours`` (the course's version
until the student's works), so the only cells allowed to fail are the check cells (nbgrader
``grade: true``), whose job is to say that the exercise is not done.
"""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from nbgrading import REPO, notebook_path

BROWSABLE = ["01_conv1d_denoising", "02_conv2d_edges", "03_pooling", "04_conv_backprop"]


def _is_check_cell(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("grade"))


@pytest.mark.grading
@pytest.mark.parametrize("assignment", BROWSABLE)
def test_release_runs_with_no_exercise_answered(assignment, monkeypatch):
    path = notebook_path(REPO / "course", assignment)
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))
    for name in ("NBGRADER_EXECUTION", "COURSE_BUDGET", "CI"):     # as a student runs it: the full budget
        monkeypatch.delenv(name, raising=False)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    failed = [(index, output.get("ename"), output.get("evalue"))
              for index, cell in enumerate(nb.cells) if cell.cell_type == "code" and not _is_check_cell(cell)
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not failed, f"{assignment}: demonstration cells fail before their exercise is answered: {failed}"
    notes = [index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"
             for output in cell.get("outputs", []) if "not done yet: showing the course's version" in output.get("text", "")]
    assert notes, f"{assignment}: no demonstration said it showed the course's version"
    checks_failing = [index for index, cell in enumerate(nb.cells) if _is_check_cell(cell)
                      and any(o.get("output_type") == "error" for o in cell.get("outputs", []))]
    assert checks_failing, f"{assignment}: no check cell failed, so the release was not run unanswered"
