"""A grading worker process: grades submissions one at a time with nbgrader's own API.

``python -m helpers.instructor.worker`` reads one request per line on stdin,
``{"root": ..., "assignment": ..., "student": ...}``, runs ``NbGraderAPI.autograde`` in that work
root and answers one line ``@@result {"success": ..., "error": ...}`` on stdout. It imports nbgrader
once for many submissions; :mod:`helpers.instructor.autograde` kills it (and its kernel) when a
submission runs past its time limit, and starts another.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .course import RESULT_PREFIX as PREFIX, Course, grading_config




def grade_one(root: str, assignment: str, student: str) -> dict:
    course = Course(Path(root))
    try:
        result = course.api(grading_config(course.config())).autograde(assignment, student, force=True, create=True)
    except Exception as err:  # reported to the parent, which flags this submission only
        return {"success": False, "error": f"{type(err).__name__}: {err}"}
    return {"success": bool(result.get("success")), "error": result.get("error") or result.get("log") or ""}


def main() -> int:
    for line in sys.stdin:
        request = json.loads(line)
        result = grade_one(request["root"], request["assignment"], request["student"])
        sys.stdout.write(PREFIX + json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
