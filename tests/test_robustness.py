"""Grading a class is fair and robust: every hostile or broken submission, graded with real nbgrader.

One course root of notebook 01 and ONE parallel grading of a class in which each student is a
case of the issue (a crash, a loop, tampering, ...). For each case: the grade the student
deserves, a line in the report, and the other students graded normally (``solution`` keeps
full marks). Cases that must still lose points carry a wrong answer (from the bank of
known-wrong answers), so that a test cell that was not restored or not run would show.
"""

from __future__ import annotations

import hashlib
import json

import nbformat
import pytest

from banks.nb01 import MUTANTS
from helpers.instructor import Course, grade
from helpers.instructor.feedback import generate_feedback
from helpers.instructor.report import diagnoses, summary
from nbgrading import CourseRoot, cells_by_id, filled_release, solution_sources

pytestmark = pytest.mark.grading

A = "01_conv1d_denoising"
FULL = {"test_moving_average_kernel": 1, "test_triangle_kernel": 1, "test_pad": 2, "test_conv1d": 3,
        "test_conv1d_vectorized": 3, "test_causal_conv1d": 2, "test_receptive_field": 1}


def _mutant(cell: str, name: str, answers: dict) -> dict:
    mutant = next(m for m in MUTANTS if m.cell == cell and m.name == name)
    return {**answers, cell: mutant.apply(answers[cell])}


def _in_function(answer: str, line: str) -> str:
    """``answer`` with ``line`` run first thing in its function body (after the docstring)."""
    head, sep, rest = answer.partition('"""')
    doc, sep2, body = rest.partition('"""')
    return f'{head}{sep}{doc}{sep2}\n    {line}{body}'


def _move(nb, gid: str, *, delete=False, edit=None, retype=False, points=None, duplicate=False):
    cells = nb.cells
    index = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
    cell = cells[index]
    if delete:
        del cells[index]
    if edit is not None:
        cell.source = edit
    if retype:
        cells[index] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    if points is not None:
        cell.metadata["nbgrader"]["points"] = points
    if duplicate:
        copy = nbformat.from_dict(json.loads(json.dumps(cell)))
        copy.id = f"{cell.get('id', 'cell')}-copy"
        cells.insert(index + 1, copy)
    return nb


def _cases(release, answers):
    """student -> (notebook or raw bytes, expected scores, text expected in the report, file name)."""
    full = dict(FULL)
    lost = lambda *tests: {**full, **{t: 0 for t in tests}}  # noqa: E731
    nb = lambda a: filled_release(release, a)  # noqa: E731
    cases = {"solution": (nb(answers), full, None)}
    cases["infinite_loop"] = (nb({**answers, "receptive_field": _in_function(answers["receptive_field"], "while True: pass")}),
                              lost("test_receptive_field"), "time limit")
    cases["os_exit"] = (nb({**answers, "receptive_field": "import os\n" + _in_function(answers["receptive_field"], "os._exit(3)")}),
                        lost("test_receptive_field"), "killed the kernel")
    cases["sys_exit"] = (nb({**answers, "triangle_kernel": "import sys\n" + _in_function(answers["triangle_kernel"], "sys.exit(1)")}),
                         lost("test_triangle_kernel"), "sys.exit")
    cases["syntax_error"] = (nb({**answers, "moving_average_kernel": "def moving_average_kernel(M):\n    return (M"}),
                             lost("test_moving_average_kernel"), "SyntaxError")
    wrong = _mutant("triangle_kernel", "not squared", _mutant("pad", "one side", _mutant("causal_conv1d", "padded right", answers)))
    tampered = nb(wrong)
    _move(tampered, "test_triangle_kernel", delete=True)
    _move(tampered, "test_pad", edit="pass")
    _move(tampered, "test_causal_conv1d", retype=True)
    _move(tampered, "test_conv1d", points=0)
    cases["tampered_cells"] = (tampered, lost("test_triangle_kernel", "test_pad", "test_causal_conv1d"), "deleted; restored")
    meta = nb(answers)
    _move(meta, "test_conv1d_vectorized", duplicate=True)
    _move(meta, "test_receptive_field", points=100)
    bonus = nbformat.v4.new_code_cell("print('bonus')", metadata={"nbgrader": {
        "grade": True, "grade_id": "bonus", "points": 50, "solution": False, "locked": False, "task": False,
        "schema_version": 3, "cell_type": "code"}})
    meta.cells.append(bonus)
    meta.metadata["kernelspec"]["name"] = "python2"
    cases["tampered_metadata"] = (meta, full, "appears 2 times")
    patched = _mutant("conv1d", "not flipped", answers)
    patched["conv1d"] += ("\nimport numpy as np\nnp.allclose = lambda *a, **k: True\n"
                          "np.testing.assert_allclose = lambda *a, **k: None\ntorch.allclose = lambda *a, **k: True\n")
    cases["monkeypatched"] = (nb(patched), lost("test_conv1d", "test_conv1d_vectorized", "test_causal_conv1d",
                                                "test_receptive_field"), "tampered with")
    replaced = _mutant("causal_conv1d", "padded right", answers)
    replaced["causal_conv1d"] += (
        "\nimport types, helpers.checks\n"
        "helpers.checks.fresh = lambda name: types.SimpleNamespace(grade_causal_conv1d=lambda f: None)\n"
        "helpers.checks.signals.causal_conv1d = lambda f: print('✓ causal_conv1d passed')\n")
    cases["replaced_checks"] = (nb(replaced), lost("test_causal_conv1d"), "helpers.checks.fresh")
    cases["from_scratch"] = (nb(_mutant("conv1d", "calls the reference", answers)), lost("test_conv1d"), "from scratch")
    loud = dict(answers)
    loud["receptive_field"] += "\nprint('spam\\n' * 2_000_000)\nprint('x' * 5_000_000)\n"
    cases["gigantic_output"] = (nb(loud), full, "gigantic output")
    warns = dict(answers)
    warns["moving_average_kernel"] = "import sys, warnings\n" + _in_function(
        answers["moving_average_kernel"],
        "warnings.warn('a plain average'); print('debug: M =', M, file=sys.stderr)")
    cases["stderr_misnamed"] = (nb(warns), full, "misnamed", "my homework.ipynb")
    cases["not_json"] = (b'{"cells": [ this is not JSON', {t: 0 for t in FULL}, "not a notebook")
    cases["missing"] = (None, {t: 0 for t in FULL}, "missing")
    return cases


