"""Binder's worst realistic case: two notebooks open (their kernels alive) and a Validate.

    python benchmarks/binder_memory.py                                  # 05 and 07 open, Validate 06
    python benchmarks/binder_memory.py --open 06_architectures 07_transfer_learning --validate 05_cnn_training

mybinder.org gives a session about 1 CPU and 2 GB. A student typically keeps two notebooks open
(each kernel keeps its tensors after running every cell) and presses Validate on a third, which
runs that notebook once more in a kernel of its own. This runs exactly that on one CPU with
Binder's thread and allocator settings (``binder/start``): the two notebooks' solutions cell by cell in kernels
that stay alive, then nbgrader's Validator on the third notebook's answers typed into its release,
sampling the memory of every kernel all the while.

Memory is reported as the sum of the kernels' PSS (proportional set size: a shared library page
counted once in total, as a container's memory limit counts it) and, for comparison, of their RSS
(each process counts every page it maps). A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the nbgrader driver shared with the grading tests
sys.path.insert(0, str(REPO / "scripts"))
from binder_pins import binder_start_env  # noqa: E402  (binder/start's variables, read from the file)


class Sampler(threading.Thread):
    """Samples the summed PSS and RSS (MiB) of this process's descendants until stopped; keeps the peaks."""

    def __init__(self, every: float = 0.25):
        super().__init__(daemon=True)
        self.every, self.peak_pss, self.peak_rss, self._done = every, 0.0, 0.0, threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._done.is_set():
            pss = rss = 0
            for child in me.children(recursive=True):
                try:
                    info = child.memory_full_info()
                    pss, rss = pss + info.pss, rss + info.rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss / 2**20), max(self.peak_rss, rss / 2**20)
            self._done.wait(self.every)

    def stop(self) -> None:
        self._done.set()
        self.join()


def open_notebook(assignment: str):
    """A live kernel that has run every code cell of the assignment's solution (like a student's open tab)."""
    import nbformat
    from jupyter_client.manager import start_new_kernel

    path = REPO / "solutions" / assignment / f"{assignment}.ipynb"
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(path.parent))
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            reply = kc.execute_interactive(cell.source, timeout=600, output_hook=lambda msg: None)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"{assignment}: a cell failed: {reply['content'].get('evalue')}")
    return km, kc


def validate(assignment: str) -> bool:
    """nbgrader's Validator (what the Validate button runs) on the solution's answers typed into the release."""
    import tempfile

    import nbformat
    from nbgrader.validator import Validator
    from nbgrading import CourseRoot, filled_release, solution_sources

    with tempfile.TemporaryDirectory() as tmp:
        root = CourseRoot.create(Path(tmp), assignment)
        nb = filled_release(root.release_notebook(), solution_sources(assignment))
        path = root.release.parent / "student.ipynb"
        nbformat.write(nb, path)
        result = Validator().validate(str(path))
        return not result.get("failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", nargs=2, default=["05_cnn_training", "07_transfer_learning"])
    parser.add_argument("--validate", default="06_architectures")
    args = parser.parse_args()
    os.environ.update(binder_start_env())
    os.environ.pop("CI", None)
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])  # Binder's one CPU
    sampler = Sampler()
    sampler.start()
    start = time.perf_counter()
    kernels = [open_notebook(a) for a in args.open]
    after_open = sampler.peak_pss
    passed = validate(args.validate)
    sampler.stop()
    for km, kc in kernels:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print(json.dumps({"open": args.open, "validate": args.validate, "validate_passed": passed,
                      "peak_pss_mib_two_open": round(after_open), "peak_pss_mib": round(sampler.peak_pss),
                      "peak_rss_mib": round(sampler.peak_rss), "seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
