"""Binder's worst realistic case: two notebooks open (their kernels alive) and a Validate.

    python benchmarks/binder_memory.py                                  # 05 and 07 open, Validate 06
    python benchmarks/binder_memory.py --open 06_architectures 07_transfer_learning --validate 05_cnn_training

mybinder.org gives a session about 1 CPU and 2 GB. A student typically keeps two notebooks open
(each kernel keeps its tensors after running every cell) and presses Validate on a third, which
runs that notebook once more in a kernel of its own. This runs exactly that on one CPU with
Binder's thread and allocator settings (``binder/start``) and its kernel startup file: a JupyterLab
server, the two notebooks' solutions cell by cell in kernels that stay alive, then the Validate
button's request to that server (nbgrader's handler) for the third notebook's answers typed into its
release, sampling the memory of the server and every kernel all the while.

Memory is reported as the sum of their PSS (proportional set size: a shared library page
counted once in total, as a container's memory limit counts it) and, for comparison, of their RSS
(each process counts every page it maps). A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
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


def student_notebook(assignment: str, folder: Path) -> Path:
    """The solution's answers typed into the release of ``assignment``, saved in ``folder``."""
    import nbformat
    from nbgrading import CourseRoot, filled_release, solution_sources

    root = CourseRoot.create(folder / "course-root", assignment)
    path = folder / assignment / f"{assignment}.ipynb"
    path.parent.mkdir()
    for data in root.release.parent.iterdir():   # the release's data files sit beside the notebook
        if data.is_file() and data.suffix != ".ipynb":
            shutil.copy(data, path.parent)
    nbformat.write(filled_release(root.release_notebook(), solution_sources(assignment)), path)
    return path


def press_validate(port: int, folder: Path, notebook: Path) -> bool:
    """POST to nbgrader's validate handler in the running server: exactly what the Validate button sends."""
    body = urllib.parse.urlencode({"path": str(notebook.relative_to(folder))}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/assignments/validate", data=body,
                                     headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=900) as reply:
        answer = json.loads(reply.read())
    return bool(answer.get("success")) and not answer.get("value", {}).get("failed")


def ipython_dir() -> str:
    """A fresh IPython folder whose default profile runs ``binder/kernel_startup.py``, as on Binder."""
    startup = Path(tempfile.mkdtemp(prefix="binder-ipython-")) / "profile_default" / "startup"
    startup.mkdir(parents=True)
    shutil.copy(REPO / "binder" / "kernel_startup.py", startup / "00-cnn-course-trim.py")
    return str(startup.parent.parent)


TOKEN = "binder-memory"


def jupyter_server(folder: Path, port: int) -> subprocess.Popen:
    """The Jupyter server of a Binder session (JupyterLab, nbgrader's Validate handler) serving ``folder``."""
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                               "--allow-root", f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={folder}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(120):   # up and answering, as when the student opens the first notebook
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={TOKEN}", timeout=5)
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("binder_memory: the Jupyter server did not start within 60 s")


def free_port() -> int:
    """A free local port (tests/browser_support.py has the same, but imports pytest, absent from Binder's venv)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", nargs=2, default=["05_cnn_training", "07_transfer_learning"])
    parser.add_argument("--validate", default="06_architectures")
    args = parser.parse_args()
    os.environ.update(binder_start_env())
    os.environ["IPYTHONDIR"] = ipython_dir()   # every kernel runs Binder's startup file, as postBuild installs it
    os.environ.pop("CI", None)
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])  # Binder's one CPU
    sampler = Sampler()
    sampler.start()
    start = time.perf_counter()
    folder, port = Path(tempfile.mkdtemp(prefix="binder-memory-")), free_port()
    notebook = student_notebook(args.validate, folder)
    server = jupyter_server(folder, port)
    kernels = [open_notebook(a) for a in args.open]
    after_open = sampler.peak_pss
    passed = press_validate(port, folder, notebook)
    sampler.stop()
    for km, kc in kernels:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    server.terminate()
    server.wait()
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"open": args.open, "validate": args.validate, "validate_passed": passed,
                      "peak_pss_mib_two_open": round(after_open), "peak_pss_mib": round(sampler.peak_pss),
                      "peak_rss_mib": round(sampler.peak_rss), "seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