def _digest(folder) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = CourseRoot.create(tmp_path_factory.mktemp("robust"), A)
    course = Course(root.path)
    cases = _cases(root.release_notebook(), solution_sources(A))
    for student, (content, _, _, *name) in cases.items():
        folder = course.folder("submitted") / student / A
        folder.mkdir(parents=True)
        target = folder / (name[0] if name else f"{A}.ipynb")
        if content is None:
            (folder / "notes.txt").write_text("I forgot the notebook")
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            nbformat.write(content, target)
    before = _digest(course.folder("submitted"))
    outcomes = {o.student: o for o in grade(course, A, workers=2, progress=False)}
    return course, cases, outcomes, before


@pytest.mark.parametrize("student", ["solution", "infinite_loop", "os_exit", "sys_exit", "syntax_error",
                                     "tampered_cells", "tampered_metadata", "monkeypatched", "replaced_checks",
                                     "from_scratch", "gigantic_output", "stderr_misnamed", "not_json", "missing"])
def test_each_case_gets_the_grade_it_deserves_and_a_line_in_the_report(graded, student):
    course, cases, outcomes, _ = graded
    expected, line = cases[student][1], cases[student][2]
    got = {gid: score for gid, (score, _) in outcomes[student].scores.items()}
    assert got == expected, f"{student}: {outcomes[student]}"
    assert {gid: m for gid, (_, m) in outcomes[student].scores.items()} == FULL, "max scores are the instructor's"
    lines = outcomes[student].problems + list(diagnoses(course, A, student).values())
    if student != "gigantic_output":  # figures and replayed cells are never taken for gigantic output
        assert not [p for p in lines if "gigantic" in p], lines
    if line is None:
        assert lines == [], lines
    else:
        assert any(line in p for p in lines), lines
        assert line in summary(course, A)


def test_the_gradebook_holds_exactly_the_reported_grades(graded):
    course, _, outcomes, _ = graded
    from helpers.instructor.gradebook import scores

    with course.gradebook() as gb:
        stored = scores(gb, A)
    assert stored == {s: o.scores for s, o in outcomes.items()}


def test_grading_never_modifies_submitted(graded):
    course, _, _, before = graded
    assert _digest(course.folder("submitted")) == before


def test_gigantic_output_is_truncated_in_the_autograded_notebook(graded):
    course, _, _, _ = graded
    path = course.folder("autograded") / "gigantic_output" / A / f"{A}.ipynb"
    assert path.stat().st_size < 1_000_000


def test_the_kernel_death_is_shown_in_the_cell_that_caused_it(graded):
    course, _, _, _ = graded
    nb = nbformat.read(course.folder("autograded") / "os_exit" / A / f"{A}.ipynb", as_version=4)
    errors = [o.ename for o in cells_by_id(nb)["test_receptive_field"].outputs if o.output_type == "error"]
    assert errors == ["KernelDied"]


def test_feedback_shows_the_failure_but_never_the_hidden_tests(graded):
    course, _, _, _ = graded
    assert generate_feedback(course, A, ["solution", "from_scratch"]) == {}
    html = (course.folder("feedback") / "from_scratch" / A / f"{A}.html").read_text()
    assert "from scratch" in html
    for student in ("solution", "from_scratch"):
        html = (course.folder("feedback") / student / A / f"{A}.html").read_text()
        assert "HIDDEN TESTS" not in html and "grade_conv1d" not in html and "fresh(" not in html
