"""Feedback: no live code, bounded size, maths offline (helpers.instructor.feedback and .caps).

The caps are unit-tested on notebooks built here; the whole feedback pipeline runs once, with real
nbgrader, on a toy assignment of two cells (no torch: seconds), whose student notebook has every
hostile output named in the issue: ``<script>``, ``onerror=``, ``Javascript()``, a large JSON output,
hundreds of display outputs and a large attachment (sizes bounded, caps lowered to match).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.instructor import Course
from helpers.instructor.caps import STRIPPED, CapSizes, size
from helpers.instructor.feedback import MATHJAX_URL, generate_feedback
from helpers.instructor.report import incidents

A = "toy"
CAPS = dict(max_output_bytes=50_000, max_outputs=20, max_cell_bytes=100_000, max_notebook_bytes=300_000,
            max_attachment_bytes=50_000)


def _capped(nb):
    return CapSizes(**CAPS).preprocess(nb, {})[0]


# ------------------------------------------------------------------------------------------- caps
def test_every_output_type_counts_and_what_is_above_a_cap_is_replaced_by_a_note():
    big_json = new_output("display_data", data={"application/json": {"x": "y" * 200_000}})
    many = [new_output("display_data", data={"text/plain": "z" * 10}) for _ in range(300)]
    image = new_output("display_data", data={"image/png": "A" * 60_000})
    error = new_output("error", ename="AssertionError", evalue="e" * 100_000, traceback=["t"] * 500)
    nb = new_notebook(cells=[new_code_cell("a", outputs=[big_json]), new_code_cell("b", outputs=many),
                             new_code_cell("c", outputs=[image, error]), new_code_cell("d", outputs=many[:3])])
    before = size(nb)
    nb = _capped(nb)
    json_cell, display_cell, image_cell, small = (c.outputs for c in nb.cells)
    assert len(json_cell) == 1 and json_cell[0].text.startswith(STRIPPED) and "1 outputs" in json_cell[0].text
    assert len(display_cell) == CAPS["max_outputs"] + 1 and "280 outputs" in display_cell[-1].text
    assert [o.output_type for o in image_cell] == ["error", "stream"], "the image goes, the error stays"
    assert len(image_cell[0].evalue) < 5_000 and len(image_cell[0].traceback) == 20
    assert small == many[:3], "outputs under every cap are kept as they are"
    assert size(nb) < 20_000 < before


def test_the_notebook_cap_keeps_the_first_outputs_and_attachments_above_their_cap_go(tmp_path):
    chunk = [new_output("display_data", data={"text/html": "h" * 40_000}) for _ in range(2)]
    attached = new_markdown_cell("![x](attachment:big.png) ![y](attachment:small.png)")
    attached.attachments = {"big.png": {"image/png": "B" * 60_000}, "small.png": {"image/png": "C" * 100}}
    nb = new_notebook(cells=[new_code_cell(str(i), outputs=list(chunk)) for i in range(6)] + [attached])
    nb = _capped(nb)
    kept = [sum(o.output_type == "display_data" for o in c.outputs) for c in nb.cells[:6]]
    assert kept == [2, 2, 2, 1, 0, 0], f"300 kB of outputs in order, then notes: {kept}"
    assert nb.cells[6].attachments == {"big.png": {"text/plain": ""}, "small.png": {"image/png": "C" * 100}}
    assert f"{STRIPPED} the attachment 'big.png'" in nb.cells[6].source
    nbformat.write(nb, tmp_path / "capped.ipynb")  # the grading report says what was removed
    assert incidents(tmp_path / "capped.ipynb") == ["code cell #3: outputs above the size caps, removed",
                                                    "code cell #4: outputs above the size caps, removed",
                                                    "code cell #5: outputs above the size caps, removed",
                                                    "markdown cell #6: an attachment above the size cap, removed"]


# ------------------------------------------------------------------- the pipeline, real nbgrader
HOSTILE = """\
from IPython.display import HTML, Javascript, display
display(Javascript("document.title = 'pwned by Javascript()'"))
display(HTML("<img src=x onerror=\\"document.title = 'pwned by onerror'\\"><script>document.title = 'pwned by script'</script>"))
print("<script>document.title = 'pwned by print'</script>")
display({"application/json": {"x": "y" * 200_000}}, raw=True)
for i in range(300):
    display(i)
