"""Graded kernels that start at once: forks of a process that has imported torch already.

A fresh Python kernel takes about 3 s before a notebook's first line has run: the kernel starts,
then imports torch, matplotlib and scikit-learn. That was a third of a notebook's grading time.
So each grading worker starts one *kernel server* that imports those libraries once, and every
kernel nbgrader starts is a fork of it::

    jupyter_client --starts--> launcher   python forkserver.py connect SOCKET -f kernel-123.json
    launcher --unix socket: arguments, folder, environment, stdin/stdout/stderr--> server
    server --fork--> kernel                ipykernel on kernel-123.json, in the launcher's folder and environment

To jupyter_client the launcher *is* the kernel: it passes on the signals it receives (interrupt,
terminate) and exits with the kernel's exit status, so a cell that kills the kernel is seen as a dead
kernel, and a kernel stuck in a loop is interrupted as usual. When the launcher is killed, the server
kills its kernel. Only the numerical libraries are imported in advance (:data:`PRELOADABLE`), never
ones that look at the running IPython when imported (ipywidgets, tqdm.auto), so a forked kernel
behaves as a fresh one. Where the server is not running or the system has no ``os.fork`` and
``os.pidfd_open`` (macOS, Windows), the launcher turns itself into an ordinary kernel.

Run as a file (``connect``) the launcher imports the standard library only; the server runs as
``python forkserver.py serve SOCKET MODULE...``.

Every kernel, forked or started the ordinary way by the launcher, first takes the resource limits
the worker put in ``CNN_COURSE_KERNEL_LIMITS`` (:func:`apply_limits`). The server is not dumpable, so
a kernel (its child) can neither trace it nor read its memory to spoil the kernels forked after it.
"""

from __future__ import annotations

import ast
import ctypes
import json
import os
import selectors
import signal
import socket
import sys

KERNEL_NAME = "cnn-course-forked"
# packages whose import does not depend on running inside IPython: safe to import before the fork
PRELOADABLE = ("numpy", "scipy", "torch", "torchvision", "sklearn", "skimage", "mnist1d", "PIL", "pandas",
               "matplotlib")
# torch imports torch._dynamo (and torch.distributed.tensor) when the first optimizer is built,
# helpers.data imports sklearn.datasets when it loads the digits: 1-2.5 s per kernel otherwise
BASE_PRELOAD = ("numpy", "torch", "torch.nn.functional", "matplotlib.pyplot", "ipykernel.kernelapp",
                "torch._dynamo", "torch.distributed.tensor", "sklearn.datasets")
