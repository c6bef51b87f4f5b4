"""The committed release in course/ is exactly what nbgrader generates from solutions/."""

from __future__ import annotations


import nbformat
import pytest

from nbgrading import REPO, CourseRoot, cells_by_id, notebook_path

ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())


def test_solutions_and_course_hold_the_same_assignments():
    assert ASSIGNMENTS, "no assignment in solutions/"
    assert ASSIGNMENTS == sorted(p.name for p in (REPO / "course").iterdir() if p.is_dir())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_byte_identical_to_a_fresh_generate_assignment(assignment, tmp_path):
    root = CourseRoot.create(tmp_path, assignment)
    fresh_files = sorted(p.relative_to(root.path / "course") for p in (root.path / "course").rglob("*") if p.is_file())
    committed = sorted(p.relative_to(REPO / "course") for p in (REPO / "course" / assignment).rglob("*") if p.is_file())
    assert fresh_files == committed
    for rel in committed:
        assert (REPO / "course" / rel).read_bytes() == (root.path / "course" / rel).read_bytes(), (
            f"course/{rel} differs from a fresh release: run `nbgrader generate_assignment {assignment} --force` "
            "in the repository root and commit course/")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    text = notebook_path(REPO / "course", assignment).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    # the hidden tests call fresh(...).grade_<exercise>; the visible self-checks never do
    assert 'fresh(\\"' not in text and ".grade_" not in text
    for gid, answer in _answer_lines(assignment).items():
        leaked = [line for line in answer if line in text]
        assert not leaked, f"solution code of {gid} leaked into course/: {leaked}"


def _answer_lines(assignment: str) -> dict[str, list[str]]:
    """The lines between BEGIN SOLUTION and END SOLUTION of every solution cell (comments and blanks left out)."""
    nb = nbformat.read(notebook_path(REPO / "solutions", assignment), as_version=4)
    answers: dict[str, list[str]] = {}
    for gid, cell in cells_by_id(nb).items():
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
                inside = "BEGIN" in line
            elif inside and line.strip() and not line.strip().startswith("#"):
                answers.setdefault(gid, []).append(line.strip())
    return answers


@pytest.mark.parametrize("folder", ["solutions", "course"])
def test_notebooks_are_stored_without_outputs_and_with_the_python3_kernel(folder):
    for path in (REPO / folder).rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3", path
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path}: outputs are committed"
