"""The student path in a real browser: JupyterLab on localhost, driven in headless Chromium.

- Every solution notebook (``solutions/<name>/<name>.ipynb``) is opened and run with
  Run > Run All Cells; every code cell must run, with no error output, every widget rendered and
  its figures drawn.
- Every released notebook (``course/``) is run with no exercise answered, as a student browsing
  ahead does: only check cells may fail, and running on from the cell after each one reaches the end.
- A released notebook (``course/``) is used as a student does: run the setup cell, type an answer
  to an exercise, run it and its check cell; a wrong answer shows the diagnostic, the right one
  the success line; Validate (nbgrader, student view as on Binder) answers.

Screenshots of every notebook go to ``tests/artifacts/`` (not committed). With
``COURSE_UPDATE_DOCS=1`` the student test also rewrites ``docs/first-steps.png`` (the README's
screenshot). Without Playwright or Chromium these tests skip, or fail when ``CI`` is set; see
tests/browser_support.py.
"""

from __future__ import annotations

import ast
import json
import os
import re
import time
from pathlib import Path

import pytest

from browser_support import (ARTIFACTS, REPO, LabServer, NotebookPage, launch_browser, require_browser,
                             small_png)

SOLUTIONS = sorted(REPO.glob("solutions/*/*.ipynb"))
RELEASES = sorted(REPO.glob("course/*/*.ipynb"))
DOCS_SCREENSHOT = REPO / "docs" / "first-steps.png"

EXERCISE = "receptive_field"
RIGHT = "def receptive_field(kernel_size, dilations):\n    return 1 + sum((kernel_size - 1) * d for d in dilations)"
WRONG = "def receptive_field(kernel_size, dilations):\n    return 1 + (kernel_size - 1) * len(dilations)"
PASSED = f"✓ {EXERCISE} passed"
COUNTEREXAMPLE = "the counterexample:"
DIAGNOSIS = "likely mistake: the dilations were ignored"

