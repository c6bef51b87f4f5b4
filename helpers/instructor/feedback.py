"""Students' feedback (HTML) with nbgrader's ``generate_feedback``, without the hidden tests.

nbgrader's feedback is the autograded notebook, in which the hidden tests were restored. Two
preprocessors are added in front of its own: nbgrader's ``ClearHiddenTests`` removes the hidden
region of every test cell, and :class:`ShortTracebacks` reduces a failing test cell's traceback to
its last line (the check's message: what failed, a counterexample, the likely mistake), since the
traceback quotes the hidden lines.
"""

from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from .course import Course


class ShortTracebacks(NbGraderPreprocessor):
    """A test cell's error keeps only ``ename: evalue``."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


def feedback_config(course: Course):
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    config = course.config()
    config.GenerateFeedback.preprocessors = [ClearHiddenTests, ShortTracebacks, GetGrades, CSSHTMLHeaderPreprocessor]
    config.ClearHiddenTests.enforce_metadata = False
    return config


def generate_feedback(course: Course, assignment: str, students: list[str] | None = None) -> dict[str, str]:
    """Write feedback/<student>/<assignment>/*.html for each autograded student; returns {student: problem}."""
    api = course.api(feedback_config(course))
    autograded = course.folder("autograded")
    if students is None:
        students = sorted(p.name for p in autograded.iterdir() if (p / assignment).is_dir()) if autograded.is_dir() else []
    problems = {}
    for student in students:
        result = api.generate_feedback(assignment, student, force=True)
        if not result["success"]:
            problems[student] = (result.get("error") or result.get("log") or "?").strip().splitlines()[-1]
    return problems
