"""Grading throughput: a synthetic class graded by stock nbgrader, then by the course's pipeline.

    python benchmarks/grading.py                              # 20 students x every complete assignment
    python benchmarks/grading.py --students 100 --workers 1 2 --cores 2
    python benchmarks/grading.py --students 4 --assignments 01_conv1d_denoising   # a quick check
    python benchmarks/grading.py --no-stock --cluster 0       # the course's own settings only
    python benchmarks/grading.py --no-stock --cluster 0 --compare-sandbox   # the sandbox's cost

A complete assignment has its source (solutions/) and its release (course/). Each student of the
synthetic class is, in turn: correct (the instructor's answers), partial (one known-wrong answer
from tests/banks), broken (the untouched release) or crashing (a syntax error in the first answer).
The process is pinned to ``--cores`` CPU cores (default 2, the budget machine), so are the
workers and kernels it starts. The same class is graded in a fresh copy of one course root by
each setting in turn: stock ``nbgrader autograde`` (the baseline: what an instructor would run
without this course's tooling), ``cnn-course grade`` with each ``--workers`` count, then on a Dask
``LocalCluster`` of ``--cluster`` worker processes (the distributed path, started inside the timed
run). All settings must give identical grades; the table reports notebooks per minute, the ratio
to stock nbgrader, and the time a class of 100 students on 7 assignments would take at that rate.
That projection is high for small classes: each assignment's workers start once (about 6 s: nbgrader,
torch, matplotlib and scikit-learn imported), which a class of 100 pays once and a class of 8 pays per
8 notebooks; grade the real class (``--students 100``) to measure it.
Results also go to benchmarks/results/grading.json.
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


KINDS = ("correct", "partial", "correct", "broken", "partial", "crashing")  # the students, in turn


def synthetic_class(course: Course, assignment: str, students: int, kinds: tuple[str, ...] = KINDS) -> None:
    """Write ``students`` submissions of ``assignment`` into the course's submitted/, of ``kinds`` in turn."""
    from nbgrading import filled_release, solution_sources

    release_nb = course.release_notebook(assignment, assignment)
    answers = solution_sources(assignment)
    mutants = _bank(assignment)
    for i in range(students):
        kind = kinds[i % len(kinds)]
        if kind == "partial" and mutants:
            m = mutants[(i // len(kinds)) % len(mutants)]
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


def class_course(root: Path, assignments: list[str], students: int, kinds: tuple[str, ...] = KINDS) -> Path:
    """A course root at ``root`` with ``assignments`` released and a synthetic class's submissions of each.

    An assignment whose release fails (a notebook still being written) is skipped, said on stderr, and
    removed from ``assignments``."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    for a in assignments:
        shutil.copytree(REPO / "solutions" / a, root / "solutions" / a)
    for a in list(assignments):
        try:
            release(Course(root), [a])
        except RuntimeError as err:
            print(f"skipping {a}: its release fails: {str(err).splitlines()[0]}", file=sys.stderr)
            assignments.remove(a)
    for a in assignments:
        synthetic_class(Course(root), a, students, kinds)
    return root


def stock_autograde(course: Course, assignment: str) -> None:
    """Plain ``nbgrader autograde`` of every submission, in the course root (its config, nothing else)."""
    from nbgrading import run_nbgrader

    run_nbgrader(["autograde", assignment], cwd=course.root, timeout=24 * 3600)


def _settings(args) -> list[tuple[str, object]]:
    """(label, grade one assignment of a course) for every setting to measure, in order."""
    settings = [("stock nbgrader autograde", stock_autograde)] if args.stock else []
    for workers in args.workers:
        label = f"cnn-course grade, {workers} worker{'s' * (workers > 1)}"
        settings.append((label + (", sandboxed" if args.compare_sandbox else ""),
                         lambda course, a, w=workers: grade(course, a, workers=w, progress=False)))
        if args.compare_sandbox:   # issue 16: the sandbox may cost at most 15% of the throughput
            settings.append((label + ", no sandbox",
                             lambda course, a, w=workers: grade(course, a, workers=w, progress=False, sandboxed=False)))
    if args.cluster:
        settings.append((f"cnn-course grade, Dask LocalCluster of {args.cluster}", "cluster"))
    return settings


def _measure(label: str, how, root: Path, assignments: list[str], cluster_workers: int) -> tuple[float, list]:
    """Grade every assignment of the course at ``root`` with ``how``; return the seconds it took and the
    seconds of each submission in its worker (the course's pipeline only)."""
    course = Course(root)
    start = time.perf_counter()
    outcomes = []
    if how == "cluster":  # the cluster's start is part of the run
        from helpers.instructor.distributed import connect

        with connect("local", cluster_workers) as client:
            print(f"{label}: cluster started in {time.perf_counter() - start:.1f} s", file=sys.stderr)
            for a in assignments:
                t = time.perf_counter()
                outcomes += grade(course, a, scheduler=client, progress=False)
                print(f"{label} {a}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    else:
        for a in assignments:
            t = time.perf_counter()
            outcomes += how(course, a) or []
            print(f"{label} {a}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return time.perf_counter() - start, [o.seconds for o in outcomes if o.seconds]


def _grades(root: Path, assignments: list[str]) -> dict:
    from helpers.instructor.gradebook import scores

    with Course(root).gradebook() as gb:
        return {a: scores(gb, a) for a in assignments}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="local worker counts to measure")
    parser.add_argument("--cluster", type=int, default=2, help="Dask LocalCluster workers (0: skip)")
    parser.add_argument("--stock", action=argparse.BooleanOptionalAction, default=True,
                        help="measure stock nbgrader autograde first (the baseline)")
    parser.add_argument("--compare-sandbox", action="store_true",
                        help="grade each --workers setting twice: in the bubblewrap sandbox, and without it")
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to run on (0: all)")
    parser.add_argument("--assignments", nargs="+", default=None)
    args = parser.parse_args()
    if args.cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.cores])
    cores = len(os.sched_getaffinity(0))
    assignments = args.assignments or complete_assignments()
    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as tmp:
        base = class_course(Path(tmp) / "base", assignments, args.students)
        runs, grades = [], []
        for i, (label, how) in enumerate(_settings(args)):
            root = Path(tmp) / f"run{i}"
            shutil.copytree(base, root)
            seconds, each = _measure(label, how, root, assignments, args.cluster)
            grades.append(_grades(root, assignments))
            notebooks = args.students * len(assignments)
            runs.append({"setting": label, "notebooks": notebooks, "seconds": round(seconds, 1),
                         "notebooks_per_minute": round(60 * notebooks / seconds, 2),
                         "mean_seconds_per_submission_in_worker": round(sum(each) / len(each), 2) if each else None})
    differing = [runs[i]["setting"] for i, g in enumerate(grades) if g != grades[0]]
    for run in runs:
        run["ratio_to_first"] = round(runs[0]["seconds"] / run["seconds"], 2)
        run["class_100x7_minutes"] = round(700 / run["notebooks_per_minute"], 1)
    results = {"machine": {"cores": cores, "python": platform.python_version(),
                           "processor": platform.processor() or platform.machine()},
               "assignments": assignments, "students": args.students, "runs": runs,
               "identical_grades": not differing, "baseline": runs[0]["setting"] if runs else None}
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "grading.json").write_text(json.dumps(results, indent=2))
    print(f"{args.students} students x {len(assignments)} assignments ({', '.join(assignments)}), {cores} cores; "
          f"grades identical across runs: {not differing}")
    print(f"| setting | notebooks | time | notebooks per minute | ratio to {runs[0]['setting']} "
          "| 100 students x 7 assignments at this rate | one submission in its worker |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        each = r["mean_seconds_per_submission_in_worker"]
        print(f"| {r['setting']} | {r['notebooks']} | {r['seconds']} s | {r['notebooks_per_minute']} | "
              f"{r['ratio_to_first']}x | {r['class_100x7_minutes']} min | {f'{each} s' if each else ''} |")
    if differing:
        sys.exit(f"grades differ from {runs[0]['setting']}'s: {', '.join(differing)}")


if __name__ == "__main__":
    main()
