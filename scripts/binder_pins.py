"""Binder's exact versions exercised, not only read: a venv with binder/requirements.txt, every notebook run in it.

    python scripts/binder_pins.py [--venv .venv-binder] [--budget full|fast] [NOTEBOOK ...]

1. Builds (or reuses) a virtual environment with exactly the pins of ``binder/requirements.txt``.
   Those pin PyTorch's CPU-only builds (``torch==2.9.1+cpu``) from PyTorch's own index; where that
   index cannot be reached (an offline CI with only PyPI), the ``+cpu`` suffix and the index line are
   dropped and the same versions come from PyPI (the CUDA build, which runs on the CPU alike), and
   the script says so. The course is then installed without dependencies, as ``binder/postBuild`` does.
2. Runs every solution notebook in that environment as a Binder session does: one CPU thread
   (``binder/start``'s threads and allocator settings), pinned to one core, the full budget by default. Each notebook's
   kernel peak memory must stay under Binder's 2 GB (:data:`LIMIT_MIB`), and no cell may fail.

Prints one line per notebook (seconds, kernel peak memory) and exits non-zero on any failure. CI
runs it after the test suite (.ci/run); it takes a few minutes for the install (cached in the venv)
plus the notebooks' own time on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO / "binder" / "requirements.txt"
LIMIT_MIB = 2048            # mybinder.org's memory limit per session


def binder_start_env() -> dict[str, str]:
    """The variables ``binder/start`` exports (threads, allocator): what every Binder kernel runs with."""
    text = (REPO / "binder" / "start").read_text()
    return dict(re.findall(r"^export\s+(\w+)=(\S+)\s*$", text, flags=re.M))


# Runs one notebook inside the Binder venv and prints its seconds, kernel peak memory and errors as JSON.
RUNNER = REPO / "benchmarks" / "run.py"   # its --execute mode (the budget table's own runner)


def _reachable(url: str) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10)
        return True
    except Exception:   # noqa: BLE001 (any failure means: not reachable from here)
        return False


def pinned_requirements() -> tuple[list[str], str]:
    """The requirement lines to install, and a note on what was changed to install them here."""
    lines = [line.strip() for line in REQUIREMENTS.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    index = next((line.split(None, 1)[1] for line in lines if line.startswith("--extra-index-url")), None)
    if index is None or _reachable(index):
        return lines, f"exact pins, PyTorch from {index}" if index else "exact pins"
    kept = [re.sub(r"\+cpu$", "", line) for line in lines if not line.startswith("--extra-index-url")]
    return kept, (f"PyTorch's CPU index ({index}) is not reachable from here: the same versions without "
                  "'+cpu' come from PyPI (the CUDA build; it runs on the CPU the same way)")


def build_venv(venv: Path) -> Path:
    """Create or update ``venv`` with the pins and the course (no deps); returns its python."""
    python = venv / "bin" / "python"
    lines, note = pinned_requirements()
    print(f"binder pins: {note}", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wanted, done = venv / "binder-requirements.txt", venv / "binder-requirements.installed"
    wanted.write_text("\n".join(lines) + "\n")
    if not done.exists() or done.read_text() != wanted.read_text():   # installed once, reused after
        pip = [str(python), "-m", "pip", "install", "-q"]
        for args in (["-r", str(wanted)], ["--no-deps", "-e", str(REPO)]):
            proc = subprocess.run(pip + args, capture_output=True, text=True)   # pip's output only if it fails
            if proc.returncode:
                sys.exit(f"binder pins: pip install {' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        done.write_text(wanted.read_text())
    versions = subprocess.run([str(python), "-c", "import torch, numpy; print(torch.__version__, numpy.__version__)"],
                              capture_output=True, text=True, check=True).stdout.split()
    print(f"binder venv: torch {versions[0]}, numpy {versions[1]}", flush=True)
    return python


def run_notebook(python: Path, notebook: Path, budget: str) -> dict:
    """Run ``notebook`` in the Binder venv on one core and one thread; the runner's result."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NBGRADER_EXECUTION", "COURSE_BUDGET",
                                                            "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(binder_start_env(), COURSE_BUDGET=budget, PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}")
    core = sorted(os.sched_getaffinity(0))[:1]
    proc = subprocess.run([str(python), str(RUNNER), "--execute", str(notebook)], env=env, capture_output=True, text=True,
                          preexec_fn=lambda: os.sched_setaffinity(0, core))
    if proc.returncode != 0:
        return {"seconds": 0, "peak_mib": 0, "errors": [proc.stderr.strip()[-600:]]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=REPO / ".venv-binder")
    parser.add_argument("--budget", choices=("full", "fast"), default="full")
    parser.add_argument("notebooks", nargs="*", help="assignment names (default: every solution notebook)")
    args = parser.parse_args()
    python = build_venv(args.venv.resolve())
    names = args.notebooks or sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
    failures = []
    for name in names:
        result = run_notebook(python, REPO / "solutions" / name / f"{name}.ipynb", args.budget)
        over = result["peak_mib"] > LIMIT_MIB
        print(f"{name}: {result['seconds']} s, kernel peak {result['peak_mib']} MiB on one core, one thread "
              f"({args.budget} budget){' OVER BINDER LIMIT' if over else ''}", flush=True)
        failures += [f"{name}: {e}" for e in result["errors"]] + ([f"{name}: {result['peak_mib']} MiB > "
                                                                   f"{LIMIT_MIB}"] if over else [])
    if failures:
        sys.exit("binder pins: failures:\n  " + "\n  ".join(failures))
    print(f"binder pins: {len(names)} notebooks ran in the Binder versions, each under {LIMIT_MIB} MiB")


if __name__ == "__main__":
    main()
