"""The instructor's command line (``cnn-course``): collect, validate, grade in parallel, feedback,
export, summary. Collect and validate are tested on files alone; one class of notebook 01 is then
graded with real nbgrader twice, in parallel through the command line (kernels forked from a server
that imported torch) and serially through the API (every kernel started afresh), and the two must
agree (determinism, serial = parallel, forked = fresh kernels, re-running is safe).
"""

from __future__ import annotations

import csv
import hashlib
import os
import zipfile
from pathlib import Path

import nbformat
import pytest

from banks.nb01 import MUTANTS
from helpers.instructor import Course, grade
from helpers.instructor.autograde import _descendants
from helpers.instructor.cli import main
from helpers.instructor.collect import collect, student_id
from helpers.instructor.validate import repair, validate
from nbgrading import REPO, CourseRoot, filled_release, solution_sources

A = "01_conv1d_denoising"
NB = f"{A}.ipynb"


@pytest.fixture
def light(tmp_path) -> Course:
    """A course root that links the committed source and release (enough to collect and validate)."""
    (tmp_path / "nbgrader_config.py").write_bytes((REPO / "nbgrader_config.py").read_bytes())
    for folder in ("solutions", "course"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / A).symlink_to(REPO / folder / A)
    return Course(tmp_path)


def _release(course: Course):
    return course.release_notebook(A, A)


def _digest(folder) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------- collect
@pytest.mark.parametrize("name, student", [("alice.ipynb", "alice"), (f"bob_{A}.ipynb", "bob"),
                                           (f"{A}-carol.ipynb", "carol"), ("j.doe.ipynb", "j.doe"),
                                           ("eve smith.ipynb", "eve_smith")])
def test_student_ids_come_from_the_file_name(name, student):
    assert student_id(name, A, is_file=True) == student


def test_collect_reads_a_zip_and_a_folder_and_never_overwrites(light, tmp_path):
    release = nbformat.writes(_release(light)).encode()
    source = tmp_path / "inbox"
    (source / "dave" / A).mkdir(parents=True)
    (source / "dave" / A / "homework.ipynb").write_bytes(release)  # misnamed: kept for validation to report
    (source / "alice.ipynb").write_bytes(release)
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"bob_{A}.ipynb", release)
        z.writestr("carol/notes.txt", "no notebook")
        z.writestr("__MACOSX/._bob.ipynb", "junk")
    originals = _digest(source)
    done = collect(light, source, A)
    assert sorted(done.copied) == [("alice", NB), ("dave", "homework.ipynb")]
    assert collect(light, archive, A).students == ["bob", "carol"]
    submitted = light.folder("submitted")
    assert (submitted / "bob" / A / NB).read_bytes() == release
    assert (submitted / "carol" / A / "notes.txt").exists()
    assert _digest(source) == originals, "collect must not touch the originals"
    again = collect(light, source, A)  # re-running is safe
    assert again.copied == [] and sorted(again.unchanged) == [("alice", NB), ("dave", "homework.ipynb")]
    (source / "alice.ipynb").write_bytes(release + b" ")
    before = _digest(submitted)
    assert collect(light, source, A).conflicts == [("alice", NB)]
    assert _digest(submitted) == before, "a conflicting file must not replace the one in submitted/"


# --------------------------------------------------------------------------------------- validate
def _by_id(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def test_repair_restores_every_locked_cell_and_the_instructors_metadata(light):
    release = _release(light)
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(release), as_version=4))
    nb.cells.remove(_by_id(nb, "test_pad"))
    _by_id(nb, "test_conv1d").source = "pass"
    _by_id(nb, "test_triangle_kernel").metadata["nbgrader"]["points"] = 100
    nb.cells.remove(_by_id(nb, "receptive_field"))
    nb.cells.append(nbformat.v4.new_code_cell("1", metadata={"nbgrader": {"grade_id": "bonus", "grade": True}}))
    problems = repair(nb, release)
    text = "\n".join(problems)
    for expected in ("test cell 'test_pad': deleted; restored", "test cell 'test_conv1d': edited",
                     "points: 1 -> 100", "answer cell 'receptive_field': deleted", "unknown id 'bonus'"):
        assert expected in text, text
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert ids == [c.metadata["nbgrader"]["grade_id"] for c in release.cells
                   if "nbgrader" in c.metadata and c.metadata["nbgrader"]["grade_id"] != "receptive_field"]
    assert _by_id(nb, "test_triangle_kernel").metadata["nbgrader"]["points"] == 1


def test_validate_reports_misnamed_missing_and_broken_notebooks(light):
    submitted = light.folder("submitted")
    for student, name, content in [("ok", NB, nbformat.writes(_release(light))),
                                   ("misnamed", "Untitled.ipynb", nbformat.writes(_release(light))),
                                   ("broken", NB, "{not json"), ("empty", "readme.md", "hi"),
                                   ("wrong_format", NB, '{"cells": 3}')]:
        (submitted / student / A).mkdir(parents=True)
        (submitted / student / A / name).write_text(content)
    before = _digest(submitted)
    results = {s: validate(light, A, s) for s in light.students(A)}
    assert results["ok"].problems == [] and results["ok"].gradeable
    assert results["misnamed"].gradeable and "misnamed" in results["misnamed"].problems[0]
    assert not results["broken"].gradeable and "not valid JSON" in results["broken"].problems[0]
    assert not results["empty"].gradeable and "missing" in results["empty"].problems[0]
    assert not results["wrong_format"].gradeable and "not a valid notebook" in results["wrong_format"].problems[0]
    assert _digest(submitted) == before


