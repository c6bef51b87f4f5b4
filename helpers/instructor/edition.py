"""``cnn-course student-edition OUT``: the folder a graded class publishes to its students.

This repository is the instructor's edition: ``solutions/`` (answers and hidden tests), the banks
of wrong answers, and ``helpers/`` with a from-scratch reference of almost every exercise. A
student who can open those can copy them, so a graded class publishes this generated folder
instead::

    OUT/course/       the release, as committed (what the notebooks are)
    OUT/helpers/      a student build of the course library (below)
    OUT/binder/       the repository's Binder files: Validate on, instructor tools off and locked
    OUT/README.md     open the notebook, work, validate, submit; the Binder badge
    OUT/pyproject.toml  ``pip install -e . && bash binder/postBuild`` (the instructor tools off)

The student ``helpers/`` is built from this one, as a pipeline of source transforms:

1. every module except ``checks/`` and ``instructor/`` is copied, and each graded function
   (a name a solution cell defines, or a course version an :class:`~helpers.checks.core.Exercise`
   names) keeps its ``def`` line and docstring but gets a library-call stand-in body
   (:mod:`helpers.instructor.standins`) or one that raises ``NotImplementedError``;
2. each exercise's fixed cases are run here through the reference and every known mistake, and
   the outputs stored in ``helpers/checks/expected/<module>.pt``;
3. the checks modules are copied without their ``grade_*`` functions, mistake implementations and
   references (the student core's :class:`Exercise` reads the stored outputs instead,
   ``templates/student_edition/core_stored.py``), and code left unused is dropped.

The instructor grades exactly as before: hidden tests come from ``solutions/`` through the
gradebook, so a notebook written in the student edition grades as one written here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import torch

from .course import REPO
from .standins import STANDINS, STORED

TEMPLATES = Path(__file__).parent / "templates" / "student_edition"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "gradebook.db", ".DS_Store")


@dataclass
class Edition:
    """What :func:`build` wrote: ``root``, the graded functions given a stand-in or a stub (as
    ``module.function``), the exercises whose outputs were stored, and those that could not be."""

    root: Path
    standins: list[str] = field(default_factory=list)
    stubs: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    unstored: list[str] = field(default_factory=list)


def build(out: Path, repo: Path = REPO) -> Edition:
    """Write the student edition of the course at ``repo`` into the new or empty folder ``out``."""
    out, repo = Path(out), Path(repo).resolve()
    if repo != REPO.resolve():  # the stored outputs come from the helpers this process imported
        raise ValueError(f"build the edition of {repo} with its own helpers: run its cnn-course (this one is {REPO})")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty; pass a new folder")
    edition = Edition(out)
    shutil.copytree(repo / "course", out / "course", ignore=_IGNORED, dirs_exist_ok=True)
    shutil.copytree(repo / "binder", out / "binder", ignore=_IGNORED)
    for name in ("README.md", "pyproject.toml", ".gitignore"):
        shutil.copy(TEMPLATES / name.lstrip("."), out / name)
    _library(repo / "helpers", out / "helpers", set(answer_names(repo)), edition)
    _checks(repo / "helpers" / "checks", out / "helpers" / "checks", edition)
    return edition


# ------------------------------------------------------------------------- graded names
def answer_names(repo: Path = REPO) -> dict[str, str]:
    """Every top-level function or class a solution cell of ``repo/solutions`` defines -> its assignment."""
    names = {}
    for path in sorted((repo / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                try:
                    tree = ast.parse(cell.source)
                except SyntaxError:
                    continue
                names.update({n.name: path.parent.name for n in tree.body
                              if isinstance(n, (ast.FunctionDef, ast.ClassDef))})
    return names


def _course_versions() -> dict[str, set[str]]:
    """``module -> names`` of the helpers functions the Exercises call the course's versions."""
    from helpers.checks import MODULES
    from helpers.checks.core import Exercise

    found: dict[str, set[str]] = {}
    for name in MODULES:
        for ex in vars(importlib.import_module(f"helpers.checks.{name}")).values():
            if isinstance(ex, Exercise):
                for fn in ex._versions():
                    fn = inspect.unwrap(fn)
                    module = getattr(fn, "__module__", "") or ""
                    if module.startswith("helpers.") and ".checks" not in module:
                        found.setdefault(module.split(".")[1], set()).add(fn.__name__)
    return found


