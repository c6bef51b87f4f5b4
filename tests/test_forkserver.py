"""Forked grading kernels (helpers.instructor.forkserver) behave as fresh ones towards jupyter_client:
they run code in the launcher's folder and environment, are interrupted, die visibly, die with their
launcher, and a launcher without a server becomes an ordinary kernel."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from helpers.instructor import forkserver
from helpers.instructor.forkserver import KERNEL_NAME, KernelServer, imported_modules, supported

pytestmark = pytest.mark.skipif(not supported(), reason="forked kernels need os.fork and os.pidfd_open (Linux)")


def test_the_preloaded_modules_are_the_numerical_imports_of_the_notebook():
    cells = ["%matplotlib inline\nimport numpy as np\nfrom sklearn.pipeline import make_pipeline",
             "import os, ipywidgets\nfrom helpers import checks\nfrom . import local",
             "def f():\n    import scipy.signal\n    return 1",
             "this is not python"]
    found = imported_modules(cells)
    assert {"numpy", "sklearn.pipeline", "scipy.signal", "torch"} <= set(found)
    assert not {"os", "ipywidgets", "helpers"} & set(found), "only modules safe to import before the fork"
    assert set(forkserver.BASE_PRELOAD) <= set(found)


@pytest.fixture(scope="module")
def server():
    before = os.environ.get("JUPYTER_PATH")
    srv = KernelServer(["numpy", "torch"])
    assert srv.start(), "the kernel server did not start"
    yield srv
    srv.stop()
    assert os.environ.get("JUPYTER_PATH") == before, "stop() puts JUPYTER_PATH back"


def _kernel(tmp_path: Path, name: str = KERNEL_NAME, **env):
    from jupyter_client.manager import start_new_kernel

    return start_new_kernel(kernel_name=name, startup_timeout=60, cwd=str(tmp_path), env={**os.environ, **env})


def _run(kc, code: str, timeout: float = 30) -> str:
    """The text the code printed and the value of its last line."""
    out = []

    def keep(msg):
        content = msg["content"]
        out.append(content.get("text") or content.get("data", {}).get("text/plain", ""))
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=keep)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_forked_kernel_runs_in_the_launchers_folder_and_environment(server, tmp_path):
    km, kc = _kernel(tmp_path, COURSE_MARKER="graded")
    try:
        out = _run(kc, "import os, sys; print(os.getcwd(), os.environ['COURSE_MARKER'], 'torch' in sys.modules)")
        assert out.split() == [str(tmp_path), "graded", "True"], "folder, environment, and torch imported in advance"
        instructor = str(Path(forkserver.__file__).parent)
        assert _run(kc, f"import sys; {instructor!r} in sys.path") == "False"
        assert _run(kc, "import os; os.getppid()") == str(server.proc.pid), "a fork of the server"
        assert _run(kc, "print('to stdout'); 21 * 2").split() == ["to", "stdout", "42"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_an_endless_loop_is_interrupted_and_the_kernel_goes_on(server, tmp_path):
    km, kc = _kernel(tmp_path)
    try:
        msg_id = kc.execute("while True: pass")
        time.sleep(1.0)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=20)
        while reply["parent_header"]["msg_id"] != msg_id:  # a late reply to start_new_kernel's repeated kernel_info
            assert reply["msg_type"] == "kernel_info_reply", reply
            reply = kc.get_shell_msg(timeout=20)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        assert _run(kc, "1 + 1") == "2"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_a_kernel_that_exits_is_seen_dead_and_one_killed_with_its_launcher_goes(server, tmp_path):
    km, kc = _kernel(tmp_path)
    kc.execute("import os; os._exit(3)")
    for _ in range(100):
        if not km.is_alive():
            break
        time.sleep(0.1)
    assert not km.is_alive(), "the launcher must end when its kernel dies"
    assert km.provisioner.process.poll() == 3, "with the kernel's exit code"
    kc.stop_channels()
    km.shutdown_kernel(now=True)

    km, kc = _kernel(tmp_path)
    pid = int(_run(kc, "import os; os.getpid()"))
    km.shutdown_kernel(now=True)  # SIGKILL to the launcher, as nbgrader's grading does
    kc.stop_channels()
    for _ in range(100):
        if not _alive(pid):
            break
        time.sleep(0.1)
    assert not _alive(pid), "the server must kill the kernel of a killed launcher"


def test_without_a_server_the_launcher_becomes_an_ordinary_kernel(tmp_path, monkeypatch):
    spec = tmp_path / "kernels" / "no-server"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps(forkserver.kernel_spec(str(tmp_path / "no-such.sock"))))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    km, kc = _kernel(tmp_path, name="no-server")
    try:
        assert _run(kc, "import sys; sys.argv[0].endswith('ipykernel_launcher.py')") == "True"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_server_stops_with_its_kernels_when_its_worker_goes(tmp_path):
    srv = KernelServer(["numpy"])
    assert srv.start()
    km, kc = _kernel(tmp_path)
    pid = int(_run(kc, "import os; os.getpid()"))
    proc = srv.proc
    srv.stop()
    assert proc.poll() is not None and not _alive(pid)
    kc.stop_channels()
    km.shutdown_kernel(now=True)
