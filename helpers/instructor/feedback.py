"""Students' feedback (HTML) with nbgrader's ``generate_feedback``: no hidden tests, no live code,
bounded size, maths rendered offline.

nbgrader's feedback is the autograded notebook, in which the hidden tests were restored. In front
of its own preprocessors come:

- nbgrader's ``ClearHiddenTests``: removes the hidden region of every test cell;
- :class:`ShortTracebacks`: a failing test cell's traceback is reduced to its last line (the check's
  message: what failed, a counterexample, the likely mistake), since the traceback quotes the
  hidden lines;
- :class:`~helpers.instructor.caps.CapSizes`: outputs and attachments above a size cap are
  replaced by a note;
- :class:`SanitizeOutputs`, nbconvert's ``SanitizeHTML`` but for markdown cells: a student's
  notebook is hostile input, and the feedback is opened in a browser. Raw cells and HTML/markdown
  outputs go through bleach (``<script>``, ``onerror=`` ... are shown as text), JavaScript and other
  active outputs are removed; the exporter's own ``sanitize_html`` does the same for what the
  template renders. Markdown cells are sanitised after they are rendered (:func:`safe_markdown`):
  bleach on their source would escape the ``&`` and ``<`` of their maths and code a second time.

MathJax comes from the installed ``jupyter-server-mathjax`` package, not a CDN: a trimmed copy
(TeX input, HTML-CSS output, its web fonts; :data:`MATHJAX_SKIPPED` left out) is written once per
student in ``feedback/<student>/mathjax/``, and every page loads it by a relative URL, so a
student who receives their ``feedback/<student>/`` folder sees the maths rendered, offline.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nbconvert.filters import strip_files_prefix
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from .course import Course

MATHJAX = "mathjax"  # the copy's folder name, in feedback/<student>/
# what MathJax 2 loads for TeX in HTML: the combined TeX+HTML-CSS configuration, the Safe
# extension (no javascript: links or styles from a student's TeX) and our font settings
MATHJAX_URL = f"../{MATHJAX}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe,local/cnn-course"
MATHJAX_SKIPPED = ("extensions/a11y", "jax/output/SVG", "localization")  # 8.7 of 11.5 MB, unused here
# The package's HTML-CSS output has the STIX-Web fonts only (not MathJax's default TeX fonts), and
# only English messages are copied.
MATHJAX_LOCAL_CONFIG = """\
MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
                   menuSettings: {locale: "en"}});
MathJax.Ajax.loadComplete("[MathJax]/config/local/cnn-course.js");
"""
TEMPLATES = Path(__file__).parent / "templates"


class ShortTracebacks(NbGraderPreprocessor):
    """A test cell's error keeps only ``ename: evalue``."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


# what rendered markdown may hold; everything else is escaped (shown as text)
MARKDOWN_TAGS = ["p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "a", "em", "strong", "b", "i", "code", "pre",
                 "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "img", "span", "div",
                 "sub", "sup", "del", "abbr"]
MARKDOWN_ATTRIBUTES = {"*": ["class", "id", "align"], "a": ["href", "title"], "img": ["src", "alt", "title"]}


class SanitizeOutputs(SanitizeHTML):
    """nbconvert's ``SanitizeHTML`` for outputs and raw cells; markdown cells pass (see :func:`safe_markdown`)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)


def safe_markdown(html: str) -> str:
    """nbconvert's ``strip_files_prefix`` filter, then its bleach sanitiser with the tags of
    rendered markdown. nbgrader's feedback template renders markdown cells as
    ``source | markdown2html | strip_files_prefix`` without nbconvert's sanitising, so this
    replaces that filter (registered by :func:`feedback_config`)."""
    return SanitizeHTML(tags=MARKDOWN_TAGS, attributes=MARKDOWN_ATTRIBUTES).sanitize_html_tags(strip_files_prefix(html))


def mathjax_source() -> Path:
    """MathJax 2 as installed by the ``jupyter-server-mathjax`` package (its ``static/`` folder)."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise RuntimeError("feedback: the jupyter-server-mathjax package (MathJax for offline maths) is "
                           "missing; pip install -e . installs it") from None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def copy_mathjax(folder: Path) -> Path:
    """Write the trimmed MathJax into ``folder/mathjax`` (once: an existing copy is kept); returns it."""
    target = Path(folder) / MATHJAX
    if not (target / "MathJax.js").is_file():
        source = mathjax_source()
        skipped = {source / s for s in MATHJAX_SKIPPED}
        shutil.copytree(source, target, dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if Path(d, n) in skipped])
        (target / "config" / "local").mkdir(exist_ok=True)
        (target / "config" / "local" / "cnn-course.js").write_text(MATHJAX_LOCAL_CONFIG)
    return target


def feedback_config(course: Course):
    import nbgrader
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from .caps import CapSizes

    config = course.config()
    config.GenerateFeedback.preprocessors = [ClearHiddenTests, ShortTracebacks, CapSizes, SanitizeOutputs, GetGrades,
                                             CSSHTMLHeaderPreprocessor]
    config.ClearHiddenTests.enforce_metadata = False
    config.SanitizeOutputs.enabled = True  # nbconvert's preprocessors are off unless enabled
    config.HTMLExporter.sanitize_html = True
    config.HTMLExporter.filters = {"strip_files_prefix": safe_markdown}
    config.HTMLExporter.mathjax_url = MATHJAX_URL
    # our template extends nbgrader's feedback template, found where GenerateFeedback looks for it
    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    config.HTMLExporter.template_name = "cnn_feedback"
    config.HTMLExporter.template_file = "offline.html.j2"  # extends the base's index.html.j2
    config.HTMLExporter.extra_template_basedirs = [str(nbgrader_templates), str(TEMPLATES)]
    return config


def generate_feedback(course: Course, assignment: str, students: list[str] | None = None) -> dict[str, str]:
    """Write feedback/<student>/<assignment>/*.html (and feedback/<student>/mathjax/) for each
    autograded student; returns {student: problem}."""
    api = course.api(feedback_config(course))
    autograded = course.folder("autograded")
    if students is None:
        students = sorted(p.name for p in autograded.iterdir() if (p / assignment).is_dir()) if autograded.is_dir() else []
    problems = {}
    for student in students:
        result = _run_generate_feedback(api, assignment, student)
        if not result["success"]:
            problems[student] = (result.get("error") or result.get("log") or "?").strip().splitlines()[-1]
        else:
            copy_mathjax(course.folder("feedback") / student)
    return problems


def _run_generate_feedback(api, assignment: str, student: str) -> dict:
    """``api.generate_feedback(assignment, student, force=True)`` without its fixed template:
    nbgrader's API sets ``HTMLExporter.template_name = 'feedback'`` over the configured one."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.utils import capture_log, temp_attrs

    with temp_attrs(api.coursedir, assignment_id=assignment, student_id=student):
        app = GenerateFeedback(coursedir=api.coursedir, parent=api)
        app.force = True
        return capture_log(app)
