"""The instructor's state, verified instead of trusted: digests of ``helpers/``, ``solutions/`` and the
gradebook, taken before a grading batch and compared after each submission.

The grader itself writes only the automatic columns of the batch's students
(:func:`helpers.instructor.gradebook.merge`: auto scores and comments, flags, penalties, timestamps,
new rows). Everything else must come out of a batch exactly as it went in: every file of the checks
and the solutions, every row of every other student and assignment, the cells and hidden tests, and
the batch students' *manual* scores, extra credit and comments. A difference stops the batch
(:class:`TamperingError`), naming what changed.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

# the rows the grader writes for a student of the batch: only these columns are compared
_BATCH_ROWS = """
SELECT sa.student_id, n.name, c.name, g.manual_score, g.extra_credit, NULL
FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id JOIN submitted_assignment sa ON sn.assignment_id = sa.id
JOIN notebook n ON sn.notebook_id = n.id JOIN base_cell c ON g.cell_id = c.id JOIN assignment a ON sa.assignment_id = a.id
WHERE a.name = :assignment AND sa.student_id IN ({students}) AND (g.manual_score IS NOT NULL OR g.extra_credit IS NOT NULL)
UNION ALL
SELECT sa.student_id, n.name, c.name, NULL, NULL, m.manual_comment
FROM comment m JOIN submitted_notebook sn ON m.notebook_id = sn.id JOIN submitted_assignment sa ON sn.assignment_id = sa.id
JOIN notebook n ON sn.notebook_id = n.id JOIN base_cell c ON m.cell_id = c.id JOIN assignment a ON sa.assignment_id = a.id
WHERE a.name = :assignment AND sa.student_id IN ({students}) AND m.manual_comment IS NOT NULL
"""
# the batch's submissions (their rows in the four tables below are covered by _BATCH_ROWS)
_BATCH = """SELECT sa.id FROM submitted_assignment sa JOIN assignment a ON sa.assignment_id = a.id
            WHERE a.name = :assignment AND sa.student_id IN ({students})"""
_OWNED = {"submitted_assignment": "id IN ({batch})",
          "submitted_notebook": "assignment_id IN ({batch})",
          "grade": "notebook_id IN (SELECT id FROM submitted_notebook WHERE assignment_id IN ({batch}))",
          "comment": "notebook_id IN (SELECT id FROM submitted_notebook WHERE assignment_id IN ({batch}))",
          "student": "id IN ({students})"}


class TamperingError(RuntimeError):
    """The instructor's files or gradebook changed during grading in a way the grader did not make."""


def folder_digest(folder: Path) -> str:
    """SHA-256 of every file's relative path and bytes under ``folder`` (a link: its target, never followed;
    ``__pycache__`` skipped)."""
    digest = hashlib.sha256()
    folder = Path(folder)
    if not folder.exists():
        return "absent"
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, name)
            digest.update(os.path.relpath(path, folder).encode() + b"\0")
            if os.path.islink(path):
                digest.update(b"link:" + os.readlink(path).encode())
            else:
                with open(path, "rb") as f:
                    digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()


def gradebook_digest(db: Path, assignment: str, students: list[str]) -> str:
    """SHA-256 of every row of the SQLite gradebook ``db`` but the automatic parts of the batch's rows
    (``students``' submissions of ``assignment``), whose manual scores and comments are still included."""
    marks = ", ".join("?" * len(students)) or "''"  # IN (NULL) would match no row, NOT IN (NULL) no row either
    digest = hashlib.sha256()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        batch = [row[0] for row in conn.execute(_BATCH.replace(":assignment", "?").format(students=marks),
                                                [assignment, *students])]
        batch_marks = ", ".join("?" * len(batch)) or "''"
        tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        for table in tables:
            where, args = "", []
            if table in _OWNED:
                owned = _OWNED[table].format(batch=batch_marks, students=marks)
                where, args = f" WHERE NOT ({owned})", (list(students) if table == "student" else batch)
            rows = sorted(repr(r) for r in conn.execute(f'SELECT * FROM "{table}"{where}', args))
            digest.update(f"{table}:{len(rows)}\n".encode() + "\n".join(rows).encode())
        query = _BATCH_ROWS.replace(":assignment", "?").format(students=marks)
        manual = sorted(repr(r) for r in conn.execute(query, [assignment, *students, assignment, *students]))
        digest.update(b"manual:" + "\n".join(manual).encode())
    return digest.hexdigest()


class Watch:
    """Digests of the instructor's state at the start of a batch; :meth:`verify` compares them again."""

    def __init__(self, folders: dict[str, Path], db: Path, assignment: str, students: list[str]):
        self.folders, self.db, self.assignment, self.students = folders, db, assignment, list(students)
        self.expected = self._digests()

    def _digests(self) -> dict[str, str]:
        found = {name: folder_digest(path) for name, path in self.folders.items()}
        found["the gradebook"] = gradebook_digest(self.db, self.assignment, self.students)
        return found

    def verify(self, after: str) -> None:
        """Raise :class:`TamperingError` if anything watched changed (``after``: what was just done)."""
        changed = [name for name, value in self._digests().items() if value != self.expected[name]]
        if changed:
            raise TamperingError(f"grade: {', '.join(changed)} changed during grading, after {after}; the batch "
                                 "was stopped. The grader did not make this change: restore it from your copy "
                                 "(git, a backup) and look at that submission before grading again.")


__all__ = ["TamperingError", "Watch", "folder_digest", "gradebook_digest"]
