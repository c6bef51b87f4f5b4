"""JupyterLab in headless Chromium for tests/test_browser.py (test support, not a test file).

- :func:`require_browser` skips (locally) or fails (``CI`` set) when Playwright or Chromium is
  missing, with the reason and the command that installs it.
- :class:`LabServer` starts ``jupyter lab`` on localhost with no token, in a temporary copy of
  ``solutions/`` and ``course/`` and a temporary Jupyter config dir holding the Binder student view
  (the nbgrader extensions that ``binder/postBuild`` disables are disabled) and a few test-only
  settings: every cell stays in the DOM, no autosave, no news.
- :class:`NotebookPage` drives one notebook the way a person does (menu, keyboard) and reads
  what the page shows.

Chromium is Debian's (``/usr/bin/chromium``, or ``$COURSE_CHROMIUM``); nothing is downloaded,
and its flags keep it off the network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("COURSE_BROWSER_ARTIFACTS", REPO / "tests" / "artifacts"))
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
# Keep Chromium off the network (the test machine has none) and quiet. The fresh, empty profile
# is the ``user_data_dir`` of ``launch_persistent_context``.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
INSTALL_HINT = ('pip install -e ".[test]" (Playwright) and, on Debian/Ubuntu, '
                "apt-get install chromium (or set COURSE_CHROMIUM to a Chromium binary); "
                ".ci/run installs both")


def in_ci() -> bool:
    """CI is set (as CI services do), or COURSE_REQUIRE_BROWSER=1 (as .ci/run does)."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or os.environ.get("COURSE_REQUIRE_BROWSER") == "1"


def missing_requirements() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"the playwright Python package is not installed ({error})"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium executable at {CHROMIUM}"
    return None


def require_browser() -> None:
    """Skip with the reason, or fail with it in CI (a missing browser must not pass CI silently)."""
    reason = missing_requirements()
    if reason is None:
        return
    message = f"browser tests cannot run: {reason}; install with {INSTALL_HINT}"
    if in_ci():
        pytest.fail(message + " (CI or COURSE_REQUIRE_BROWSER=1 is set, so this fails instead of skipping)",
                    pytrace=False)
    pytest.skip(message)


# ------------------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def student_view_config(config_dir: Path) -> dict[str, set[str]]:
    """Write, at user level in ``config_dir``, what binder/postBuild sets at sys-prefix level.

    The names come from postBuild itself (parsed by tests/test_binder.py, which also runs the
    real commands and checks their result); returns them for assertions.
    """
    from test_binder import _disabled_lab_plugins, _disabled_server_extensions, _locked_lab_plugins

    disabled, locked, servers = _disabled_lab_plugins(), _locked_lab_plugins(), _disabled_server_extensions()
    _write_json(config_dir / "labconfig" / "page_config.json", {
        "disabledExtensions": {name: True for name in sorted(disabled)},
        "lockedExtensions": {name: True for name in sorted(locked)},
    })
    _write_json(config_dir / "jupyter_server_config.d" / "nbgrader.json",
                {"ServerApp": {"jpserver_extensions": {name: False for name in sorted(servers)}}})
    return {"lab_disabled": disabled, "server_disabled": servers}


# Test-only JupyterLab settings (user settings dir = <config dir>/lab/user-settings).
LAB_SETTINGS = {
    # every cell stays in the DOM (the default windowing may detach cells scrolled out of view)
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # nothing written behind the test's back; no news or update checks (no network)
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


@dataclass
class LabServer:
    """``jupyter lab`` in a temporary root; use as a context manager (stops the whole group)."""

    base: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    timeout: float = 90.0

    def __post_init__(self) -> None:
        self.root = self.base / "root"
        self.config_dir = self.base / "config"
        self.log_path = self.base / "jupyterlab.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.student_view: dict[str, set[str]] = {}

    # -- setup
    def _copy_course(self) -> None:
        ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        for folder in ("solutions", "course"):
            shutil.copytree(REPO / folder, self.root / folder, ignore=ignore)
        shutil.copy(REPO / "nbgrader_config.py", self.root / "nbgrader_config.py")

    def _configure(self) -> None:
        self.student_view = student_view_config(self.config_dir)
        for plugin, settings in LAB_SETTINGS.items():
            package, name = plugin.rsplit("/", 1)
            _write_json(self.config_dir / "lab" / "user-settings" / package / f"{name}.jupyterlab-settings", settings)

    def start(self) -> "LabServer":
        self._copy_course()
        self._configure()
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.config_dir),
            "JUPYTER_DATA_DIR": str(self.base / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.base / "runtime"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.base / "workspaces"),
            # the temporary (user-level) config wins over this environment's own, as on Binder
            "JUPYTER_PREFER_ENV_PATH": "0",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "CI": "true",  # helpers.device.budget() -> "fast": notebooks run their short version
            "PYTHONUNBUFFERED": "1",
            **self.env_extra,
        }
        env.pop("JUPYTERLAB_SETTINGS_DIR", None)
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}", "--ip=127.0.0.1",
            "--ServerApp.port_retries=0", f"--ServerApp.root_dir={self.root}", "--ServerApp.allow_root=True",
            # test-only: no token and no password, reachable on 127.0.0.1 only
            "--IdentityProvider.token=", "--PasswordIdentityProvider.hashed_password=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(command, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/api/status", timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer /api/status in {self.timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.25)

    # -- REST
    def api(self, path: str, method: str = "GET", data: dict | None = None, timeout: float = 30):
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
            return json.loads(text) if text.strip() else None

    def shutdown_kernels(self) -> None:
        """Shut every kernel down (kernels run in their own process groups)."""
        try:
            for kernel in self.api("/api/kernels"):
                self.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        except (urllib.error.URLError, OSError):
            pass

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- teardown
    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.shutdown_kernels()
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # anything left in the server's group (the server itself has exited by now)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()
        self.proc = None

    def __enter__(self) -> "LabServer":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


