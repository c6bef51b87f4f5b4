"""Measure every solution notebook: wall time and peak memory, normally and under autograding,
and the time nbgrader takes to autograde one submission.

    python benchmarks/run.py                 # all assignments, table on stdout, JSON in benchmarks/results/
    python benchmarks/run.py 01_conv1d_denoising

Each notebook runs in its own process pinned to at most 2 CPU cores (the course's budget
machine); peak memory is the kernel's maximum resident set size. These are measurements, not
tests: nothing here passes or fails.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the nbgrader driver shared with the grading tests

MODES = {"normal": {"COURSE_BUDGET": "full"}, "autograding": {"NBGRADER_EXECUTION": "autograde"}}


def execute(notebook: Path) -> dict:
    """Run one notebook top to bottom in this process's kernel child; report time and peak memory."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}}).execute()
    seconds = time.perf_counter() - start
    errors = [o.ename for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel, after it exited
    return {"seconds": round(seconds, 2), "peak_mib": round(peak_kib / 1024, 1), "errors": errors}


def measure(notebook: Path, mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NBGRADER_EXECUTION", "COURSE_BUDGET")}
    env.update(MODES[mode])
    cores = sorted(os.sched_getaffinity(0))[:2]
    proc = subprocess.run([sys.executable, __file__, "--execute", str(notebook)], env=env, capture_output=True,
                          text=True, preexec_fn=lambda: os.sched_setaffinity(0, cores))
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def autograde_seconds(assignment: str) -> float:
    """Seconds `nbgrader autograde` takes for one submission (the solution typed into the release)."""
    from nbgrading import CourseRoot, filled_release, solution_sources, run_nbgrader

    with tempfile.TemporaryDirectory() as tmp:
        root = CourseRoot.create(Path(tmp), assignment)
        root.submit("student", filled_release(root.release_notebook(), solution_sources(assignment)))
        start = time.perf_counter()
        run_nbgrader(["autograde", assignment, "--force"], cwd=root.path)
        return round(time.perf_counter() - start, 2)


def main(assignments: list[str]) -> None:
    results = {"machine": {"cores_used": min(2, len(os.sched_getaffinity(0))), "python": platform.python_version(),
                           "processor": platform.processor() or platform.machine()}, "notebooks": {}}
    for assignment in assignments:
        notebook = REPO / "solutions" / assignment / f"{assignment}.ipynb"
        row = {mode: measure(notebook, mode) for mode in MODES}
        row["autograde_one_submission_s"] = autograde_seconds(assignment)
        results["notebooks"][assignment] = row
        print(f"{assignment}: {json.dumps(row)}", file=sys.stderr)
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    print("| notebook | normal: time | normal: peak memory | autograding mode: time | peak memory "
          "| `nbgrader autograde`, one submission |")
    print("|---|---|---|---|---|---|")
    for name, r in results["notebooks"].items():
        n, a = r["normal"], r["autograding"]
        print(f"| {name} | {n['seconds']} s | {n['peak_mib']} MiB | {a['seconds']} s | {a['peak_mib']} MiB "
              f"| {r['autograde_one_submission_s']} s |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--execute"]:
        print(json.dumps(execute(Path(sys.argv[2]))))
    else:
        names = sys.argv[1:] or sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
        main(names)
