"""Drive the real nbgrader pipeline in a temporary course root (test support, not a test file).

    root = CourseRoot.create(tmp_path, "01_conv1d_denoising")   # copies config + source, generate_assignment
    root.submit("alice", notebook)                               # submitted/alice/<assignment>/<nb>.ipynb
    scores = root.autograde_all(workers=2)                       # {student: {grade_id: (score, max)}}

Autograding is batched: every submission is a student of one run. With ``workers > 1`` the
prepared root (its gradebook holds the hidden tests) is copied once per worker and each worker
grades its share of the students; nbgrader has no parallel autograde of its own.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NBGRADER = [sys.executable, "-m", "nbgrader"]
_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def run_nbgrader(args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` in ``cwd``; raise with its log if it fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_EXECUTION", "CI")}
    # nbgrader runs `alembic` by name: the environment's own bin directory must come first on PATH
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run(NBGRADER + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def notebook_path(folder: Path, assignment: str) -> Path:
    return folder / assignment / f"{assignment}.ipynb"


def cells_by_id(nb) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


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
        run_nbgrader(["generate_assignment", assignment, "--force"], cwd=root)
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
        students = self.students()
        shards = [students[i::workers] for i in range(workers) if students[i::workers]]
        roots = [self.path] + [self._clone(i, shard) for i, shard in enumerate(shards[1:], start=1)]
        if len(shards) > 1:  # the first root grades only its own share
            self._keep_only(self.path, shards[0])
        with ThreadPoolExecutor(len(shards)) as pool:
            results = list(pool.map(self._grade_root, roots))
        merged: dict = {}
        for result in results:
            merged.update(result)
        return merged

    def _clone(self, index: int, shard: list[str]) -> Path:
        clone = self.path.with_name(f"{self.path.name}_worker{index}")
        shutil.copytree(self.path, clone)
        self._keep_only(clone, shard)
        return clone

    @staticmethod
    def _keep_only(root: Path, shard: list[str]) -> None:
        for folder in (root / "submitted").iterdir():
            if folder.name not in shard:
                shutil.move(str(folder), str(root / f"not_mine_{folder.name}"))

    def _grade_root(self, root: Path) -> dict[str, dict[str, tuple[float, float]]]:
        run_nbgrader(["autograde", self.assignment, "--force"], cwd=root)
        return read_scores(root, self.assignment)

    def autograded_notebook(self, student: str):
        for root in [self.path, *sorted(self.path.parent.glob(f"{self.path.name}_worker*"))]:
            path = notebook_path(root / "autograded" / student, self.assignment)
            if path.exists():
                return nbformat.read(path, as_version=4)
        raise FileNotFoundError(f"no autograded notebook for {student}")


def read_scores(root: Path, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Every student's (score, max_score) per graded cell, from the gradebook of ``root``."""
    from nbgrader.api import Gradebook

    scores: dict = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in gb.students:
            try:
                submission = gb.find_submission(assignment, student.id)
            except Exception:  # no submission from this student in this root
                continue
            scores[student.id] = {g.name: (g.score, g.max_score) for nb in submission.notebooks for g in nb.grades}
    return scores


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
