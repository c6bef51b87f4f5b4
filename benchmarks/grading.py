"""Grading throughput: a synthetic class graded serially and in parallel with the instructor's pipeline.

    python benchmarks/grading.py                              # 20 students x every complete assignment
    python benchmarks/grading.py --students 100 --workers 1 2 --cores 2
    python benchmarks/grading.py --students 4 --assignments 01_conv1d_denoising   # a quick check

A complete assignment has its source (solutions/) and its release (course/). Each student of the
synthetic class is, in turn: correct (the instructor's answers), partial (one known-wrong answer
from tests/banks), broken (the untouched release) or crashing (a syntax error in the first answer).
The process is pinned to ``--cores`` CPU cores (default 2, the budget machine), so are the
workers and kernels it starts. For every ``--workers`` setting the same class is graded in a
fresh copy of one course root, all runs must give identical grades, and the table reports
notebooks per minute, the speed-up over the first setting, and the time a class of 100 students
on 7 assignments would take at that rate. Results also go to benchmarks/results/grading.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the banks of known-wrong answers

import nbformat  # noqa: E402

from helpers.instructor import Course, grade  # noqa: E402
from helpers.instructor.release import release  # noqa: E402


def complete_assignments() -> list[str]:
    return sorted(p.name for p in (REPO / "solutions").iterdir()
                  if (p / f"{p.name}.ipynb").exists() and (REPO / "course" / p.name / f"{p.name}.ipynb").exists())


def _bank(assignment: str) -> list:
    from banks import BANKS

    return [m for m in BANKS.get(assignment, [])]


def synthetic_class(course: Course, assignment: str, students: int) -> None:
    """Write ``students`` submissions of ``assignment`` into the course's submitted/."""
    from nbgrading import filled_release, solution_sources

    release_nb = course.release_notebook(assignment, assignment)
    answers = solution_sources(assignment)
    mutants = _bank(assignment)
    for i in range(students):
        kind = ("correct", "partial", "correct", "broken", "partial", "crashing")[i % 6]
        if kind == "partial" and mutants:
            m = mutants[(i // 6) % len(mutants)]
            nb = filled_release(release_nb, {**answers, m.cell: m.apply(answers[m.cell])})
        elif kind == "broken":
            nb = release_nb
        elif kind == "crashing":
            first = next(iter(answers))
            nb = filled_release(release_nb, {**answers, first: "def (:"})
        else:
            nb = filled_release(release_nb, answers)
        path = course.folder("submitted") / f"student{i:03d}" / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to run on (0: all)")
    parser.add_argument("--assignments", nargs="+", default=None)
    args = parser.parse_args()
    if args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.cores])
    cores = len(os.sched_getaffinity(0))
    assignments = args.assignments or complete_assignments()
    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        shutil.copy(REPO / "nbgrader_config.py", base)
        for a in assignments:
            shutil.copytree(REPO / "solutions" / a, base / "solutions" / a)
        for a in list(assignments):
            try:
                release(Course(base), [a])
            except RuntimeError as err:  # a notebook still being written
                print(f"skipping {a}: its release fails: {str(err).splitlines()[0]}", file=sys.stderr)
                assignments.remove(a)
        for a in assignments:
            synthetic_class(Course(base), a, args.students)
        runs, grades = [], []
        for workers in args.workers:
            root = Path(tmp) / f"workers{workers}"
            shutil.copytree(base, root)
            course = Course(root)
            start = time.perf_counter()
            per_assignment = {}
            for a in assignments:
                t = time.perf_counter()
                per_assignment[a] = {o.student: o.scores for o in grade(course, a, workers=workers)}
                print(f"workers={workers} {a}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
            seconds = time.perf_counter() - start
            grades.append(per_assignment)
            notebooks = args.students * len(assignments)
            runs.append({"workers": workers, "notebooks": notebooks, "seconds": round(seconds, 1),
                         "notebooks_per_minute": round(60 * notebooks / seconds, 2)})
    identical = all(g == grades[0] for g in grades)
    for run in runs:
        run["speedup"] = round(runs[0]["seconds"] / run["seconds"], 2)
        run["class_100x7_minutes"] = round(700 / run["notebooks_per_minute"], 1)
    results = {"machine": {"cores": cores, "python": platform.python_version(),
                           "processor": platform.processor() or platform.machine()},
               "assignments": assignments, "students": args.students, "runs": runs, "identical_grades": identical}
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "grading.json").write_text(json.dumps(results, indent=2))
    print(f"{args.students} students x {len(assignments)} assignments ({', '.join(assignments)}), {cores} cores; "
          f"grades identical across runs: {identical}")
    print("| workers | notebooks | time | notebooks per minute | speed-up | 100 students x 7 assignments |")
    print("|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['workers']} | {r['notebooks']} | {r['seconds']} s | {r['notebooks_per_minute']} | "
              f"{r['speedup']}x | {r['class_100x7_minutes']} min |")
    if not identical:
        sys.exit("grades differ between runs")


if __name__ == "__main__":
    main()
