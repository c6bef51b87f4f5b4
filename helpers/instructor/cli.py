"""``cnn-course``: the instructor's command line, run in the course root (its nbgrader_config.py applies).

    cnn-course release [ASSIGNMENT...]              regenerate course/ from solutions/ (and the gradebook)
    cnn-course collect PATH --assignment A          import a folder or zip of notebooks into submitted/
    cnn-course validate A                           report every submission's problems (changes nothing)
    cnn-course grade A [--workers N]                autograde in parallel, progress bar, report
    cnn-course grade A --scheduler tcp://HOST:8786  autograde on a Dask cluster ([--resume]: only what is missing)
    cnn-course feedback A                           HTML feedback without the hidden tests
    cnn-course export --to grades.csv [--tests F]   nbgrader's CSV (and one row per test cell)
    cnn-course summary [A...]                       per test: mean, failures, common mistakes; problems
    cnn-course all A --from PATH [--workers N]      collect, validate, grade, feedback, export, summary
    cnn-course student-edition OUT                  the folder to publish to a graded class (no answers)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

from ..notebook import FIGURES
from .course import Course


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnn-course", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course root (default: here)")
    parser.add_argument("--db", default="", help="gradebook URL (default: sqlite:///<root>/gradebook.db)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("release", help="regenerate the release").add_argument("assignments", nargs="*")
    p = sub.add_parser("collect", help="import submissions")
    p.add_argument("path", type=Path)
    p.add_argument("--assignment", "-a", required=True)
    sub.add_parser("validate", help="report problems").add_argument("assignment")
    for name in ("grade", "all"):
        p = sub.add_parser(name, help="autograde" if name == "grade" else "the whole pipeline")
        p.add_argument("assignment")
        p.add_argument("--workers", "-j", type=int, default=max(1, os.cpu_count() or 1))
        p.add_argument("--timeout", type=float, default=600, help="seconds per submission (default 600)")
        p.add_argument("--student", action="append", help="only these students (repeatable)")
        p.add_argument("--plain-kernels", action="store_true",
                       help="start every kernel afresh instead of forking it from one that imported torch (slower)")
        p.add_argument("--require-sandbox", action="store_true",
                       help="refuse to grade where students' code cannot run in a bubblewrap sandbox")
        p.add_argument("--figures", action="store_true",
                       help="draw the figures of graded notebooks (kept in feedback; slower)")
        p.add_argument("--scheduler", help="grade on a Dask cluster: its scheduler's address (tcp://host:8786), "
                                           "or 'local' for a LocalCluster of --workers processes here")
        p.add_argument("--resume", action="store_true",
                       help="with --scheduler: grade only the submissions not merged yet (after a lost scheduler)")
        if name == "all":
            p.add_argument("--from", dest="source", type=Path, required=True, help="folder or zip of notebooks")
            p.add_argument("--to", type=Path, default=Path("grades.csv"))
    sub.add_parser("feedback", help="HTML feedback").add_argument("assignment")
    p = sub.add_parser("export", help="grades to CSV")
    p.add_argument("--to", type=Path, default=Path("grades.csv"))
    p.add_argument("--tests", type=Path, help="also one row per student and test cell, in this file")
    sub.add_parser("summary", help="the grading report").add_argument("assignments", nargs="*",
                                                                        help="default: every graded assignment")
    sub.add_parser("student-edition", help="write the student edition").add_argument("out", type=Path)
    return parser


def _collect(course, args) -> None:
    from .collect import collect

    done = collect(course, args.path if args.command == "collect" else args.source, args.assignment)
    print(f"collected {len(done.copied)} files, {len(done.unchanged)} already there, "
          f"{len(done.conflicts)} conflicts, for {len(done.students)} students")
    for student, rel in done.conflicts:
        print(f"  {student}: {rel} differs from the file already in submitted/: kept the existing one")
    for note in done.notes:
        print(f"  {note}")


def _validate(course, args) -> int:
    from .report import collapse
    from .validate import validate

    students = course.students(args.assignment)
    bad = 0
    for student in students:
        sub = validate(course, args.assignment, student)
        bad += bool(sub.problems)
        for problem in collapse(sub.problems):
            print(f"{student}: {problem}")
    print(f"{args.assignment}: {len(students)} submissions, {bad} with problems")
    return 0


def _grade(course, args) -> None:
    from .autograde import grade

    start = time.perf_counter()
    if args.figures:
        os.environ[FIGURES] = "1"  # passed on to the workers and their kernels
    outcomes = grade(course, args.assignment, args.student, workers=args.workers, timeout=args.timeout,
                     fork_kernels=not args.plain_kernels, require_sandbox=args.require_sandbox,
                     scheduler=args.scheduler, resume=args.resume)
    statuses = Counter(o.status for o in outcomes)
    where = f"on the cluster {args.scheduler}" if args.scheduler and args.scheduler != "local" else \
        f"with {args.workers} workers"
    print(f"{args.assignment}: {len(outcomes)} submissions in {time.perf_counter() - start:.0f} s {where} "
          f"({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}); "
          f"`cnn-course summary {args.assignment}` for the report")


def _feedback(course, args) -> None:
    from .feedback import generate_feedback

    for student, problem in generate_feedback(course, args.assignment).items():
        print(f"{student}: no feedback: {problem}")


def _export(course, args) -> None:
    from .export import export, export_tests

    print(f"grades written to {export(course, args.to)}")
    if getattr(args, "tests", None):
        print(f"grades per test written to {export_tests(course, args.tests)}")


def _student_edition(args) -> None:
    from .edition import build

    edition = build(args.out)
    print(f"student edition written to {edition.root}: {len(edition.stored)} self-checks with stored expected "
          f"values; {len(edition.standins)} graded functions given library calls or stored outputs, "
          f"{len(edition.stubs)} stubs")
    for name in edition.unstored:
        print(f"  {name}: its outputs are not plain data, so its self-check cannot run in the student edition")
    print("next: fill in the Binder badge in its README.md, then push it as the students' repository")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:  # the user's to fix: no traceback
        print(f"cnn-course {args.command}: {err}", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.command == "student-edition":  # built from this installation's course, whatever --root says
        _student_edition(args)
        return 0
    course = Course(args.root, args.db)
    if args.command == "release":
        from .release import release

        print("released " + ", ".join(release(course, args.assignments)))
    elif args.command == "collect":
        _collect(course, args)
    elif args.command == "validate":
        _validate(course, args)
    elif args.command == "grade":
        _grade(course, args)
    elif args.command == "feedback":
        _feedback(course, args)
    elif args.command == "export":
        _export(course, args)
    elif args.command == "summary":
        from .report import summary

        graded = sorted(p.stem for p in (course.root / "grading").glob("*.json"))
        print("\n\n".join(summary(course, a) for a in args.assignments or graded) or "nothing graded yet")
    else:  # all
        from .report import summary

        _collect(course, args)
        _grade(course, args)
        _feedback(course, args)
        _export(course, args)
        print(summary(course, args.assignment))
    return 0


if __name__ == "__main__":
    sys.exit(main())
