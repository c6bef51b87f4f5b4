"""A grading worker process: grades submissions one at a time with nbgrader's own API.

``python -m helpers.instructor.worker [--preload MODULE...]`` reads one request per line on stdin,
``{"root": ..., "assignment": ..., "student": ...}``, runs ``NbGraderAPI.autograde`` in that work
root and answers one line ``@@result {"success": ..., "error": ...}`` on stdout. It imports nbgrader
once for many submissions; :mod:`helpers.instructor.autograde` kills it (and its kernel) when a
submission runs past its time limit, and starts another.

With ``--preload`` its kernels are forks of a kernel server that imported those modules once
(:mod:`helpers.instructor.forkserver`); without it, or where forking is not possible, they start
the ordinary way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .course import RESULT_PREFIX as PREFIX, Course, grading_config
from .forkserver import KERNEL_NAME, KernelServer


def grade_one(root: str, assignment: str, student: str, kernel_name: str = "") -> dict:
    course = Course(Path(root))
    config = grading_config(course.config())
    if kernel_name:
        config.ResilientExecute.kernel_name = kernel_name
    try:
        result = course.api(config).autograde(assignment, student, force=True, create=True)
    except Exception as err:  # reported to the parent, which flags this submission only
        return {"success": False, "error": f"{type(err).__name__}: {err}"}
    return {"success": bool(result.get("success")), "error": result.get("error") or result.get("log") or ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.instructor.worker")
    parser.add_argument("--preload", nargs="*", default=None, help="fork kernels from a server importing these")
    args = parser.parse_args(argv)
    server = KernelServer(args.preload) if args.preload is not None else None
    kernel_name = KERNEL_NAME if server is not None and server.start() else ""
    try:
        for line in sys.stdin:
            request = json.loads(line)
            result = grade_one(request["root"], request["assignment"], request["student"], kernel_name)
            sys.stdout.write(PREFIX + json.dumps(result) + "\n")
            sys.stdout.flush()
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
