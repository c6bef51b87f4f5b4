"""Where one graded notebook's time goes, per assignment, on one core: against the floor of its own compute.

    python benchmarks/grading_breakdown.py                       # every complete assignment, 6 submissions each
    python benchmarks/grading_breakdown.py --students 4 --assignments 05_cnn_training

On one CPU core (what each of 2 workers gets on the 2-core budget machine; one math thread), for each
assignment:

- **graded compute (floor)**: the instructor's notebook run as the grader runs it (its cells up to the
  last graded cell, hidden tests included, ``NBGRADER_EXECUTION=autograde``) in a kernel that already
  imported everything: the cells' own time, which no pipeline can remove;
- **kernel start and stop**: a kernel forked from the worker's kernel server, from its launch until it
  answers, plus its shutdown;
- **one submission in its worker**: the median time ``cnn-course grade`` (1 worker, sandboxed where
  available) takes per correct submission once its worker is running; what it adds to the two lines
  above is the rest of the pipeline (nbgrader's two passes and gradebook writes, the grader's guard
  before each test cell, the work root, the merge);
- **worker start**: once per assignment and worker: the worker imports nbgrader and its kernel server
  imports the assignment's libraries (torch, matplotlib, scikit-learn): the first submission's time
  minus the median.

Results also go to benchmarks/results/grading_breakdown.json. Measurements, not tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

import nbformat  # noqa: E402

from grading import class_course, complete_assignments  # noqa: E402
from helpers.instructor import Course, grade  # noqa: E402
from helpers.instructor.autograde import _preload  # noqa: E402
from helpers.instructor.forkserver import KERNEL_NAME, KernelServer  # noqa: E402


def graded_cells(notebook: Path):
    """The notebook's code cells up to its last graded cell, as the grader runs them."""
    nb = nbformat.read(notebook, as_version=4)
    graded = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade")]
    return nb, [i for i, c in enumerate(nb.cells[:graded[-1] + 1]) if c.cell_type == "code"]


def floor_seconds(notebook: Path) -> float:
    """Seconds the cells of :func:`graded_cells` take in a started kernel (the kernel's start excluded)."""
    from nbclient import NotebookClient

    nb, cells = graded_cells(notebook)
    client = NotebookClient(nb, timeout=600, kernel_name=KERNEL_NAME, allow_errors=True,
                            resources={"metadata": {"path": str(notebook.parent)}})
    with client.setup_kernel():
        start = time.perf_counter()
        for i in cells:
            client.execute_cell(nb.cells[i], i)
        return time.perf_counter() - start


async def _kernel_life() -> float:
    from jupyter_client.manager import AsyncKernelManager

    from helpers.instructor.preprocessors import wait_until_ready

    start = time.perf_counter()
    km = AsyncKernelManager(kernel_name=KERNEL_NAME)
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    await wait_until_ready(kc, 60)
    kc.stop_channels()
    await km.shutdown_kernel(now=True)
    return time.perf_counter() - start


def kernel_seconds(times: int = 5) -> float:
    """Median seconds of a forked kernel's start (until it answers) and immediate stop."""
    return statistics.median(asyncio.run(_kernel_life()) for _ in range(times))


def measure(root: Path, assignment: str) -> dict:
    course = Course(root)
    notebook = course.folder("source") / assignment / f"{assignment}.ipynb"
    server = KernelServer(_preload(course, assignment))
    if not server.start():
        raise RuntimeError("no kernel server here (forked kernels need Linux 5.3 or later)")
    try:
        kernel = kernel_seconds()
        floor = floor_seconds(notebook)
    finally:
        server.stop()
    each = [o.seconds for o in grade(course, assignment, workers=1, progress=False)]
    steady = statistics.median(each[1:])
    return {"assignment": assignment, "graded_compute_s": round(floor, 2), "kernel_start_stop_s": round(kernel, 2),
            "submission_in_worker_s": round(steady, 2), "pipeline_rest_s": round(steady - floor - kernel, 2),
            "worker_start_s": round(each[0] - steady, 2), "submissions": len(each)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=6, help="correct submissions graded per assignment (>= 2)")
    parser.add_argument("--assignments", nargs="+", default=None)
    args = parser.parse_args()
    if args.students < 2:
        parser.error("--students must be at least 2 (the first submission also pays the worker's start)")
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"
    os.environ["NBGRADER_EXECUTION"] = "autograde"  # the floor's kernels run as graded ones do
    assignments = args.assignments or complete_assignments()
    with tempfile.TemporaryDirectory(prefix="grading-breakdown-") as tmp:
        root = class_course(Path(tmp) / "course", assignments, args.students, kinds=("correct",))
        rows = [measure(root, a) for a in assignments]
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "results" / "grading_breakdown.json").write_text(json.dumps(rows, indent=2))
    print("| assignment | graded compute (floor) | kernel start and stop | rest of the pipeline "
          "| one submission in its worker | worker start (once) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['assignment']}` | {r['graded_compute_s']} s | {r['kernel_start_stop_s']} s | {r['pipeline_rest_s']} s "
              f"| {r['submission_in_worker_s']} s | {r['worker_start_s']} s |")
    total = {k: round(sum(r[k] for r in rows), 2) for k in ("graded_compute_s", "kernel_start_stop_s",
                                                            "pipeline_rest_s", "submission_in_worker_s")}
    print(f"| all {len(rows)} | {total['graded_compute_s']} s | {total['kernel_start_stop_s']} s | "
          f"{total['pipeline_rest_s']} s | {total['submission_in_worker_s']} s | |")


if __name__ == "__main__":
    main()
