"""The instructor's pipeline, built on nbgrader's own apps and API (command line: ``cnn-course``).

release (solutions/ -> course/ and the gradebook) -> collect (a folder or zip of students'
notebooks -> submitted/) -> validate (per-student problems, fair repairs, submitted/ untouched)
-> autograde (parallel worker processes, one work root per submission, merged into the
gradebook) -> feedback (HTML without the hidden tests) -> export (CSV) -> report (summary).
"""

from .autograde import Outcome, grade
from .course import Course

__all__ = ["Course", "Outcome", "grade"]
