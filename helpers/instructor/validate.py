"""Check every submission before grading and prepare a fair copy of it; report problems per student.

Nothing in submitted/ is modified: :func:`validate` reads a student's folder and returns a
:class:`Submission` whose notebooks are repaired copies, ready for nbgrader.

What is checked, and the fair repair (nbgrader then enforces the instructor's version of every
locked cell from the gradebook with its own ``OverwriteCells`` and ``DeduplicateIds``):

- missing notebook: 0 for its cells; misnamed notebook (the only one, under another name): graded;
- not a notebook (not JSON, not nbformat): 0 for its cells;
- a deleted test (or other locked) cell: put back from the release (nbgrader restores its hidden
  tests); a deleted answer cell: nothing to put back, its test runs on what the notebook defines;
- an edited or retyped test cell, changed points or other nbgrader metadata, a changed kernel:
  reported; the instructor's metadata is put back and nbgrader restores the source;
- a duplicated cell id: reported; nbgrader grades the last copy (the others run as plain code),
  so the copy can neither abort the batch nor be counted twice;
- a cell claiming an id the assignment does not have: reported and its metadata removed.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import Course

IGNORED = (".ipynb_checkpoints", "__MACOSX")


@dataclass
class Submission:
    """One student's submission of one assignment, as the grader will see it."""

    student: str
    assignment: str
    notebooks: dict = field(default_factory=dict)  # notebook name -> repaired NotebookNode
    missing: list = field(default_factory=list)  # notebook names that score 0 (absent or unreadable)
    problems: list = field(default_factory=list)  # one line per problem, for the report
    files: list = field(default_factory=list)  # other files of the folder (relative paths), carried along

    @property
    def gradeable(self) -> bool:
        return bool(self.notebooks)


def grade_ids(nb) -> dict:
    """grade_id -> cell, for every cell with nbgrader metadata."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if isinstance(c.metadata.get("nbgrader"), dict) and "grade_id" in c.metadata["nbgrader"]}


def _describe(meta: dict) -> str:
    kind = "test" if meta.get("grade") and not meta.get("solution") else "answer" if meta.get("solution") else "locked"
    return f"{kind} cell {meta['grade_id']!r}"


def repair(nb, release) -> list[str]:
    """Repair ``nb`` in place against the release notebook; return what was wrong (one line each)."""
    problems = []
    reference = grade_ids(release)
    seen = Counter()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if gid not in reference:
            problems.append(f"a cell claims the unknown id {gid!r}: its nbgrader metadata is ignored")
            del cell.metadata["nbgrader"]
            continue
        seen[gid] += 1
        ref = reference[gid]
        expected = ref.metadata["nbgrader"]
        changed = sorted(k for k in set(meta) | set(expected) if k != "checksum" and meta.get(k) != expected.get(k))
        if changed:
            what = ", ".join(f"{k}: {expected.get(k)!r} -> {meta.get(k)!r}" for k in changed)
            problems.append(f"{_describe(expected)}: metadata changed ({what}); the instructor's is used")
            cell.metadata["nbgrader"] = copy.deepcopy(expected)
        if cell.cell_type != ref.cell_type:
            problems.append(f"{_describe(expected)}: retyped from {ref.cell_type} to {cell.cell_type}; restored")
        elif expected.get("locked") and cell.source != ref.source:
            problems.append(f"{_describe(expected)}: edited; the instructor's version is graded")
    for gid, count in sorted(seen.items()):
        if count > 1:  # nbgrader's DeduplicateIds would leave empty metadata that aborts the notebook
            copies = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid]
            for cell in copies[:-1]:
                del cell.metadata["nbgrader"]
            problems.append(f"{_describe(reference[gid].metadata['nbgrader'])}: appears {count} times; "
                            "the last copy is graded, the others run as plain code")
    problems += _restore_deleted(nb, release, reference, set(seen))
    if nb.metadata.get("kernelspec", {}).get("name") != release.metadata.get("kernelspec", {}).get("name"):
        problems.append(f"kernel changed to {nb.metadata.get('kernelspec', {}).get('name')!r}; graded with "
                        f"{release.metadata['kernelspec']['name']!r}")
    return problems


def _restore_deleted(nb, release, reference: dict, present: set) -> list[str]:
    """Put back every deleted locked cell after the nearest earlier cell that is still there."""
    problems = []
    order = list(reference)
    for index, gid in enumerate(order):
        if gid in present:
            continue
        meta = reference[gid].metadata["nbgrader"]
        if not meta.get("locked"):
            problems.append(f"{_describe(meta)}: deleted; its test runs on whatever the notebook defines")
            continue
        previous = next((g for g in reversed(order[:index]) if g in present), None)
        at = 0 if previous is None else 1 + max(i for i, c in enumerate(nb.cells)
                                                 if c.metadata.get("nbgrader", {}).get("grade_id") == previous)
        nb.cells.insert(at, copy.deepcopy(reference[gid]))
        present.add(gid)
        problems.append(f"{_describe(meta)}: deleted; restored")
    return problems


def read_notebook(path: Path):
    """The notebook at ``path`` (upgraded to nbformat 4), or raise ``ValueError`` saying why it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path.name} is not a notebook (not valid JSON: {err})") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # nbformat raises several types for a malformed notebook
        raise ValueError(f"{path.name} is not a valid notebook ({type(err).__name__}: {str(err)[:200]})") from None
    return nb


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(part in IGNORED for part in p.parts))


def validate(course: Course, assignment: str, student: str) -> Submission:
    """Read ``submitted/<student>/<assignment>/`` and return the submission the grader will grade."""
    sub = Submission(student, assignment)
    folder = course.folder("submitted") / student / assignment
    files = _files(folder)
    found = {p.stem: p for p in files if p.suffix == ".ipynb" and p.parent == folder}
    expected = course.notebook_names(assignment)
    unmatched = sorted(set(found) - set(expected))
    for name in expected:
        path = found.get(name)
        if path is None and len(unmatched) == 1 and len([n for n in expected if n not in found]) == 1:
            path = found[unmatched.pop()]
            sub.problems.append(f"notebook misnamed: {path.name} is graded as {name}.ipynb")
        if path is None:
            sub.missing.append(name)
            others = ", ".join(p.name for p in files) or "the folder is empty"
            sub.problems.append(f"notebook {name}.ipynb missing (found: {others}): its cells score 0")
            continue
        try:
            nb = read_notebook(path)
        except ValueError as err:
            sub.missing.append(name)
            sub.problems.append(f"{err}: its cells score 0")
            continue
        sub.problems += [f"{name}: {p}" for p in repair(nb, course.release_notebook(assignment, name))]
        sub.notebooks[name] = nb
    for name in unmatched:
        sub.problems.append(f"extra notebook {name}.ipynb ignored")
    sub.files = [str(p.relative_to(folder)) for p in files if p.suffix != ".ipynb"]
    return sub


def write(sub: Submission, folder: Path, source: Path) -> None:
    """Write the graded copy of ``sub`` into ``folder`` (a submitted/<student>/<assignment>/ of a work root);
    ``source`` is the student's original folder, whose other files are copied along."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for rel in sub.files:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, folder / rel)
    for name, nb in sub.notebooks.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