# ------------------------------------------------------------------------------------ browser


def launch_browser(playwright, profile_dir: Path):
    """Chromium with a fresh, empty profile; returns a browser context."""
    return playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
        viewport=VIEWPORT, device_scale_factor=1,
    )


# Everything the assertions need, read from the page in one go.
_REPORT_JS = """
() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  const cells = Array.from(nb.querySelectorAll('.jp-WindowedPanel-viewport > .jp-Cell'));
  const text = e => (e.innerText || e.textContent || '').trim();
  const clip = t => t.length > 4000 ? t.slice(0, 1000) + ' [...] ' + t.slice(-3000) : t;  // keep a traceback's end
  const report = {cells: [], imgs: [], widgets: [], widgetErrors: []};
  cells.forEach((cell, index) => {
    const code = cell.classList.contains('jp-CodeCell');
    const prompt = code ? text(cell.querySelector('.jp-InputPrompt')) : null;
    const outputs = Array.from(cell.querySelectorAll('.jp-OutputArea-output')).map(o => ({
      mime: o.getAttribute('data-mime-type'), text: clip(text(o)),
      widget: o.querySelector('.jupyter-widgets') !== null}));
    report.cells.push({index, code, prompt, outputs,
                       source: text(cell.querySelector('.jp-InputArea-editor') || cell).slice(0, 200)});
    cell.querySelectorAll('.jp-OutputArea-output img').forEach(img => report.imgs.push(
      {index, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight}));
    cell.querySelectorAll('.jp-OutputArea-output').forEach(o => {
      if (o.querySelector('.jupyter-widgets') === null) return;
      const top = o.querySelector('.jupyter-widgets');
      const box = top.getBoundingClientRect();
      report.widgets.push({index, classes: Array.from(o.querySelectorAll('.jupyter-widgets'))
                             .map(w => w.className).join(' | '),
                           width: box.width, height: box.height, text: text(o).slice(0, 200)});
    });
    // ipywidgets 8: "Error displaying widget" (no view), or its error widget when a view's code fails
    if (text(cell).includes('Error displaying widget') || cell.querySelector('.jupyter-widgets-error-widget'))
      report.widgetErrors.push({index, text: 'Error displaying widget: ' + text(cell).slice(-300)});
  });
  return report;
}
"""