LIMITS_ENV = "CNN_COURSE_KERNEL_LIMITS"  # {"memory_bytes": ..., "processes": ..., "cpu_seconds": ...}
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def supported() -> bool:
    """Whether kernels can be forked here (Linux 5.3 or later: ``os.fork`` and ``os.pidfd_open``)."""
    if not (hasattr(os, "fork") and hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # an older Linux kernel
        return False
    return True


def prctl(option: int, value: int) -> bool:
    """Linux ``prctl(option, value)``; False where it is not available or failed."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux
        return False


def _processes_of_user() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        try:
            count += entry.name.isdigit() and entry.stat().st_uid == uid
        except OSError:
            pass
    return count


def apply_limits(env: dict) -> None:
    """Set this process's hard and soft limits from ``env[LIMITS_ENV]`` (JSON; 0 or absent: no limit).

    The process limit counts every process of the user (in the sandbox: of the sandbox), so it is
    added to those running now.
    """
    try:
        import resource
        limits = json.loads(env.get(LIMITS_ENV) or "{}")
    except (ImportError, ValueError):  # not POSIX, or no limits
        return
    wanted = {"memory_bytes": "RLIMIT_DATA", "processes": "RLIMIT_NPROC", "cpu_seconds": "RLIMIT_CPU"}
    for key, name in wanted.items():
        value = int(limits.get(key) or 0)
        if value <= 0 or not hasattr(resource, name):
            continue
        if key == "processes":
            value += _processes_of_user()
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError):  # already lower
            pass


def imported_modules(sources: list[str]) -> list[str]:
    """The preloadable modules that code cells import (``import torch.nn``, ``from sklearn import svm``).

    Args:
        sources: the code cells' sources; IPython magics (``%``, ``!``) are skipped, and a cell that
            is not valid Python is ignored.
    """
    found = set(BASE_PRELOAD)
    for source in sources:
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return sorted(m for m in found if m.split(".")[0] in PRELOADABLE or m in BASE_PRELOAD)


def kernel_spec(socket_path: str) -> dict:
    """The kernel.json of the forked kernel: its argv runs this file as the launcher."""
    return {"argv": [sys.executable, os.path.abspath(__file__), "connect", socket_path, "-f", "{connection_file}"],
            "display_name": "Python 3 (forked for grading)", "language": "python", "interrupt_mode": "signal",
            "metadata": {"debugger": False}}


# ------------------------------------------------------------------------------------------- launcher
def _plain_kernel(args: list[str]) -> None:
    """Become an ordinary ipykernel (no server, or forking not possible here)."""
    apply_limits(os.environ)
    os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *args])


def _forward(pid: int):
    def handler(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    return handler


def connect(socket_path: str, args: list[str]) -> int:
    """Ask the server at ``socket_path`` for a kernel with ``args``; wait for it and return its exit code."""
    if not supported():
        _plain_kernel(args)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_path)
        request = json.dumps({"args": args, "cwd": os.getcwd(), "env": dict(os.environ)}).encode() + b"\n"
        socket.send_fds(sock, [request], [0, 1, 2])
        replies = sock.makefile("rb")
        pid = int(replies.readline())
    except (OSError, ValueError):  # no server (or it stopped): the kernel starts the ordinary way
        _plain_kernel(args)
    for signum in FORWARDED:
        signal.signal(signum, _forward(pid))
    status = replies.readline().strip()  # the kernel's exit code, once it has ended
    code = int(status) if status else 1
    return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell says


# --------------------------------------------------------------------------------------------- server
class KernelServer:
    """The server as a child process, and its kernel spec in a temporary folder on ``JUPYTER_PATH``.

    ``start()`` returns False (and kernels start the ordinary way) where forking is not supported or
    the server does not come up; ``stop()`` ends it and its kernels, and puts ``JUPYTER_PATH`` back.
    """

    def __init__(self, modules: list[str], startup_timeout: float = 120):
        self.modules, self.startup_timeout = list(modules), startup_timeout
        self.proc, self.folder, self.jupyter_path, self.fingerprint = None, None, None, None

    def start(self) -> bool:
        import subprocess
        import tempfile
        import threading

        if not supported():
            return False
        self.folder = tempfile.mkdtemp(prefix="cnn-kernels-")
        sock = os.path.join(self.folder, "server.sock")
        spec = os.path.join(self.folder, "kernels", KERNEL_NAME)
        os.makedirs(spec)
        with open(os.path.join(spec, "kernel.json"), "w") as f:
            json.dump(kernel_spec(sock), f)
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "serve", sock, *self.modules],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=self.folder)
        ready = threading.Event()
        threading.Thread(target=lambda: self.proc.stdout.readline() == b"ready\n" and ready.set(), daemon=True).start()
        if not ready.wait(self.startup_timeout):
            self.stop()
            return False
        self.jupyter_path = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [self.folder, self.jupyter_path]))
        self.fingerprint = self._fingerprint()
        return True

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def _fingerprint(self):
        """What a kernel could change to take over the kernels started after it: the server's socket,
        the kernel spec, the folder's entries."""
        try:
            sock = os.lstat(os.path.join(self.folder, "server.sock"))
            with open(os.path.join(self.folder, "kernels", KERNEL_NAME, "kernel.json"), "rb") as f:
                spec = f.read()
            entries = sorted(os.path.relpath(os.path.join(d, n), self.folder)
                             for d, dirs, files in os.walk(self.folder) for n in dirs + files)
        except OSError:
            return None
        return sock.st_ino, sock.st_mode, spec, entries

    def intact(self) -> bool:
        """Whether the server still runs, with the socket and kernel spec it started with."""
        return (self.proc is not None and self.proc.poll() is None and self.fingerprint is not None
                and self._fingerprint() == self.fingerprint)

    def stop(self) -> None:
        import shutil

        if self.proc is not None:
            self.proc.stdin.close()  # the server kills its kernels and exits
            try:
                self.proc.wait(10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
            self.proc = None
        if self.folder:
            if os.environ.get("JUPYTER_PATH", "").split(os.pathsep)[0] == self.folder:
                if self.jupyter_path is None:
                    del os.environ["JUPYTER_PATH"]
                else:
                    os.environ["JUPYTER_PATH"] = self.jupyter_path
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _read_request(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    try:
        while not data.endswith(b"\n"):
            more = conn.recv(1 << 16)
            if not more:
                raise ConnectionError("the launcher closed the connection mid-request")
            data += more
        if len(fds) != 3:
            raise ConnectionError(f"the launcher sent {len(fds)} file descriptors, expected 3 (stdin, stdout, stderr)")
        return json.loads(data), fds
    except (OSError, ValueError):
        for fd in fds:  # a bad request must not leave its descriptors open in the server
            os.close(fd)
        raise


def _become_kernel(request: dict, fds: list[int], server_fds: list[int]) -> None:
    """In the forked child: take the launcher's stdio, folder and environment, then run ipykernel."""
    try:
        for fd in server_fds:
            os.close(fd)
        prctl(PR_SET_DUMPABLE, 1)  # the server is not; its kernel is an ordinary process
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        for signum in FORWARDED + (signal.SIGCHLD,):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        apply_limits(os.environ)
        sys.argv = ["ipykernel_launcher", *request["args"]]
        if os.environ.get("JPY_PARENT_PID"):  # ipykernel read it when the server imported it, before it was set
            sys.argv.append(f"--IPKernelApp.parent_handle={os.environ['JPY_PARENT_PID']}")
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - the kernel's own failure, reported on its stderr
        import traceback

        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)  # never return into the server's loop


class Server:
    """Accepts launchers on a unix socket and forks a kernel for each; stops when its stdin closes."""

    def __init__(self, socket_path: str):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(socket_path)
        self.listener.listen(16)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, ("accept", None))
        self.selector.register(sys.stdin, selectors.EVENT_READ, ("stop", None))
        self.kernels: dict[int, tuple[socket.socket, int]] = {}  # pid -> (launcher connection, pidfd)

    def _fork(self, conn: socket.socket) -> None:
        try:
            request, fds = _read_request(conn)
        except (OSError, ValueError) as err:
            print(f"forkserver: bad request: {err}", file=sys.stderr)
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            server_fds = [self.listener.fileno(), conn.fileno(), *(pidfd for _c, pidfd in self.kernels.values()),
                          *(c.fileno() for c, _p in self.kernels.values())]
            _become_kernel(request, fds, server_fds)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.kernels[pid] = (conn, pidfd)
        self.selector.register(pidfd, selectors.EVENT_READ, ("exited", pid))
        self.selector.register(conn, selectors.EVENT_READ, ("launcher", pid))
        try:
            conn.sendall(f"{pid}\n".encode())
        except OSError:
            os.kill(pid, signal.SIGKILL)

    def _forget(self, resource) -> None:
        try:
            self.selector.unregister(resource)
        except KeyError:  # already forgotten
            pass

    def _exited(self, pid: int) -> None:
        conn, pidfd = self.kernels.pop(pid)
        _, status = os.waitpid(pid, 0)
        try:
            conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
        except OSError:
            pass
        self._forget(pidfd)
        self._forget(conn)
        os.close(pidfd)
        conn.close()

    def _launcher_event(self, pid: int) -> None:
        conn, _ = self.kernels[pid]
        try:
            gone = not conn.recv(1 << 10)
        except OSError:
            gone = True
        if gone:  # the launcher was killed: its kernel goes too
            self._forget(conn)
            os.kill(pid, signal.SIGKILL)

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select():
                action, pid = key.data
                if action == "accept":
                    self._fork(self.listener.accept()[0])
                elif action == "exited":
                    self._exited(pid)
                elif action == "launcher":
                    self._launcher_event(pid)
                elif not sys.stdin.buffer.read1(1 << 10):  # the worker is gone
                    for pid in list(self.kernels):
                        os.kill(pid, signal.SIGKILL)
                    return


def serve(socket_path: str, modules: list[str]) -> None:
    """Import ``modules`` (those that fail are skipped), say ``ready`` on stdout, then serve kernels."""
    import importlib

    prctl(PR_SET_DUMPABLE, 0)
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - the kernel will import it itself, or report it
            print(f"forkserver: not preloaded: {name} ({type(err).__name__}: {err})", file=sys.stderr)
    server = Server(socket_path)
    print("ready", flush=True)
    server.serve()


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "connect":
        return connect(argv[1], argv[2:])
    if len(argv) >= 2 and argv[0] == "serve":
        serve(argv[1], argv[2:])
        return 0
    print("usage: forkserver.py connect SOCKET KERNEL-ARGS... | serve SOCKET MODULE...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    if __package__ in (None, ""):  # run as a file: its folder must not shadow top-level modules
        sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
    sys.exit(main(sys.argv[1:]))
