"""Binder's exact versions exercised, not only read: a venv with binder/requirements.txt, every notebook run in it.

    python scripts/binder_pins.py [--venv .venv-binder] [--budget full|fast] [NOTEBOOK ...]

1. Builds (or reuses) a virtual environment with exactly the pins of ``binder/requirements.txt``.
   Those pin PyTorch's CPU-only builds (``torch==2.13.0+cpu``) from PyTorch's own index; where that
   index cannot be reached (an offline CI with only PyPI or a mirror), a pin keeps its ``+cpu`` if the
   exact build is on the indexes that are reachable, and otherwise the same version comes from PyPI
   (the CUDA build, which runs on the CPU alike); the script says which. A CPU torch beside PyPI's
   torchvision gets the two op declarations torchvision needs to import (``_declare_torchvision_ops``).
   The course is then installed without dependencies, as ``binder/postBuild`` does.
2. Runs every solution notebook in that environment as a Binder session does: one CPU thread
   (``binder/start``'s threads and allocator settings), pinned to one core, the full budget by
   default. Each notebook's kernel peak memory must stay under Binder's 2 GB (:data:`LIMIT_MIB`),
   and no cell may fail.

Prints one line per notebook (seconds, kernel peak memory) and exits non-zero on any failure. CI
runs it after the test suite (.ci/run); it takes a few minutes for the install (cached in the venv)
plus the notebooks' own time on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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


def _installable(line: str) -> bool:
    """Whether pip finds the requirement ``line`` on the indexes configured here (no download, no deps)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
                           "-q", line], capture_output=True, text=True)
    return proc.returncode == 0


def pinned_requirements() -> tuple[list[str], str]:
    """The requirement lines to install, and a note on what was changed to install them here.

    Where PyTorch's CPU index cannot be reached, each ``+cpu`` pin is kept if pip finds that exact build
    anyway (a local mirror of the index), and only the pins it cannot find lose their suffix (the same
    version's PyPI build, which runs on the CPU the same way).
    """
    lines = [line.strip() for line in REQUIREMENTS.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    index = next((line.split(None, 1)[1] for line in lines if line.startswith("--extra-index-url")), None)
    if index is None or _reachable(index):
        return lines, f"exact pins, PyTorch from {index}" if index else "exact pins"
    pins = [line for line in lines if not line.startswith("--extra-index-url")]
    dropped = [line for line in pins if line.endswith("+cpu") and not _installable(line)]
    kept = [line.removesuffix("+cpu") if line in dropped else line for line in pins]
    if not dropped:
        return kept, f"exact pins, the +cpu builds from this machine's indexes ({index} is not reachable)"
    return kept, (f"PyTorch's CPU index ({index}) is not reachable from here and {', '.join(dropped)} is not on "
                  "this machine's indexes: that pin comes from PyPI without '+cpu' (the CUDA build of the same "
                  "version; it runs on the CPU the same way)")


def build_venv(venv: Path) -> Path:
    """Create or update ``venv`` with the pins and the course (no deps); returns its python."""
    python = venv / "bin" / "python"
    lines, note = pinned_requirements()
    print(f"binder pins: {note}", flush=True)
    text = "\n".join(lines) + "\n"
    wanted, done = venv / "binder-requirements.txt", venv / "binder-requirements.installed"
    if python.exists() and not (done.exists() and done.read_text() == text):
        shutil.rmtree(venv)   # other pins: start afresh, or packages only the old pins needed would stay
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wanted.write_text(text)
    if not done.exists():   # installed once, reused after
        pip = [str(python), "-m", "pip", "install", "-q"]
        for args in (["-r", str(wanted)], ["--no-deps", "-e", str(REPO)]):
            proc = subprocess.run(pip + args, capture_output=True, text=True)   # pip's output only if it fails
            if proc.returncode:
                sys.exit(f"binder pins: pip install {' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        done.write_text(text)
    _declare_torchvision_ops(python)
    versions = subprocess.run([str(python), "-c", "import torch, numpy; print(torch.__version__, numpy.__version__)"],
                              capture_output=True, text=True, check=True).stdout.split()
    print(f"binder venv: torch {versions[0]}, numpy {versions[1]}", flush=True)
    return python


# torchvision registers fake kernels for these two of its compiled ops whether or not the ops loaded
_UNGUARDED_OPS = ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
                  "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_SHIM_MARK = "# scripts/binder_pins.py"


def _declare_torchvision_ops(python: Path) -> None:
    """Let PyPI's torchvision import beside torch's CPU build, where its own CPU build is not available.

    Its compiled ops link against torch's CUDA libraries and cannot load, and torchvision then fails to
    import because it registers fake kernels for ``nms`` and ``qnms`` unconditionally. Declaring those
    two schemas (without kernels) in the venv's copy of ``torchvision/extension.py`` lets it import;
    the course calls no torchvision op, so the notebooks run as on Binder, whose torchvision is the CPU build.
    """
    probe = ("import importlib.metadata as m, importlib.util as u; "  # torchvision itself would fail to import
             "mixed = m.version('torch').endswith('+cpu') and not m.version('torchvision').endswith('+cpu'); "
             "print(u.find_spec('torchvision').submodule_search_locations[0] if mixed else '')")
    where = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    if not where:
        return   # a matching pair (both CPU builds, or both from PyPI): nothing to do
    extension = Path(where) / "extension.py"
    if _SHIM_MARK not in extension.read_text():
        lines = "".join(f"    _binder_pins.define({schema!r})\n" for schema in _UNGUARDED_OPS)
        extension.write_text(extension.read_text() + f"\n\n{_SHIM_MARK}: the compiled ops of this CUDA build cannot load "
                             "beside torch's CPU build\nif not _has_ops():\n"
                             f"    _binder_pins = torch.library.Library('torchvision', 'DEF')\n{lines}")
    print("binder pins: torchvision's compiled ops cannot load beside torch's CPU build; declared "
          f"{', '.join(s.split('(')[0] for s in _UNGUARDED_OPS)} so that it imports (the course calls no torchvision op)",
          flush=True)


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
