"""Grades to CSV: nbgrader's own ``export`` (one row per student and assignment), and optionally one
row per student and test cell."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from .course import Course, nbgrader_environment


def export(course: Course, to: Path, assignments: list[str] | None = None) -> Path:
    """``nbgrader export`` of the course's gradebook to ``to`` (CSV)."""
    to = Path(to).resolve()
    args = [sys.executable, "-m", "nbgrader", "export", f"--to={to}", f"--db={course.db_url}"]
    if assignments:
        args.append(f"--CsvExportPlugin.assignment={list(assignments)!r}")
    proc = subprocess.run(args, cwd=course.root, env=nbgrader_environment(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader export failed:\n{proc.stdout}\n{proc.stderr}")
    return to


def export_tests(course: Course, to: Path, assignments: list[str] | None = None) -> Path:
    """One row per (student, assignment, test cell): score and max_score."""
    from .gradebook import scores

    with course.gradebook() as gb, open(to, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["student", "assignment", "cell", "score", "max_score"])
        for assignment in assignments or [a.name for a in gb.assignments]:
            for student, cells in sorted(scores(gb, assignment).items()):
                for cell, (score, max_score) in sorted(cells.items()):
                    writer.writerow([student, assignment, cell, score, max_score])
    return Path(to)
