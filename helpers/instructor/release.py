"""Regenerate the student release (course/) from the instructor notebooks (solutions/) with nbgrader."""

from __future__ import annotations

from .course import Course


def release(course: Course, assignments: list[str] | None = None) -> list[str]:
    """``nbgrader generate_assignment --force`` for each assignment (default: all); returns their names.

    Also records the assignment, its cells and hidden tests in the course's gradebook, which
    grading needs. Raises ``RuntimeError`` with nbgrader's log if one fails.
    """
    names = assignments or course.assignments()
    api = course.api()
    for name in names:
        course.notebook_names(name)  # a clear error for an unknown assignment
        result = api.generate_assignment(name, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{result.get('log', '')}\n"
                               f"{result.get('error', '')}")
    return names