"""


def _toy_course(root: Path) -> Course:
    """A course root with one assignment of one notebook: maths, an answer cell and a test cell."""
    from nbgrading import REPO

    caps = "".join(f"c.CapSizes.{k} = {v}\n" for k, v in CAPS.items())
    (root / "solutions" / A).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text((REPO / "nbgrader_config.py").read_text() + caps)
    cells = [new_markdown_cell("The mean: $\\bar x = \\frac{1}{n} \\sum_i x_i$"),
             new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", metadata={
                 "nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": "f", "schema_version": 3}}),
             new_code_cell("assert f() == 1\n### BEGIN HIDDEN TESTS\nassert f() + 1 == 2  # hidden\n### END HIDDEN TESTS",
                           metadata={"nbgrader": {"solution": False, "grade": True, "locked": True, "points": 1,
                                                  "grade_id": "test_f", "schema_version": 3}})]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nbformat.write(nb, root / "solutions" / A / f"{A}.ipynb")
    course = Course(root)
    assert course.api().generate_assignment(A, force=True)["success"]
    return course


def _submit(course: Course, student: str) -> None:
    nb = nbformat.read(course.folder("release") / A / f"{A}.ipynb", as_version=4)
    nb.cells[1].source = "def f():\n    return 1"
    attached = new_markdown_cell("<img src=x onerror=\"document.title = 'pwned by markdown'\"> ![a](attachment:a.png)")
    attached.attachments = {"a.png": {"image/png": base64.b64encode(b"P" * 60_000).decode()}}
    nb.cells[2:2] = [new_code_cell(HOSTILE), attached]
    folder = course.folder("submitted") / student / A
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{A}.ipynb")


class _Page:
    """What a browser would run or fetch in an HTML page: script bodies, script sources, attributes."""

    def __init__(self, text: str):
        from html.parser import HTMLParser

        self.scripts, self.sources, self.attributes = [], [], []
        page = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                page.attributes += attrs
                self.in_script = tag == "script"
                if tag == "script" and dict(attrs).get("src"):
                    page.sources.append(dict(attrs)["src"])

            def handle_endtag(self, tag):
                self.in_script = False

            def handle_data(self, data):
                if getattr(self, "in_script", False):
                    page.scripts.append(data)

        Parser().feed(text)


@pytest.fixture(scope="module")
def feedback(tmp_path_factory) -> tuple[Path, Path]:
    """(feedback HTML, autograded notebook) of a hostile submission to the toy assignment."""
    course = _toy_course(tmp_path_factory.mktemp("toy"))
    _submit(course, "mallory")
    assert course.api().autograde(A, "mallory", force=True)["success"]
    assert generate_feedback(course, A) == {}
    return (course.folder("feedback") / "mallory" / A / f"{A}.html",
            course.folder("autograded") / "mallory" / A / f"{A}.ipynb")


@pytest.mark.grading
def test_feedback_runs_no_student_code_is_bounded_and_loads_mathjax_from_a_local_copy(feedback):
    html, autograded = feedback
    assert autograded.stat().st_size > 300_000, "the attack must reach the autograded notebook"
    text = html.read_text()
    page = _Page(text)
    # no student code runs: nothing of theirs in a script, in an attribute (onerror=...), or as a script
    assert not any("pwned" in script for script in page.scripts)
    assert not any("pwned" in (value or "") or name.startswith("on") for name, value in page.attributes)
    assert "&lt;script&gt;document.title = 'pwned by print'" in text, "shown as text, escaped"
    assert "<p>The mean: $\\bar x = \\frac{1}{n} \\sum_i x_i$</p>" in text, "markdown and its maths are kept"
    # bounded: the JSON output, the displays past 20 and the attachment are replaced by notes
    assert html.stat().st_size < 200_000 < autograded.stat().st_size
    assert text.count(STRIPPED) == 2 and "the attachment" in text
    assert "f() + 1 == 2" not in text and "The mean" in text, "hidden tests removed, the rest kept"
    # maths offline: no CDN, and every file MathJax's URL names is in the copy beside the feedback
    assert not [s for s in page.sources if re.match(r"(https?:)?//", s)], page.sources
    assert not re.search(r"cdnjs|cdn\.|unpkg|jsdelivr", text)
    [mathjax] = [s for s in page.sources if "MathJax.js" in s]
    assert mathjax == MATHJAX_URL
    root = (html.parent / mathjax.split("?")[0]).parent
    assert (root / "MathJax.js").is_file()
    for config in mathjax.split("config=")[1].split(","):
        assert (root / "config" / f"{config}.js").is_file(), config
    assert (root / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").is_dir()


@pytest.mark.grading
def test_in_a_browser_offline_the_maths_renders_and_no_student_code_runs(feedback, tmp_path):
    from browser_support import launch_browser, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_browser(playwright, tmp_path / "profile")
        try:
            page = browser.new_page()
            fetched = []
            page.on("request", lambda request: fetched.append(request.url))
            page.goto(feedback[0].as_uri())
            page.wait_for_function("document.querySelectorAll('.MathJax').length > 0", timeout=30_000)
            page.wait_for_timeout(500)  # time for a script or an onerror handler, had one survived
            assert page.title() == A, "a student's script ran"
            assert page.locator(".MathJax").count() == 1
        finally:
            browser.close()
    assert not [url for url in fetched if url.startswith(("http:", "https:"))], fetched
