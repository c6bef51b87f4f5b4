"""Drive the real nbgrader pipeline in a temporary course root (test support, not a test file).

    root = CourseRoot.create(tmp_path, "01_conv1d_denoising")   # copies config + source, generate_assignment
    root.submit("alice", notebook)                               # submitted/alice/<assignment>/<nb>.ipynb
    scores = root.autograde_all(workers=2)                       # {student: {grade_id: (score, max)}}

A thin layer over the instructor's pipeline (:mod:`helpers.instructor`): the release is nbgrader's
``generate_assignment`` and grading is :func:`helpers.instructor.grade`, nbgrader's autograde of
every submission in parallel worker processes, merged into this root's gradebook.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from helpers.instructor import Course, grade
from helpers.instructor.course import REPO, nbgrader_environment
from helpers.instructor.release import release
from helpers.instructor.validate import grade_ids

NBGRADER = [sys.executable, "-m", "nbgrader"]
_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
__all__ = ["REPO", "NBGRADER", "run_nbgrader", "notebook_path", "cells_by_id", "solution_sources", "filled_release",
           "CourseRoot", "read_scores", "cell_output_text"]


def run_nbgrader(args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in ``cwd``; raise with its log if it fails."""
    proc = subprocess.run(NBGRADER + args, cwd=cwd, env=nbgrader_environment(), capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def notebook_path(folder: Path, assignment: str) -> Path:
    return folder / assignment / f"{assignment}.ipynb"


def cells_by_id(nb) -> dict[str, nbformat.NotebookNode]:
    return grade_ids(nb)


def solution_sources(assignment: str) -> dict[str, str]:
    """The instructor's answer of every solution cell, as a student would type it (markers removed)."""
    nb = nbformat.read(notebook_path(REPO / "solutions", assignment), as_version=4)
    return {gid: "\n".join(line for line in c.source.splitlines() if not _MARKER.match(line))
            for gid, c in cells_by_id(nb).items() if c.metadata["nbgrader"].get("solution")}


def filled_release(release_nb, answers: dict[str, str]):
    """A copy of the student release with solution cells replaced by ``answers`` (grade_id -> source)."""
    nb = copy.deepcopy(release_nb)
    cells = cells_by_id(nb)
    for gid, source in answers.items():
        cells[gid].source = source
    return nb


@dataclass
class CourseRoot:
    path: Path
    assignment: str

    @classmethod
    def create(cls, tmp: Path, assignment: str) -> "CourseRoot":
        """A fresh course root with our config and the assignment's source, released with nbgrader."""
        root = tmp / "course_root"
        root.mkdir(parents=True)
        shutil.copy(REPO / "nbgrader_config.py", root)
        shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
        release(Course(root), [assignment])
        return cls(root, assignment)

    @property
    def release(self) -> Path:
        return notebook_path(self.path / "course", self.assignment)

    def release_notebook(self):
        return nbformat.read(self.release, as_version=4)

    def submit(self, student: str, nb) -> None:
        target = notebook_path(self.path / "submitted" / student, self.assignment)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)

    def students(self) -> list[str]:
        return sorted(p.name for p in (self.path / "submitted").iterdir())

    def autograde_all(self, workers: int = 2) -> dict[str, dict[str, tuple[float, float]]]:
        """Autograde every submitted student; return each student's score per graded cell."""
        grade(Course(self.path), self.assignment, self.students(), workers=workers, progress=False)
        return read_scores(self.path, self.assignment)

    def autograded_notebook(self, student: str):
        path = notebook_path(self.path / "autograded" / student, self.assignment)
        if not path.exists():
            raise FileNotFoundError(f"no autograded notebook for {student}")
        return nbformat.read(path, as_version=4)


def read_scores(root: Path, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Every student's (score, max_score) per graded cell, from the gradebook of ``root``."""
    from helpers.instructor.gradebook import scores

    with Course(root).gradebook() as gb:
        return scores(gb, assignment)


def cell_output_text(nb, grade_id: str) -> str:
    """All text a cell printed (stdout, stderr, error messages)."""
    cell = cells_by_id(nb)[grade_id]
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(parts)
