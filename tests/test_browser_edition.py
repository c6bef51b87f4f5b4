"""The student path inside the student edition (``cnn-course student-edition``), in a real browser.

JupyterLab serves the edition's ``course/`` with the edition's ``helpers/`` first on the kernels'
path and the Binder student view (issue 19): a student types a wrong and then the right answer into
notebook 01 and runs its check (the self-check works from stored outputs there), and Validate
answers; and each notebook, with the instructor's answers typed in, runs top to bottom in the
browser without an error. Skips without Playwright or Chromium, like tests/test_browser.py.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from browser_support import LabServer, require_browser
from nbgrading import filled_release, solution_sources
from test_edition import DEMOS_NEED_ANSWERS
from test_browser import (EXERCISE, _release_with_exercise, answer_wrong_then_right, assert_runs_cleanly,  # noqa: F401
                          assert_student_view, assert_validate_fails_only_the_unanswered, browser, notebook)

ASSIGNMENTS = sorted(p.parent.name for p in Path(__file__).resolve().parent.parent.glob("course/*/*.ipynb"))


# fails (an error in the page) if the kernel imported the instructor's helpers, which have instructor/
EDITIONS_HELPERS = ("import os, helpers\n"
                    "assert not os.path.exists(os.path.join(os.path.dirname(helpers.__file__), 'instructor')), "
                    "helpers.__file__")


@dataclass
class EditionLab(LabServer):
    """JupyterLab serving the edition's ``course/`` only (no solutions, no instructor's config)."""

    edition: Path | None = None

    def _copy_course(self) -> None:
        shutil.copytree(self.edition / "course", self.root / "course",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))


# test_browser's browser and notebook fixtures (imported above) open pages on this module's lab
@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_browser()
    from helpers.instructor.edition import build

    edition = build(tmp_path_factory.mktemp("edition") / "students").root
    with EditionLab(tmp_path_factory.mktemp("lab"), env_extra={"PYTHONPATH": str(edition)}, edition=edition) as server:
        yield server


def test_the_student_path_works_in_the_edition(lab, notebook):
    release, cells = _release_with_exercise(EXERCISE)
    relative = f"course/{release.parent.name}/{release.name}"
    assert not (lab.root / "solutions").exists() and (lab.root / relative).exists()
    nb = notebook(relative)
    validate = assert_student_view(nb)
    answer_wrong_then_right(nb, cells)
    assert_validate_fails_only_the_unanswered(nb, validate, lab.root / relative)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_notebook_of_the_edition_runs_in_the_browser_with_the_answers_typed_in(lab, notebook, assignment):
    if assignment in DEMOS_NEED_ANSWERS:
        pytest.xfail(f"{assignment}: some demonstrations still call the course's answers (tests/test_edition.py)")
    folder = lab.root / "course" / assignment
    release = nbformat.read(folder / f"{assignment}.ipynb", as_version=4)
    answered = folder / f"{assignment}-answered.ipynb"   # beside the release: its data files
    filled = filled_release(release, solution_sources(assignment))
    filled.cells.append(nbformat.v4.new_code_cell(EDITIONS_HELPERS))   # the kernel imported the edition's helpers
    nbformat.write(filled, answered)
    assert_runs_cleanly(notebook(f"course/{assignment}/{answered.name}"), answered,
                        f"the edition's {assignment} with the answers typed in")