class NotebookPage:
    """One notebook open in its own JupyterLab tab."""

    CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-WindowedPanel-viewport > .jp-Cell"

    def __init__(self, context, server: LabServer, path: str):
        self.server, self.path = server, path
        self.page = context.new_page()
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))

    def open(self, timeout_ms: int = 90_000) -> "NotebookPage":
        # ?reset: a fresh workspace (no tabs from an earlier test)
        self.page.goto(f"{self.server.url}/lab/tree/{self.path}?reset", timeout=timeout_ms)
        self.page.wait_for_selector(self.CELLS, timeout=timeout_ms)
        # Ready when the splash and the panel's loading spinner are gone (menu commands are ignored
        # before), a cell is active and the kernel is idle.
        self.page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=timeout_ms)
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Spinner", state="detached", timeout=timeout_ms)
        self.page.wait_for_selector(f"{self.CELLS}.jp-mod-active", timeout=timeout_ms)
        self.wait_kernel_idle(timeout_ms)
        # Click into the notebook, as a person does first: this makes it JupyterLab's current
        # widget (notebook commands and menu entries are disabled until then).
        self.cells.first.locator(".jp-InputPrompt").click()
        return self

    def close(self) -> None:
        self.page.close()

    # -- state
    @property
    def cells(self):
        return self.page.locator(self.CELLS)

    def wait_kernel_idle(self, timeout_ms: int = 90_000) -> None:
        self.page.wait_for_selector(
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']",
            timeout=timeout_ms)

    def prompts(self) -> list[str]:
        return [t.strip() for t in self.page.locator(f"{self.CELLS}.jp-CodeCell .jp-InputPrompt").all_inner_texts()]

    def report(self) -> dict:
        return self.page.evaluate(_REPORT_JS)

    # -- actions
    def menu(self, *path: str) -> None:
        """Click through the menu bar: ``menu("Run", "Run All Cells")``."""
        from playwright.sync_api import expect

        self.page.locator(".lm-MenuBar-content").get_by_role("menuitem", name=path[0], exact=True).click()
        for name in path[1:]:
            item = self.page.locator(".lm-Menu").get_by_role("menuitem", name=name, exact=True)
            expect(item, f"menu entry {' > '.join(path)} stays disabled").not_to_have_class(
                re.compile(r"\blm-mod-disabled\b"), timeout=15_000)
            item.click()

    def run_all(self, timeout_ms: int = 240_000) -> float:
        """Run > Run All Cells, then wait until no cell is queued or running; returns the seconds."""
        start = time.monotonic()
        self.menu("Run", "Run All Cells")
        try:  # started: some prompt is no longer "[ ]:"
            self.page.wait_for_function(
                "sel => Array.from(document.querySelectorAll(sel + '.jp-CodeCell .jp-InputPrompt'))"
                ".some(p => (p.textContent || '').trim() !== '[ ]:')", arg=self.CELLS, timeout=60_000)
        except Exception as error:
            raise AssertionError(f"Run > Run All Cells did not start any cell in 60 s: {self.prompts()[:5]}") from error
        self.wait_queue_done(0, timeout_ms)
        return time.monotonic() - start

    def wait_queue_done(self, start: int = 0, timeout_ms: int = 240_000) -> None:
        """Wait until a run of the cells from ``start`` on is over: no prompt reads ``[*]:``, and either
        every code cell from ``start`` has a number or a cell failed (JupyterLab then stops and clears
        the queue, and the caller reports it)."""
        self.page.wait_for_function(
            """([sel, start]) => {
              const cells = Array.from(document.querySelectorAll(sel)).slice(start);
              const prompts = cells.filter(c => c.classList.contains('jp-CodeCell'))
                .map(c => (c.querySelector('.jp-InputPrompt').textContent || '').trim());
              if (prompts.some(p => p === '[*]:')) return false;
              if (prompts.every(p => /^\\[\\d+\\]:$/.test(p))) return true;
              return cells.some(c => c.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'));
            }""", arg=[self.CELLS, start], timeout=timeout_ms, polling=250)
        self.wait_kernel_idle(timeout_ms)

    def run_cell(self, index: int, timeout_ms: int = 120_000) -> str:
        """Select cell ``index`` (command mode) and press Shift+Enter; returns its new prompt."""
        cell = self.cells.nth(index)
        before = cell.locator(".jp-InputPrompt").inner_text().strip()
        cell.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Escape")  # command mode, this cell selected
        self.page.keyboard.press("Shift+Enter")
        return self.wait_cell_done(index, before, timeout_ms)

    def wait_cell_done(self, index: int, before: str, timeout_ms: int = 120_000) -> str:
        prompt = self.cells.nth(index).locator(".jp-InputPrompt")
        self.page.wait_for_function(
            """([sel, i, before]) => {
              const p = document.querySelectorAll(sel)[i].querySelector('.jp-InputPrompt');
              const t = (p.textContent || '').trim();
              return /^\\[\\d+\\]:$/.test(t) && t !== before;
            }""", arg=[self.CELLS, index, before], timeout=timeout_ms, polling=100)
        self.wait_kernel_idle(timeout_ms)
        return prompt.inner_text().strip()

    def type_into_cell(self, index: int, code: str) -> str:
        """Replace a cell's code by typing it, as a student does; returns the editor's text.

        Click into the editor (edit mode), select all, type line by line. The editor indents after
        ``def ...:`` by itself, so each line is typed without its leading spaces, as people do.
        """
        editor = self.cells.nth(index).locator(".jp-InputArea-editor .cm-content")
        editor.click()
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.press("Backspace")
        for i, line in enumerate(code.splitlines()):
            if i:
                self.page.keyboard.press("Enter")
            self.page.keyboard.type(line.lstrip())
        return editor.inner_text()

    def screenshot_full(self, path: Path, max_height: int = 30_000) -> None:
        """The whole notebook in one image: grow the viewport to the notebook's height, shoot, restore."""
        path.parent.mkdir(parents=True, exist_ok=True)
        height = self.page.evaluate(
            """() => { const s = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer');
                       return s.scrollHeight - s.clientHeight + window.innerHeight; }""")
        self.page.set_viewport_size({"width": VIEWPORT["width"], "height": int(min(max(height, VIEWPORT["height"]), max_height))})
        try:
            self.page.evaluate(
                """() => new Promise(r => requestAnimationFrame(() => {
                     document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer').scrollTop = 0;
                     requestAnimationFrame(() => requestAnimationFrame(r)); }))""")
            self.page.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(VIEWPORT)


def small_png(src: Path, dest: Path, colors: int = 128) -> None:
    """Copy a screenshot as a palette PNG (a few times smaller; fine for UI images)."""
    from PIL import Image

    dest.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as image:
        image.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(dest, optimize=True)
