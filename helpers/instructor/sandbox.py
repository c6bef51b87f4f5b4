"""The OS sandbox graded code runs in: bubblewrap around each grading worker, limits in each kernel.

Each grading worker (:mod:`helpers.instructor.worker`, with its kernel server and every kernel it
starts) runs in one bubblewrap sandbox (``bwrap``, the engine Flatpak uses) for its whole life::

    /usr /etc /sys, sys.prefix, ...   read-only: the system and the Python environment
    <helpers package>                 read-only: the course's library, alone (not the course root)
    <worker folder>                   read-write: the work root of the submission being graded
    /tmp                              a private tmpfs
    network, pids, ipc, users         new namespaces: no network, only the sandbox's processes

Nothing else exists in it: no ``solutions/``, no instructor gradebook, no other student's work root
(the parent moves each finished root out of the worker folder before the next one comes in), no home
directory. A fresh work root per submission keeps the forked kernels' speed (the sandbox and the
kernel server start once per worker). Between two submissions the worker kills every process the
last one started (:func:`end_descendants`; it is their subreaper) and empties ``/tmp``.

Each kernel also gets resource limits (:func:`kernel_limits`, applied by
:func:`helpers.instructor.forkserver.apply_limits`): private memory (``RLIMIT_DATA``; torch itself
reserves 3 GB of address space, so ``RLIMIT_AS`` cannot be used), processes (``RLIMIT_NPROC``, not
enforced for root) and CPU time (``RLIMIT_CPU``).

Where bubblewrap is missing or user namespaces are disabled (macOS, Windows, some containers)
:func:`available` says why, and grading runs unsandboxed, saying so loudly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from .forkserver import LIMITS_ENV, PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, prctl

SANDBOXED_ENV = "CNN_COURSE_SANDBOXED"  # set inside the sandbox
BWRAP = "bwrap"
UNSANDBOXED = ("WARNING: grading is UNSANDBOXED ({why}): students' code runs with your rights and can read "
               "solutions/, change the gradebook and other students' files. Install bubblewrap "
               "(apt-get install bubblewrap) on Linux, or grade with --require-sandbox to refuse.")


@dataclass(frozen=True)
class KernelLimits:
    """Per-kernel resource limits (0: no limit)."""

    memory_bytes: int = 3 * 1024 ** 3  # private writable memory (RLIMIT_DATA)
    processes: int = 256  # processes and threads of the kernel's user (RLIMIT_NPROC)
    cpu_seconds: int = 1800  # CPU time of one kernel process, all its threads (RLIMIT_CPU)

    def env(self) -> str:
        return json.dumps(asdict(self))


@lru_cache(maxsize=None)
def available() -> tuple[bool, str]:
    """(whether bubblewrap sandboxes work here, why not)."""
    if not sys.platform.startswith("linux"):
        return False, f"no bubblewrap on {sys.platform}"
    if shutil.which(BWRAP) is None:
        return False, "bwrap is not installed"
    try:
        with tempfile.TemporaryDirectory() as folder:
            probe = subprocess.run(command(Path(folder), ["true"]), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"bwrap did not run ({err})"
    if probe.returncode != 0:
        return False, f"bwrap failed: {probe.stderr.strip()[-300:]} (are unprivileged user namespaces disabled?)"
    return True, ""


def _readonly() -> list[Path]:
    """The folders graded code must read: the system, the Python environment, the helpers package."""
    import helpers

    paths = [Path(p) for p in ("/usr", "/etc", "/sys", "/opt")]
    paths += [Path(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
    paths.append(Path(os.path.realpath(sys.executable)).parent.parent)
    paths.append(Path(helpers.__file__).resolve().parent)
    return paths


def command(folder: Path, argv: list[str]) -> list[str]:
    """``argv`` run in a new sandbox whose only writable folder is ``folder`` (its working directory)."""
    args = [shutil.which(BWRAP) or BWRAP, "--unshare-all", "--unshare-user", "--cap-drop", "ALL",
            "--die-with-parent", "--new-session", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for name in ("bin", "lib", "lib64", "sbin"):  # merged-/usr systems link these to /usr/...
        top = Path("/") / name
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    for path in _readonly():
        if path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    folder = Path(folder).resolve()
    args += ["--bind", str(folder), str(folder), "--chdir", str(folder), "--setenv", SANDBOXED_ENV, "1",
             "--setenv", "HOME", "/tmp", "--"]
    return args + list(argv)


# ------------------------------------------------------------------------------------- in the worker
def confine_worker() -> None:
    """Make this process the reaper of its descendants' orphans and not dumpable (no kernel of the
    same user can trace it, read its memory or open its descriptors through /proc)."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_DUMPABLE, 0)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc), parents before children."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def end_descendants(keep: int | None = None, rounds: int = 50) -> int:
    """Kill every descendant of this process except ``keep`` (the kernel server, not its kernels);
    return how many were killed. Repeats until none is left (a process may fork while it dies)."""
    killed = 0
    for _ in range(rounds):
        found = [pid for pid in descendants(os.getpid()) if pid != keep]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        _reap(keep)
    _reap(keep)
    return killed


def _reap(keep: int | None) -> None:
    """Collect the exit status of orphans adopted by this process (never the kernel server's)."""
    for pid in descendants(os.getpid()):
        if pid == keep:
            continue
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (a grandchild, or already reaped)
            pass


def empty_tmp(keep: set) -> None:
    """Inside the sandbox only: remove what a submission left in the private /tmp, except the folders
    ``keep`` and those holding them (the worker's folder is mounted there)."""
    if os.environ.get(SANDBOXED_ENV) != "1":
        return
    kept = [Path(k) for k in keep if k]
    for entry in Path("/tmp").iterdir():
        if any(entry == k or entry in k.parents for k in kept):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def private_environment(root: Path) -> None:
    """Point home, caches and temporary files of the next kernels into the submission's ``root``
    (a file a submission leaves in a home or cache folder never reaches the next one)."""
    home = root / ".home"
    for name in ("HOME", "IPYTHONDIR", "MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "TMPDIR"):
        path = home if name == "HOME" else home / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(path)
    tempfile.tempdir = None  # the worker's own temporary files follow too (Python caches the folder)


__all__ = ["KernelLimits", "available", "command", "confine_worker", "descendants", "end_descendants", "empty_tmp",
           "private_environment", "LIMITS_ENV", "SANDBOXED_ENV", "UNSANDBOXED"]