STDERR = "application/vnd.jupyter.stderr"  # JupyterLab 4 renders error outputs (tracebacks) with it too
WIDGET_REPR = re.compile(r"^[A-Z]\w*\((children|value|description|layout|outputs)=")  # widget shown as text


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_browser()
    with LabServer(tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = launch_browser(playwright, tmp_path_factory.mktemp("chromium-profile"))
        context.set_default_timeout(60_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def notebook(lab, browser):
    """Opens a notebook in a new tab; closes it and shuts its kernel down afterwards."""
    pages: list[NotebookPage] = []

    def open_(path: str) -> NotebookPage:
        page = NotebookPage(browser, lab, path)
        pages.append(page)
        return page.open()

    yield open_
    for page in pages:
        page.close()
    lab.shutdown_kernels()


def _displays_widget(source: str) -> bool:
    """Whether a code cell shows a widget: its last line calls into ``widgets``/``ipywidgets``, or it
    calls ``interact``/``display``."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    calls = {ast.unparse(node.func) for node in ast.walk(ast.Module(body=body, type_ignores=[]))
             if isinstance(node, ast.Call)}
    if any(re.search(r"(^|\.)(interact|interactive|display)$", name) for name in calls):
        return True
    last = body[-1] if body else None
    return (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
            and re.match(r"(ipy)?widgets\.|W\.", ast.unparse(last.value.func)) is not None)


def _problems(report: dict) -> list[str]:
    """Everything wrong on a run notebook, one line each."""
    problems = []
    code = [c for c in report["cells"] if c["code"]]
    not_run = [c for c in code if not re.fullmatch(r"\[\d+\]:", c["prompt"] or "")]
    if not_run:
        problems.append(f"{len(code) - len(not_run)} of {len(code)} code cells ran; not run: "
                        + ", ".join(f"cell {c['index']} {c['prompt']!r} ({c['source'][:60]!r})" for c in not_run[:5]))
    for cell in report["cells"]:
        for out in cell["outputs"]:
            if out["mime"] == STDERR and re.search(r"Error|Traceback|Exception", out["text"]):
                problems.append(f"cell {cell['index']} shows an error: {out['text'][-600:]}")
            if out["mime"] == "text/plain" and WIDGET_REPR.match(out["text"]):
                problems.append(f"cell {cell['index']} shows a widget as text (widget manager missing?): "
                                f"{out['text'][:120]}")
    for err in report["widgetErrors"]:
        problems.append(f"cell {err['index']}: {err['text'][:300]}")
    for widget in report["widgets"]:
        if widget["width"] < 10 or widget["height"] < 10 or "widget-" not in widget["classes"]:
            problems.append(f"cell {widget['index']}: widget not rendered ({widget['width']}x{widget['height']}, "
                            f"{widget['classes'][:120]})")
    for img in report["imgs"]:
        if not img["complete"] or img["width"] == 0:
            problems.append(f"cell {img['index']}: an image did not load")
    return problems


# ------------------------------------------------------------------------------------ tests


def test_notebooks_are_found():
    assert SOLUTIONS, "no solutions/<name>/<name>.ipynb"
    assert RELEASES, "no course/<name>/<name>.ipynb"


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_solution_notebook_runs_in_the_browser(path, notebook):
    assert_runs_cleanly(notebook(_rel(path)), path, _rel(path))


def assert_runs_cleanly(nb: NotebookPage, path: Path, shown_as: str) -> None:
    """Run All Cells on the open notebook (the file ``path``): every code cell runs, no error, every
    widget rendered, a figure where the notebook plots. ``shown_as`` names it in the messages."""
    source = json.loads(path.read_text(encoding="utf-8"))
    n_code = sum(c["cell_type"] == "code" for c in source["cells"])
    widget_cells = [i for i, c in enumerate(source["cells"])
                    if c["cell_type"] == "code" and _displays_widget("".join(c["source"]))]
    plots = any(re.search(r"\bplt\.|\bplots\.|\.plot\(", "".join(c["source"]))
                for c in source["cells"] if c["cell_type"] == "code")

    seconds = nb.run_all()
    deadline = time.monotonic() + 30
    for index in widget_cells:  # widgets render after their cell finished: wait for them, not for a clock
        try:
            nb.cells.nth(index).locator(".jp-OutputArea-output .jupyter-widgets").first.wait_for(
                timeout=max(1, deadline - time.monotonic()) * 1000)
        except Exception:
            pass  # reported below
    report = nb.report()
    nb.screenshot_full(ARTIFACTS / f"{path.stem}.png")

    assert sum(c["code"] for c in report["cells"]) == n_code, "the page does not show every code cell"
    problems = _problems(report)
    rendered = {w["index"] for w in report["widgets"]}
    for index in widget_cells:
        if index not in rendered:
            problems.append(f"cell {index} displays a widget but none rendered")
    if plots and not report["imgs"]:
        problems.append("the notebook plots but no figure (img) rendered")
    if nb.page_errors:
        problems.append(f"uncaught errors in the page: {nb.page_errors[:3]}")
    assert not problems, (f"{shown_as} after Run All Cells ({seconds:.0f} s):\n  " + "\n  ".join(problems)
                          + (f"\nbrowser console errors: {nb.console_errors[:5]}" if nb.console_errors else "")
                          + f"\nscreenshot: {ARTIFACTS / (path.stem + '.png')}")


def _release_with_exercise(grade_id: str) -> tuple[Path, dict[str, int]]:
    """The released notebook holding ``grade_id``, and the cell index of setup / exercise / check."""
    for path in RELEASES:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(cells)}
        if grade_id in ids:
            return path, {"setup": ids["setup"], "exercise": ids[grade_id], "check": ids[f"test_{grade_id}"]}
    pytest.fail(f"no notebook in course/ has the exercise {grade_id!r}; pick another exercise in {__file__}")


def _same_code(typed: str, intended: str) -> bool:
    try:
        return ast.dump(ast.parse(typed)) == ast.dump(ast.parse(intended))
    except SyntaxError:
        return False


def _answer(nb: NotebookPage, cells: dict[str, int], code: str) -> str:
    """Type ``code`` into the exercise, run it (Shift+Enter moves on to the check cell), run the check."""
    exercise = nb.cells.nth(cells["exercise"])
    before = exercise.locator(".jp-InputPrompt").inner_text().strip()
    typed = nb.type_into_cell(cells["exercise"], code)
    assert _same_code(typed, code), f"the editor holds {typed!r} after typing {code!r}"
    nb.page.keyboard.press("Shift+Enter")
    nb.wait_cell_done(cells["exercise"], before)
    check = nb.cells.nth(cells["check"])
    assert "jp-mod-active" in (check.get_attribute("class") or ""), "Shift+Enter did not move on to the check cell"
    before = check.locator(".jp-InputPrompt").inner_text().strip()
    nb.page.keyboard.press("Shift+Enter")
    nb.wait_cell_done(cells["check"], before)
    return check.locator(".jp-OutputArea").inner_text()


def test_student_types_an_answer_and_runs_its_check(notebook):
    path, cells = _release_with_exercise(EXERCISE)
    nb = notebook(_rel(path))
    validate = assert_student_view(nb)
    answer_wrong_then_right(nb, cells)

    # The README's screenshot: the exercise and its passed check, under the exercise's heading.
    page = nb.page
    page.evaluate("([sel, i]) => document.querySelectorAll(sel)[i].scrollIntoView({block: 'start'})",
                  [nb.CELLS, cells["exercise"] - 1])
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "first-steps.png"
    page.screenshot(path=str(shot))
    if os.environ.get("COURSE_UPDATE_DOCS") == "1":
        small_png(shot, DOCS_SCREENSHOT)
    assert_validate_fails_only_the_unanswered(nb, validate, path)


def assert_student_view(nb: NotebookPage):
    """The Binder student view: Validate is there, the instructor tools are not; returns Validate."""
    from playwright.sync_api import expect

    page = nb.page
    validate = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar").get_by_text("Validate", exact=True)
    expect(validate).to_be_visible()
    expect(page.get_by_text("Create Assignment", exact=True)).to_have_count(0)
    nb.menu("Nbgrader")
    entries = page.locator(".lm-Menu .lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    assert "Assignment List" in entries and not {"Formgrader", "Course List"} & set(entries), entries
    return validate


def answer_wrong_then_right(nb: NotebookPage, cells: dict[str, int]) -> None:
    """Setup first, as the notebook says; a wrong answer gets the counterexample and the likely mistake,
    the right one the success line."""
    nb.run_cell(cells["setup"])
    setup_output = nb.cells.nth(cells["setup"]).locator(".jp-OutputArea").inner_text()
    assert "budget: fast" in setup_output, setup_output
    output = _answer(nb, cells, WRONG)
    assert COUNTEREXAMPLE in output and DIAGNOSIS in output, output
    assert PASSED not in output
    output = _answer(nb, cells, RIGHT)
    assert output.strip().startswith(PASSED), output
    assert "Traceback" not in output and DIAGNOSIS not in output


def assert_validate_fails_only_the_unanswered(nb: NotebookPage, validate, path: Path) -> None:
    """Validate (nbgrader's student-side server extension) runs every check of the saved notebook:
    the unanswered exercises fail, the one answered here does not."""
    from playwright.sync_api import expect

    page = nb.page
    start = time.monotonic()
    validate.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.get_by_text("Validation Results")).to_be_visible(timeout=180_000)
    body = dialog.locator(".jp-Dialog-body")
    body_text = body.inner_text()
    nb.screenshot_full(ARTIFACTS / f"{path.stem}-student.png")
    assert "validation-failed" in (body.get_attribute("class") or ""), body_text[:2000]
    assert "The following cell failed" in body_text, body_text[:2000]
    assert f"checks.signals.{EXERCISE}({EXERCISE})" not in body_text, (
        f"Validate says the answered exercise fails ({time.monotonic() - start:.0f} s):\n{body_text[:3000]}")
    assert "NotImplementedError" in body_text
    dialog.get_by_role("button", name="Ok").click()


def test_readme_screenshot_is_committed_and_small():
    from PIL import Image

    assert DOCS_SCREENSHOT.is_file(), (f"{_rel(DOCS_SCREENSHOT)} is missing: run COURSE_UPDATE_DOCS=1 "
                                       "python -m pytest tests/test_browser.py")
    with Image.open(DOCS_SCREENSHOT) as image:
        assert image.format == "PNG" and image.size == (1280, 800), (image.format, image.size)
    assert DOCS_SCREENSHOT.stat().st_size < 250_000, "keep the README screenshot small"
    assert f"]({_rel(DOCS_SCREENSHOT)})" in (REPO / "README.md").read_text(encoding="utf-8")


def _grade_cells(path: Path) -> set[int]:
    """Indices of the check cells (nbgrader ``grade: true``) of a notebook file."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return {i for i, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def _run_from(nb: NotebookPage, index: int, timeout_ms: int = 240_000) -> None:
    """Select cell ``index`` and use Run > Run Selected Cell and All Below; wait until the queue is empty
    (JupyterLab stops it at the first cell that raises)."""
    cell = nb.cells.nth(index)
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputPrompt").click()
    nb.page.keyboard.press("Escape")
    nb.menu("Run", "Run Selected Cell and All Below")
    nb.wait_queue_done(index, timeout_ms)


@pytest.mark.parametrize("path", RELEASES, ids=[p.stem for p in RELEASES])
def test_release_runs_unanswered_in_the_browser(path, notebook):
    """Browsing ahead as a student does it: with no exercise answered, Run All stops only at check
    cells (their job is to say the exercise is not done); running on from the next cell each time
    reaches the end, every demonstration runs, and the notes say the course's version is shown."""
    checks = _grade_cells(path)
    nb = notebook(_rel(path))
    start, stops = 0, []
    while True:
        _run_from(nb, start)
        report = nb.report()
        code = [c for c in report["cells"] if c["code"] and c["index"] >= start]
        unrun = [c["index"] for c in code if not re.fullmatch(r"\[\d+\]:", c["prompt"] or "")]
        if not unrun:
            break
        ran = [c["index"] for c in code if c["index"] < unrun[0]]
        assert ran, f"{_rel(path)}: Run Selected Cell and All Below from cell {start} ran nothing"
        stopped = ran[-1]
        assert stopped in checks, (f"{_rel(path)}: the run stopped at cell {stopped}, which is not a check cell:\n"
                                   + " ".join(o["text"] for o in report["cells"][stopped]["outputs"])[-800:])
        stops.append(stopped)
        start = stopped + 1
    nb.screenshot_full(ARTIFACTS / f"{path.stem}-unanswered.png")
    errors = [c["index"] for c in report["cells"] if c["index"] not in checks
              for out in c["outputs"] if out["mime"] == STDERR and re.search(r"Traceback|Error", out["text"])]
    assert not errors, f"{_rel(path)}: demonstration cells show errors: {errors}"
    assert stops, f"{_rel(path)}: no check cell failed, so the release was not run unanswered"
    shown = " ".join(out["text"] for c in report["cells"] for out in c["outputs"])
    assert "not done yet" in shown, f"{_rel(path)}: no demonstration said it showed the course's version"
