"""Import students' notebooks from a folder or a zip into ``submitted/<student>/<assignment>/``.

Accepted layouts (in a folder, or inside a zip):

- one file per student, named after the student: ``alice.ipynb``, ``alice_01_conv1d_denoising.ipynb``
  (the assignment's name is removed), graded as the assignment's notebook;
- one folder per student: ``alice/...`` or ``alice/<assignment>/...``, copied as it is (a
  misnamed notebook keeps its name, so that validation reports it).

Either may sit inside one top-level folder, as "compress folder" makes it (``class.zip`` holding
``class/alice.ipynb ...``): that folder is unwrapped, not taken for a student, and a note says so.
It is kept when it looks like one student's folder (it holds the assignment's notebook or folder).

Student ids are ASCII: accents are removed (Unicode NFKD, combining marks dropped), other
characters outside ``[A-Za-z0-9_.@+-]`` become ``_``, letters with no ASCII form become their code
point (``u738b``). Two names with one id (``José García.ipynb``, ``José_García.ipynb``, ``Josè
García.ipynb``, or ids that differ only in case, one folder on macOS and Windows) are an error
that names every file: nothing is copied until they are renamed.

Originals are only read. A file already in submitted/ is never overwritten: an identical one is
skipped, a different one is reported as a conflict (delete it yourself to replace it).
"""

from __future__ import annotations

import filecmp
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .course import Course
from .validate import IGNORED

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@+-]")


@dataclass
class Collected:
    copied: list = field(default_factory=list)  # (student, relative path)
    unchanged: list = field(default_factory=list)
    conflicts: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def students(self) -> list[str]:
        return sorted({s for s, _ in self.copied + self.unchanged + self.conflicts})


def ascii_name(name: str) -> str:
    """``name`` in ASCII: NFKD without combining marks (``José`` -> ``Jose``); a letter with no
    ASCII form becomes its code point (``王`` -> ``u738b``) so that different names stay different."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return "".join(c if c.isascii() else f"u{ord(c):x}" for c in plain)


def student_id(name: str, assignment: str, is_file: bool = False) -> str:
    """The student of a per-student file or folder name: extension, assignment's name and separators
    removed, transliterated to ASCII (:func:`ascii_name`)."""
    stem = Path(name).stem if is_file else name
    stem = stem.replace(assignment, "").strip("_- .") or stem
    return _UNSAFE.sub("_", ascii_name(stem))


def _visible(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name not in IGNORED and not p.name.startswith(".")]


def unwrap(folder: Path, assignment: str, notebooks: list[str]) -> tuple[Path, list[str]]:
    """The folder that holds the students: ``folder``, or the single folder inside it (repeatedly)
    unless that one is a student's (it holds the assignment's notebook or folder); with notes."""
    notes = []
    while len(inner := _visible(folder)) == 1 and inner[0].is_dir():
        names = {p.name for p in _visible(inner[0])}
        if assignment in names or any(f"{nb}.ipynb" in names for nb in notebooks):
            break  # one student's folder
        notes.append(f"{inner[0].name}/ is the only folder at the top: read as the folder of the "
                     f"submissions, not as a student")
        folder = inner[0]
    return folder, notes


def _entries(folder: Path, assignment: str, notebooks: list[str]):
    """(student, path in the source, path relative to submitted/<student>/<assignment>/)."""
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(p in IGNORED or p.startswith(".") for p in rel.parts):
            continue
        if len(rel.parts) == 1:  # one file per student
            name = f"{notebooks[0]}.ipynb" if path.suffix == ".ipynb" and len(notebooks) == 1 else path.name
            yield student_id(path.name, assignment, is_file=True), path, Path(name)
        else:
            inner = rel.parts[1:]
            if inner[0] == assignment and len(inner) > 1:
                inner = inner[1:]
            yield student_id(rel.parts[0], assignment), path, Path(*inner)


def collect(course: Course, source: Path, assignment: str) -> Collected:
    """Copy the submissions found in ``source`` (a folder or a .zip) into the course's submitted/."""
    source = Path(source)
    notebooks = course.notebook_names(assignment)
    if not source.exists():
        raise FileNotFoundError(f"collect: {source} does not exist")
    with tempfile.TemporaryDirectory(prefix="cnn-course-collect-") as tmp:
        if source.is_file():
            if not zipfile.is_zipfile(source):
                raise ValueError(f"collect: {source} is neither a folder nor a zip file")
            with zipfile.ZipFile(source) as archive:
                archive.extractall(tmp)  # extractall drops absolute paths and '..'
            folder = Path(tmp)
        else:
            folder = source
        return _copy_all(course, folder, assignment, notebooks)


def _check_collisions(top: Path, folder: Path, entries: list) -> None:
    """Raise, naming every file or folder, when different names give one student id (case aside)."""
    sources = defaultdict(set)
    for student, path, _ in entries:
        first = folder / path.relative_to(folder).parts[0]  # the student's file or folder
        sources[student.casefold()].add((student, first.relative_to(top).as_posix() + "/" * first.is_dir()))
    clashes = [sorted(found) for found in sources.values() if len({name for _, name in found}) > 1]
    if clashes:
        listed = "; ".join(", ".join(f"{name!r} ({student})" for student, name in found) for found in clashes)
        raise ValueError(f"different names give the same student id (in parentheses): {listed}. Nothing was "
                         f"copied: rename them so that each student has one name")


def _copy_all(course: Course, top: Path, assignment: str, notebooks: list[str]) -> Collected:
    out = Collected()
    folder, out.notes = unwrap(top, assignment, notebooks)
    entries = list(_entries(folder, assignment, notebooks))
    _check_collisions(top, folder, entries)
    targets: dict[Path, Path] = {}
    for student, path, rel in entries:
        target = course.folder("submitted") / student / assignment / rel
        if target in targets:  # one student's folder holding two files that are graded as one
            out.notes.append(f"{student}: both {targets[target].name} and {path.name} map to {rel}; kept the first")
            continue
        targets[target] = path
        if target.exists():
            (out.unchanged if filecmp.cmp(path, target, shallow=False) else out.conflicts).append((student, str(rel)))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        out.copied.append((student, str(rel)))
    return out
