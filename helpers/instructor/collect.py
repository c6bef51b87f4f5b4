"""Import students' notebooks from a folder or a zip into ``submitted/<student>/<assignment>/``.

Accepted layouts (in a folder, or inside a zip):

- one file per student, named after the student: ``alice.ipynb``, ``alice_01_conv1d_denoising.ipynb``
  (the assignment's name is removed), graded as the assignment's notebook;
- one folder per student: ``alice/...`` or ``alice/<assignment>/...``, copied as it is (a
  misnamed notebook keeps its name, so that validation reports it).

Originals are only read. A file already in submitted/ is never overwritten: an identical one is
skipped, a different one is reported as a conflict (delete it yourself to replace it).
"""

from __future__ import annotations

import filecmp
import re
import shutil
import tempfile
import zipfile
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


def student_id(name: str, assignment: str, is_file: bool = False) -> str:
    """The student of a per-student file or folder name: extension, assignment's name and separators removed."""
    stem = Path(name).stem if is_file else name
    stem = stem.replace(assignment, "").strip("_- .") or stem
    return _UNSAFE.sub("_", stem)


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


def _copy_all(course: Course, folder: Path, assignment: str, notebooks: list[str]) -> Collected:
    out = Collected()
    targets: dict[Path, Path] = {}
    for student, path, rel in _entries(folder, assignment, notebooks):
        target = course.folder("submitted") / student / assignment / rel
        if target in targets:
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
