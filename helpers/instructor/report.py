"""The summary of an assignment's grading: per test (mean, failures, most common diagnosed
mistakes) and one line per kind of problem per student (validation, crashes, repairs): the same
problem in several cells is one line with the count and the cells (:func:`collapse`)."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from .caps import STRIPPED
from .course import Course
from .preprocessors import KERNEL_DIED, NOT_RUN, REPLACED, TRUNCATED
from .validate import grade_ids

_LIKELY = re.compile(r"likely mistake:\s*(.+)")
# "<notebook>: test cell 'test_pad': edited; ..." or "answer cell pad: raised ...": the cell, and around it
_CELL = re.compile(r"^(?P<before>.*?)\b(?P<kind>answer|test|locked|code) cell (?P<id>'[^']*'|[^\s:]+)(?P<after>.*)$", re.S)
_SHOWN = 5  # cell names listed in a collapsed line
_INCIDENTS = {"CellTimeoutError": "stopped at the time limit of a cell (an infinite loop?)",
              KERNEL_DIED: "killed the kernel (os._exit, exit(), a crash or memory)", NOT_RUN: "not run",
              "SystemExit": "called sys.exit()"}


@dataclass
class Outcome:
    """What happened to one student's submission of one assignment."""

    student: str
    status: str  # graded | repaired | failed | missing
    problems: list = field(default_factory=list)
    scores: dict = field(default_factory=dict)  # grade_id -> (score, max_score)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(s for s, _ in self.scores.values())


def report_path(course: Course, assignment: str) -> Path:
    return course.root / "grading" / f"{assignment}.json"


def write_report(course: Course, assignment: str, outcomes: list[Outcome]) -> Path:
    """Write (or update: other students' lines are kept) the grading report of ``assignment``."""
    path = report_path(course, assignment)
    merged = {o.student: o for o in read_report(course, assignment)}
    merged.update({o.student: o for o in outcomes})
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps([asdict(merged[s]) for s in sorted(merged)], indent=1))
    return path


def read_report(course: Course, assignment: str) -> list[Outcome]:
    path = report_path(course, assignment)
    if not path.exists():
        return []
    return [Outcome(**{**o, "scores": {k: tuple(v) for k, v in o["scores"].items()}})
            for o in json.loads(path.read_text())]


def incidents(path: Path) -> list[str]:
    """One line per event of an autograded notebook worth an instructor's look: a cell stopped at its
    time limit, a dead kernel, sys.exit, an answer cell that raised, truncated output, outputs or
    attachments removed by the size caps (:mod:`helpers.instructor.caps`), tampering."""
    if not path.exists():
        return []
    found = []
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        where = f"{'answer' if meta.get('solution') else 'test' if meta.get('grade') else 'code'} cell " \
                f"{meta.get('grade_id', f'#{index}')}"
        for out in cell.get("outputs", []):
            if out.output_type == "error" and out.ename in _INCIDENTS:
                found.append(f"{where}: {_INCIDENTS[out.ename]}")
            elif out.output_type == "error" and "were replaced in the notebook" in out.evalue:
                found.append(f"{where}: the checks were tampered with ({out.evalue.split(': ', 1)[-1][:160]})")
            elif out.output_type == "error" and meta.get("solution"):
                found.append(f"{where}: raised {out.ename}: {out.evalue[:120]}")
            elif out.output_type == "stream" and REPLACED in out.text:
                found.append(f"{where}: the checks were tampered with ({out.text.split(REPLACED)[1].strip()[:160]})")
            elif TRUNCATED in out.get("text", "") + out.get("data", {}).get("text/plain", ""):
                found.append(f"{where}: gigantic output, truncated")
            elif out.output_type == "stream" and out.text.startswith(STRIPPED):
                found.append(f"{where}: outputs above the size caps, removed")
        if cell.cell_type == "markdown" and STRIPPED in cell.source:
            found.append(f"markdown cell #{index}: an attachment above the size cap, removed")
    return list(dict.fromkeys(found))


def collapse(problems: list[str]) -> list[str]:
    """One line per kind of problem, in the order of first appearance: lines that differ only in
    the cell they name become ``<before>N [test|answer|...] cells (a, b, ...)<after>``; a line repeated word for word
    becomes ``<line> (N times)``."""
    groups: dict[tuple, list[str]] = {}  # kind -> the problems of that kind
    for problem in problems:
        groups.setdefault(_key(problem), []).append(problem)
    lines = []
    for (before, after), found in groups.items():
        if len(found) == 1:
            lines.append(found[0])
        elif after is None:
            lines.append(f"{before} ({len(found)} times)")
        else:
            matches = [_CELL.match(p) for p in found]
            kinds = {m["kind"] for m in matches}
            cells = [m["id"].strip("'") for m in matches]
            shown = ", ".join(cells[:_SHOWN]) + (", ..." if len(cells) > _SHOWN else "")
            lines.append(f"{before}{len(cells)} {kinds.pop() + ' ' if len(kinds) == 1 else ''}cells ({shown}){after}")
    return lines


def _key(problem: str) -> tuple:
    match = _CELL.match(problem)
    return (match["before"], match["after"]) if match else (problem, None)


def diagnoses(course: Course, assignment: str, student: str) -> dict[str, str]:
    """{test cell: the likely mistake or the error it raised} from the student's autograded notebooks."""
    found = {}
    for path in sorted((course.folder("autograded") / student / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for gid, cell in grade_ids(nb).items():
            errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
            if not errors or not gid.startswith("test_"):
                continue
            text = f"{errors[0].ename}: {errors[0].evalue}"
            likely = _LIKELY.search(text)
            found[gid] = likely.group(1).strip() if likely else text.splitlines()[0][:120]
    return found


def summary(course: Course, assignment: str, top: int = 3) -> str:
    """A plain-text report of the last grading of ``assignment``."""
    outcomes = read_report(course, assignment)
    if not outcomes:
        return f"{assignment}: not graded yet (run `cnn-course grade {assignment}`)"
    per_test: dict[str, list] = defaultdict(list)
    mistakes: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        for gid, (score, max_score) in o.scores.items():
            per_test[gid].append((score, max_score))
        for gid, why in diagnoses(course, assignment, o.student).items():
            mistakes[gid][why] += 1
    totals = [o.score for o in outcomes]
    max_total = max((sum(m for _, m in o.scores.values()) for o in outcomes), default=0)
    statuses = Counter(o.status for o in outcomes)
    lines = [f"{assignment}: {len(outcomes)} students, mean {sum(totals) / len(totals):.2f} / {max_total:g} "
             f"({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})", "",
             f"{'test':32} {'mean':>6} {'max':>5} {'failed':>7}  most common mistakes"]
    for gid in sorted(per_test):
        scores = per_test[gid]
        mean = sum(s for s, _ in scores) / len(scores)
        failed = sum(1 for s, m in scores if s < m)
        common = "; ".join(f"{why} ({n})" for why, n in mistakes[gid].most_common(top))
        lines.append(f"{gid:32} {mean:6.2f} {scores[0][1]:5g} {failed:7d}  {common}")
    problems = [(o.student, p) for o in outcomes for p in collapse(o.problems)]
    if problems:
        lines += ["", "problems, per student:"] + [f"  {s}: {p}" for s, p in problems]
    return "\n".join(lines)