# ------------------------------------------------------------------- source splicing
def _splice(source: str, edits: list[tuple[int, int, int, int, str]]) -> str:
    """Replace each ``(line, col, end_line, end_col)`` span of ``source`` (ast positions) by its text."""
    lines = source.splitlines(keepends=True)
    spans = []

    def at(line: int, col: int) -> int:
        if line > len(lines):  # the line after the last one
            return len(source)
        # ast columns count UTF-8 bytes; convert them to a character offset of the line
        return sum(map(len, lines[:line - 1])) + len(lines[line - 1].encode()[:col].decode())

    for line, col, end_line, end_col, text in edits:
        spans.append((at(line, col), at(end_line, end_col), text))
    for start, end, text in sorted(spans, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def _whole_lines(node: ast.AST) -> tuple[int, int, int, int]:
    """The span of a statement with its decorators, from the start of its first line to the next line."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, 0, node.end_lineno + 1, 0


def _body_span(node: ast.FunctionDef | ast.ClassDef) -> tuple[int, int, int, int]:
    """The statements of a def or class after its docstring, as whole lines."""
    body = node.body[1:] if _docstring(node) else node.body
    if not body:
        return node.end_lineno + 1, 0, node.end_lineno + 1, 0
    return body[0].lineno, 0, node.end_lineno + 1, 0


def _docstring(node) -> bool:
    return bool(node.body) and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) \
        and isinstance(node.body[0].value.value, str)


def _indent(node) -> str:
    return " " * (node.body[0].col_offset if node.body else node.col_offset + 4)


# ------------------------------------------------------------------- step 1: the library
def _stub_text(module: str, node, indent: str) -> str:
    what = "class" if isinstance(node, ast.ClassDef) else "function"
    message = (f"helpers.{module}.{node.name}: the student edition does not include the course's answer to "
               f"{node.name}; write yours in the notebook")
    if isinstance(node, ast.ClassDef):
        return (f"{indent}def __init__(self, *args, **kwargs):\n"
                f"{indent}    raise NotImplementedError({message!r})\n")
    return f"{indent}raise NotImplementedError({message!r})  # the {what}'s answer is not in this edition\n"


def _standin_text(fn, indent: str) -> str:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    node = tree.body[0]
    body = node.body[1:] if _docstring(node) else node.body
    code = "\n".join(ast.get_source_segment(textwrap.dedent(inspect.getsource(fn)), stmt) for stmt in body)
    note = "# the student edition: a library call stands in for the course's answer\n"
    return textwrap.indent(note + code, indent) + "\n"


STORED_FILE = "stored_outputs.pt"


def _stored_text(module: str, node: ast.FunctionDef, indent: str) -> str:
    """A body that returns the stored output for its first argument (see ``standins.STORED``)."""
    arg, values = node.args.args[0].arg, STORED[module, node.name]
    key = f"{module}.{node.name}"
    return textwrap.indent(textwrap.dedent(f"""\
        # the student edition: the course's outputs for {arg} = {values.start}..{values.stop - 1}, stored
        # (no answer ships)
        import os
        stored = torch.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", {STORED_FILE!r}),
                            weights_only=True)[{key!r}]
        if {arg} not in stored:
            raise NotImplementedError(f"{key}: the student edition stores {arg} = {values.start}.."
                                      f"{values.stop - 1} only, got {{{arg}!r}}; write yours in the notebook")
        return stored[{arg}].to(dtype=dtype or torch.get_default_dtype(), device=device)
        """), indent)


def stored_standin_outputs() -> dict[str, dict[int, torch.Tensor]]:
    """``"module.function" -> {argument: float64 output}`` for every entry of ``standins.STORED``."""
    found = {}
    for (module, name), values in STORED.items():
        course = getattr(importlib.import_module(f"helpers.{module}"), name)
        found[f"{module}.{name}"] = {arg: course(arg, dtype=torch.float64) for arg in values}
    return found


def student_module(module: str, source: str, graded: set[str], edition: Edition | None = None) -> str:
    """``source`` of ``helpers/<module>.py`` with every graded top-level def's body replaced."""
    tree = ast.parse(source)
    edits = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in graded:
            standin = STANDINS.get((module, node.name))
            if standin is not None:
                _same_parameters(module, node, standin)
                text = _standin_text(standin, _indent(node))
            elif (module, node.name) in STORED:
                standin = STORED[module, node.name]
                text = _stored_text(module, node, _indent(node))
            else:
                text = _stub_text(module, node, _indent(node))
            if edition is not None:
                (edition.standins if standin else edition.stubs).append(f"{module}.{node.name}")
            edits.append((*_body_span(node), text))
    return _splice(source, edits)