# ----------------------------------------------------------------------------------------- report
def test_the_report_has_one_line_per_kind_of_problem(light, capsys):
    from helpers.instructor.report import Outcome, collapse, summary, write_report

    folder = light.folder("submitted") / "teacher" / A
    folder.mkdir(parents=True)
    (folder / NB).write_bytes((light.folder("source") / A / NB).read_bytes())  # the instructor's own notebook
    problems = validate(light, A, "teacher").problems
    assert len(problems) > 20
    write_report(light, A, [Outcome("teacher", "repaired", problems)])
    lines = summary(light, A).split("problems, per student:")[1].strip().splitlines()
    assert len(lines) == 2, lines
    assert "7 test cells (test_moving_average_kernel, test_triangle_kernel," in lines[1] and "edited" in lines[1]
    assert main(["--root", str(light.root), "validate", A]) == 0
    assert capsys.readouterr().out.count("teacher:") == 2
    # only what differs in the cell alone is merged; a line repeated word for word gets a count
    assert collapse(["answer cell pad: raised ValueError: x", "answer cell conv1d: raised ValueError: x",
                     "answer cell f: raised ValueError: y", "kernel changed", "kernel changed"]) == [
        "2 answer cells (pad, conv1d): raised ValueError: x", "answer cell f: raised ValueError: y",
        "kernel changed (2 times)"]


# ---------------------------------------------------- the pipeline, parallel (CLI) and serial (API)
@pytest.mark.grading
def test_parallel_and_serial_grading_agree_and_rerunning_is_safe(tmp_path, capsys):
    root = CourseRoot.create(tmp_path / "class", A)
    course = Course(root.path)
    release, answers = root.release_notebook(), solution_sources(A)
    wrong = [m for m in MUTANTS if m.cell in ("pad", "receptive_field")][:2]
    notebooks = {"solution": filled_release(release, answers), "untouched": release}
    notebooks.update({m.student: filled_release(release, {**answers, m.cell: m.apply(answers[m.cell])}) for m in wrong})
    archive = tmp_path / "inbox.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for student, nb in notebooks.items():
            z.writestr(f"{student}_{A}.ipynb", nbformat.writes(nb))
    grades = tmp_path / "grades.csv"
    assert main(["--root", str(course.root), "all", A, "--from", str(archive), "--workers", "2",
                 "--to", str(grades)]) == 0
    out = capsys.readouterr().out
    assert "test_pad" in out and "mean" in out
    parallel = {o.student: o.scores for o in _report(course)}
    assert sorted(parallel) == sorted(notebooks)
    assert sum(s for s, _ in parallel["solution"].values()) == 13
    assert all(s == 0 for s, _ in parallel["untouched"].values())
    for m in wrong:
        assert parallel[m.student][f"test_{m.cell}"][0] == 0
    with open(grades) as f:
        rows = list(csv.DictReader(f))
    assert {r["student_id"]: float(r["raw_score"]) for r in rows} == {
        s: sum(v for v, _ in cells.values()) for s, cells in parallel.items()}
    assert (course.folder("feedback") / "solution" / A / f"{A}.html").exists()
    before = _digest(course.folder("submitted"))
    serial = {o.student: o.scores for o in grade(course, A, workers=1, progress=False, fork_kernels=False)}
    assert serial == parallel, "serial and parallel grading, fresh and forked kernels, must give the same grades"
    assert _digest(course.folder("submitted")) == before
    with course.gradebook() as gb:
        assert len(gb.assignment_submissions(A)) == len(notebooks), "a student graded twice is counted once"
    assert main(["--root", str(course.root), "export", "--to", str(grades), "--tests", str(tmp_path / "t.csv")]) == 0
    with open(tmp_path / "t.csv") as f:
        assert len(list(csv.DictReader(f))) == 7 * len(notebooks)
    # a submission that runs past its time limit is stopped with its kernel, scores 0 and is flagged
    [slow] = grade(course, A, ["solution"], workers=1, timeout=3, progress=False)
    assert slow.status == "failed" and "was stopped" in slow.problems[-1]
    assert all(score == 0 for score, _ in slow.scores.values())
    assert _kernels() == [], "the stopped submission's kernel must be killed too"
    with course.gradebook() as gb:
        assert gb.find_submission(A, "solution").needs_manual_grade


def _kernels() -> list[int]:
    found = []
    for pid in _descendants(os.getpid()):
        try:
            if any(k in Path(f"/proc/{pid}/cmdline").read_bytes() for k in (b"ipykernel", b"forkserver")):
                found.append(pid)
        except OSError:  # ended meanwhile
            continue
    return found


def _report(course):
    from helpers.instructor.report import read_report

    return read_report(course, A)
