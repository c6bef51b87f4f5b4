"""Run a notebook's self-checks inside a student edition (test support, run as a script, not a test file).

    python edition_driver.py job.json result.json      (cwd and PYTHONPATH: the student edition)

``job.json`` holds the notebook's setup cell, its exercise and check cells in order (the answers
typed in), the plain cells an exercise's check needs (``call``: run between an answer and its
check, as 05's capstone cell trains the model its check reads; ``context``: what an answer or a
call reads, as the data split it trains on) and the bank's wrong answers. Each check cell runs
after its answer; then each wrong answer is typed in, its call cells run again, its check cell run
(it must raise) and the right answer typed back (with its call cells).
``result.json``: ``failures`` (check, call or context cells that raised on the right answers, with the error),
``passed_wrong`` (wrong answers a check let through), ``unexplained`` (wrong answers whose
``explains`` text the check did not print), ``helpers`` (where ``helpers`` was imported from).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

import matplotlib

matplotlib.use("Agg")


# A wrong answer that calls the course's version finds a stub here, not the answer: rejected, by another message.
_STUB = "the student edition does not include the course's answer"


def _run(source: str, namespace: dict) -> tuple[str, str | None]:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, "<cell>", "exec"), namespace)
    except BaseException as exc:  # a check's verdict, whatever it raised
        return out.getvalue(), f"{type(exc).__name__}: {exc}"
    return out.getvalue(), None


def main(job_path: str, result_path: str) -> None:
    job = json.load(open(job_path))
    namespace: dict = {"__name__": "__main__"}
    setup = "\n".join(line for line in job["setup"].splitlines() if not line.lstrip().startswith("%"))
    _, error = _run(setup, namespace)
    if error:
        raise SystemExit(f"setup cell failed: {error}")
    import helpers

    answers, calls, failures = {}, {}, {}
    for cell in job["cells"]:
        if cell["kind"] == "answer":
            answers[cell["gid"]] = cell["source"]
        elif cell["kind"] == "call":
            calls.setdefault(cell["gid"], []).append(cell["source"])
        _, error = _run(cell["source"], namespace)
        if error and cell["kind"] != "answer":
            failures[cell["gid"] if cell["kind"] == "test" else f"{cell['kind']} {cell['gid']}"] = error
    passed_wrong, unexplained = [], []
    tests = {c["gid"]: c["source"] for c in job["cells"] if c["kind"] == "test"}

    def type_in(cell: str, source: str) -> None:
        for code in (source, *calls.get(cell, [])):
            _run(code, namespace)

    for mutant in job["mutants"]:
        type_in(mutant["cell"], mutant["source"])
        printed, error = _run(tests[f"test_{mutant['cell']}"], namespace)
        if error is None:
            passed_wrong.append(mutant["student"])
        elif mutant["explains"] and mutant["explains"] not in printed + error and _STUB not in error:
            unexplained.append(f"{mutant['student']}: {error[:1500]}")
        type_in(mutant["cell"], answers[mutant["cell"]])
    json.dump({"failures": failures, "passed_wrong": passed_wrong, "unexplained": unexplained,
               "helpers": helpers.__file__}, open(result_path, "w"), indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
