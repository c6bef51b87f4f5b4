"""Move one student's autograded results between nbgrader gradebooks, through nbgrader's Gradebook API.

Every grading work root has its own small gradebook; :func:`read_results` takes a student's
results out of it and :func:`merge` writes them into the instructor's, once per (assignment,
student): every grade is set, never added, so re-grading replaces and nothing counts twice.
Scores are clamped to the instructor's maximum; manual scores and comments are kept.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from sqlalchemy.exc import SAWarning


@dataclass
class Results:
    """A student's autograded results for one assignment: per notebook, per cell."""

    timestamp: object = None
    scores: dict = field(default_factory=dict)  # notebook -> {grade_id: auto_score or None}
    comments: dict = field(default_factory=dict)  # notebook -> {grade_id: auto_comment}
    penalties: dict = field(default_factory=dict)  # notebook -> late submission penalty

    def complete(self, notebook: str) -> bool:
        """Whether nbgrader saved a score for every autograded cell of ``notebook``."""
        return notebook in self.scores and all(s is not None for s in self.scores[notebook].values())


def read_results(gradebook, assignment: str, student: str) -> Results:
    from nbgrader.api import MissingEntry

    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return Results()
    results = Results(timestamp=submission.timestamp)
    for nb in submission.notebooks:
        results.scores[nb.name] = {g.name: g.auto_score for g in nb.grades if g.cell.cell_type == "code"}
        results.comments[nb.name] = {c.name: c.auto_comment for c in nb.comments}
        results.penalties[nb.name] = nb.late_submission_penalty
    return results


def merge(gradebook, assignment: str, student: str, results: Results, failed: set, manual: set = frozenset()) -> dict:
    """Write ``results`` into ``gradebook``; the notebooks in ``failed`` score 0 and need a manual look,
    so do the cells (grade ids) in ``manual``.

    Returns {grade_id: (score, max_score)} as stored.
    """
    gradebook.update_or_create_student(student)
    kwargs = {"timestamp": results.timestamp} if results.timestamp is not None else {}
    with warnings.catch_warnings():  # nbgrader's own autoflush warning on a new submission
        warnings.simplefilter("ignore", category=SAWarning)
        submission = gradebook.update_or_create_submission(assignment, student, **kwargs)
    stored = {}
    for nb in submission.notebooks:
        ok = nb.name not in failed and results.complete(nb.name)
        for grade in nb.grades:
            score = results.scores.get(nb.name, {}).get(grade.name) if ok else 0.0
            if grade.cell.cell_type != "code":  # a written answer: nbgrader leaves it to a person
                continue
            grade.auto_score = min(max(float(score or 0.0), 0.0), grade.max_score)
            grade.needs_manual_grade = not ok or grade.name in manual
            stored[grade.name] = (grade.auto_score, grade.max_score)
        for comment in nb.comments:
            comment.auto_comment = results.comments.get(nb.name, {}).get(comment.name) if ok else (
                "This notebook could not be graded automatically; the instructor will look at it.")
        nb.flagged = nb.flagged or not ok or any(grade.name in manual for grade in nb.grades)
        if ok and results.penalties.get(nb.name) is not None:
            nb.late_submission_penalty = results.penalties[nb.name]
    gradebook.db.commit()
    return stored


def scores(gradebook, assignment: str) -> dict:
    """{student: {grade_id: (score, max_score)}} of every submission of ``assignment``."""
    out = {}
    for submission in gradebook.assignment_submissions(assignment):
        out[submission.student.id] = {g.name: (g.score, g.max_score) for nb in submission.notebooks for g in nb.grades}
    return out
