"""A grading worker process: grades submissions one at a time with nbgrader's own API.

``python -m helpers.instructor.worker --result-fd N [--preload MODULE...]`` reads one request per line
on stdin, ``{"root": ..., "assignment": ..., "student": ..., "token": ...}``, runs
``NbGraderAPI.autograde`` in that work root and answers one line ``@@result {"token": ..., "student":
..., "success": ..., "error": ...}`` on descriptor N, a pipe that only this process holds: the kernels
never inherit it (it is close-on-exec and closed in the kernel server), the worker is not dumpable (so
a kernel cannot open it through ``/proc/<pid>/fd`` or read the token from its memory), and the worker's
and kernels' stdout and stderr go to a log file. So a student's ``os.write(1, b"@@result ...")`` is
only a line in the log. It imports nbgrader once for many submissions;
:mod:`helpers.instructor.autograde` kills it (and its kernel) when a submission runs past its time
limit, and starts another.

Before it answers, every process the submission started is killed (the worker is the subreaper of
its descendants, so even a detached daemon is found): nothing of a student outlives its grading.

With ``--preload`` its kernels are forks of a kernel server that imported those modules once
(:mod:`helpers.instructor.forkserver`); without it, or where forking is not possible, they start
the ordinary way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .course import RESULT_PREFIX as PREFIX, Course, grading_config
from .forkserver import KERNEL_NAME, LIMITS_ENV, KernelServer, apply_limits
from .sandbox import confine_worker, empty_tmp, end_descendants, private_environment


def grade_one(root: str, assignment: str, student: str, kernel_name: str = "") -> dict:
    course = Course(Path(root))
    config = grading_config(course.config())
    if kernel_name:
        config.ResilientExecute.kernel_name = kernel_name
    try:
        result = course.api(config).autograde(assignment, student, force=True, create=True)
    except Exception as err:  # reported to the parent, which flags this submission only
        return {"success": False, "error": f"{type(err).__name__}: {err}"}
    error = "" if result.get("success") else "\n".join(filter(None, [result.get("log"), result.get("error")]))
    return {"success": bool(result.get("success")), "error": error}


def answer(results, request: dict, result: dict) -> None:
    """Write ``result`` on the result channel, with the request's token and student."""
    results.write(PREFIX + json.dumps({"token": request.get("token"), "student": request.get("student"), **result})
                  + "\n")
    results.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.instructor.worker")
    parser.add_argument("--preload", nargs="*", default=None, help="fork kernels from a server importing these")
    parser.add_argument("--result-fd", type=int, default=1, help="the descriptor answers are written on")
    args = parser.parse_args(argv)
    os.set_inheritable(args.result_fd, False)  # never passed on to a kernel (close-on-exec)
    results = os.fdopen(args.result_fd, "w", buffering=1) if args.result_fd != 1 else sys.stdout
    confine_worker()
    server = KernelServer(args.preload) if args.preload is not None else None
    kernel_name = KERNEL_NAME if server is not None and server.start() else ""
    if not kernel_name:  # ordinary kernels are not started by the launcher, which applies the limits
        apply_limits({LIMITS_ENV: json.dumps({**json.loads(os.environ.get(LIMITS_ENV) or "{}"), "cpu_seconds": 0})})
    try:
        for line in sys.stdin:
            request = json.loads(line)
            private_environment(Path(request["root"]))
            result = grade_one(request["root"], request["assignment"], request["student"], kernel_name)
            if not result["success"]:  # the whole of nbgrader's log, for the instructor (the report keeps a line)
                print(f"grader: {request['student']}: {result['error']}", file=sys.stderr, flush=True)
            end_descendants(keep=server.pid() if server is not None else None)
            if server is not None and kernel_name and not server.intact():
                server.stop()  # a submission killed or replaced it: the next kernels start afresh
                kernel_name = KERNEL_NAME if server.start() else ""
            empty_tmp(keep={server.folder if server is not None else None, os.getcwd()})
            answer(results, request, result)
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