def _same_parameters(module: str, node: ast.FunctionDef, standin) -> None:
    names = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    if names != list(inspect.signature(standin).parameters):
        raise ValueError(f"standins: the stand-in for {module}.{node.name} must take {names}, "
                         f"it takes {list(inspect.signature(standin).parameters)}")


def _library(src: Path, dst: Path, answers: set[str], edition: Edition) -> None:
    versions = _course_versions()
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "instructor", "checks"))
    torch.save(stored_standin_outputs(), dst / "data" / STORED_FILE)
    for path in sorted(dst.glob("*.py")):
        module = path.stem
        source = path.read_text()
        listed = {name for (where, name) in STANDINS if where == module}  # a stand-in replaces its body in any case
        path.write_text(student_module(module, source, answers | versions.get(module, set()) | listed, edition))


# -------------------------------------------------------------- step 2: stored outputs
def _outcome(case, fn):
    try:
        return ("ok", case.call(fn))
    except Exception as exc:  # a mistake may crash on an input; it then explains nothing there
        return ("raised", type(exc).__name__)


def exercises_in(namespace: dict, kind: type) -> list:
    """``(key, exercise)`` for every ``kind`` instance in a module's ``namespace``: a variable
    (``PAD``) or an item of a dict variable (``EXERCISES["relu_backward"]``). The student edition's
    core has a copy of this function, so both editions find the same exercises under the same keys."""
    found = []
    for name, value in namespace.items():
        if isinstance(value, kind):
            found.append((name, value))
        elif isinstance(value, dict) and not name.startswith("__"):
            found += [(f"{name}[{k!r}]", v) for k, v in value.items() if isinstance(v, kind)]
    return found


def stored_outputs(module: str) -> tuple[dict, list[str]]:
    """``{exercise variable: its fixed cases' outputs}`` for ``helpers.checks.<module>``, and the
    exercises whose outputs cannot be stored (not tensors, numbers, strings or containers of them)."""
    from helpers.checks.core import Exercise

    table, unstored = {}, []
    for key, ex in exercises_in(vars(importlib.import_module(f"helpers.checks.{module}")), Exercise):
        cases = ex.cases(None)
        entry = {"name": ex.name, "shows": [case.show() for case in cases],
                 "expected": [case.call(ex.reference) for case in cases],
                 "mistake_names": [m.name for m in ex.mistakes],
                 "mistakes": [[_outcome(case, m.fn) for case in cases] for m in ex.mistakes]}
        if not _storable(entry):
            unstored.append(f"{module}.{key}")
            continue
        # the inputs too, where they are plain data: a case built with a course function (the
        # directional kernels as edge_histogram's input) then needs no answer in the student edition
        inputs = [(case.args, case.kwargs, case.label) for case in cases]
        if _storable(inputs):
            entry["cases"] = inputs
        table[key] = entry
    return table, unstored


def _storable(value) -> bool:
    """Whether ``value`` survives ``torch.save`` and a ``torch.load(weights_only=True)`` (plain data)."""
    buffer = io.BytesIO()
    try:
        torch.save(value, buffer)
        buffer.seek(0)
        torch.load(buffer, weights_only=True)
    except Exception:
        return False
    return True


# ---------------------------------------------------------------- step 3: the checks
def _call_name(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")


def _argument(node: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(node.args) > position and not any(isinstance(a, ast.Starred) for a in node.args[:position + 1]):
        return node.args[position]
    return next((k.value for k in node.keywords if k.arg == keyword), None)


def student_checks(source: str, module: str) -> str:
    """A checks module's ``source`` without grading code, mistake implementations or references."""
    tree = ast.parse(source)
    edits = []
    methods = [m for n in tree.body if isinstance(n, ast.ClassDef) for m in n.body]
    for node in tree.body + methods:  # grade_x functions, and grade methods (Exercise.grade)
        if isinstance(node, ast.FunctionDef) and (node.name == "grade" or node.name.startswith("grade_")):
            edits.append((*_whole_lines(node), ""))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        target = (_argument(node, 2, "fn") if name == "Mistake"
                  else _argument(node, 1, "reference") if name == "Exercise" else None)
        # a reference named by attribute (ref.pad) is the student edition's stand-in or stub: keep it,
        # so the course-version rule still knows it; any code written here (a lambda, a local def) goes
        if target is not None and not isinstance(target, ast.Attribute):
            edits.append((target.lineno, target.col_offset, target.end_lineno, target.end_col_offset, "None"))
    source = _drop_unused(_splice(source, edits))
    title = (ast.get_docstring(tree) or "").split("\n")[0]
    if module != "core" and title:  # the rest of the instructor's docstring describes the hidden tests
        source = _with_docstring(source, f'"""{title}\n\n{_STUDENT_NOTE}\n"""')
    if module != "core":
        source += f"\n\ncore.use_stored(globals(), {module!r})  # the student edition: stored expected values\n"
    return source


def _drop_unused(source: str) -> str:
    """Remove private top-level functions and classes nothing refers to any more, until none is left."""
    while True:
        tree = ast.parse(source)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        dead = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                and n.name.startswith("_") and not n.name.startswith("__") and n.name not in used]
        if not dead:
            return source
        source = _splice(source, [(*_whole_lines(n), "") for n in dead])


_CHECKS_DOC = '''"""Self-checks, one module per notebook concept (``signals`` for notebook 01, ``conv2d`` for 02,
``pooling`` for 03, ``backprop`` for 04, ``training`` for 05, ``models`` for 06, ``transfer`` for 07).

The notebooks call them directly, ``checks.signals.conv1d(conv1d)``. This is the student edition:
each self-check compares your function's outputs with values stored when the course was built
(``expected/``), runs the same rules as the graded version, and names a likely mistake. Your
instructor grades with more cases of the same contract.
"""'''
_CORE_DOC = '''"""The checks framework every exercise uses (student edition).

An exercise is checked by running the student's function on the same :class:`Case` inputs the
course's answer was run on when this edition was built; the first output that differs from the
stored one becomes a *counterexample* (input, expected, got), and a known :class:`Mistake` whose
stored output equals the student's names the likely mistake. The rules (:class:`Rule`: from scratch,
vectorised, bad input refused ...) use :func:`calls_made`, which records every function a call runs.
"""'''


_STUDENT_NOTE = ("Student edition: each self-check compares your outputs with values stored when the course was\n"
                 "built, runs the same rules as the graded version, and names a likely mistake.")


def _with_docstring(source: str, docstring: str) -> str:
    """``source`` with its module docstring replaced by ``docstring`` (the instructor's names grading code)."""
    first = ast.parse(source).body[0]
    return _splice(source, [(first.lineno, first.col_offset, first.end_lineno, first.end_col_offset, docstring)])


def _student_core(source: str) -> str:
    source = student_checks(_with_docstring(source, _CORE_DOC), "core")
    return source + (TEMPLATES / "core_stored.py").read_text() + "\n\n" + inspect.getsource(exercises_in)


def _checks(src: Path, dst: Path, edition: Edition) -> None:
    from helpers.checks import MODULES

    dst.mkdir(parents=True, exist_ok=True)
    (dst / "expected").mkdir()
    (dst / "__init__.py").write_text(_with_docstring((src / "__init__.py").read_text(), _CHECKS_DOC))
    (dst / "core.py").write_text(_student_core((src / "core.py").read_text()))
    for module in MODULES:
        table, unstored = stored_outputs(module)
        torch.save(table, dst / "expected" / f"{module}.pt")
        edition.stored += [f"{module}.{key}" for key in table]
        edition.unstored += unstored
        (dst / f"{module}.py").write_text(student_checks((src / f"{module}.py").read_text(), module))
