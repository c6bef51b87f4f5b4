"""Checks of the Binder (repo2docker) configuration in ``binder/``.

Fast and offline: they read the files in ``binder/``, ``pyproject.toml`` and the nbgrader
installed in this environment. ``test_postbuild_nbgrader_commands_in_temp_config`` also runs
the ``jupyter`` commands of ``binder/postBuild`` against a temporary Jupyter config directory, and
``test_student_view_server_validates_and_has_no_instructor_tools`` starts JupyterLab on localhost
with that configuration and asks it (Validate answers; the formgrader does not exist).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tomllib
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
POSTBUILD = BINDER / "postBuild"
START = BINDER / "start"
RUNTIME = BINDER / "runtime.txt"
REQUIREMENTS = BINDER / "requirements.txt"

CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# torch minor -> the torchvision minor built against it (torchvision's wheel metadata pins
# torch to that release, e.g. torchvision 0.28.0 requires torch==2.13.0). Add a row when bumping.
TORCH_TO_TORCHVISION = {
    "2.2": "0.17",
    "2.3": "0.18",
    "2.4": "0.19",
    "2.5": "0.20",
    "2.6": "0.21",
    "2.7": "0.22",
    "2.8": "0.23",
    "2.9": "0.24",
    "2.10": "0.25",
    "2.11": "0.26",
    "2.12": "0.27",
    "2.13": "0.28",
    "2.14": "0.29",
}

NBGRADER_LAB = "@jupyter/nbgrader"
# What students must not get, and what they need (assignment list + "Validate").
INSTRUCTOR_PLUGINS = {f"{NBGRADER_LAB}:{p}" for p in ("formgrader", "create-assignment", "course-list")}
STUDENT_PLUGINS = {f"{NBGRADER_LAB}:{p}" for p in ("assignment-list", "validate-assignment")}
SERVER_EXT = "nbgrader.server_extensions."
INSTRUCTOR_SERVER_EXTS = {SERVER_EXT + m for m in ("formgrader", "course_list")}
STUDENT_SERVER_EXTS = {SERVER_EXT + m for m in ("assignment_list", "validate_assignment")}


# ----------------------------------------------------------------------------- helpers


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _requirements_file() -> tuple[dict[str, Requirement], list[str]]:
    """(name -> Requirement, option lines) of binder/requirements.txt."""
    reqs: dict[str, Requirement] = {}
    options: list[str] = []
    for raw in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            options.append(line)
            continue
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in reqs, f"{req.name} is listed twice in {REQUIREMENTS}"
        reqs[name] = req
    return reqs, options


def _pinned_version(req: Requirement) -> Version:
    specs = list(req.specifier)
    assert len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version, (
        f"binder/requirements.txt must pin {req.name} with a single '==<version>', got {req}"
    )
    return Version(specs[0].version)


def _public(version: Version) -> Version:
    """The version without its local part ('2.13.0+cpu' -> '2.13.0')."""
    return Version(version.public)


def _shell_commands(path: Path) -> list[list[str]]:
    """Top-level shell commands of a script (continuation lines joined, comments and
    here-document bodies dropped)."""
    commands, current, heredoc_end = [], "", None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip()
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        heredoc = re.search(r"<<-?\s*(['\"]?)(\w+)\1", line)
        if heredoc:
            heredoc_end = heredoc[2]
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        words = shlex.split(current, comments=True)
        current = ""
        if words:
            commands.append(words)
    return commands


def _jupyter_commands(prefix: tuple[str, ...]) -> list[list[str]]:
    return [c for c in _shell_commands(POSTBUILD) if tuple(c[: len(prefix)]) == prefix]


def _args(command: list[str], n_words: int) -> tuple[list[str], list[str]]:
    """(flags, names) after the first n_words words of a command."""
    rest = command[n_words:]
    return [a for a in rest if a.startswith("-")], [a for a in rest if not a.startswith("-")]


def _disabled_lab_plugins() -> set[str]:
    names: set[str] = set()
    for cmd in _jupyter_commands(("jupyter", "labextension", "disable")):
        names.update(_args(cmd, 3)[1])
    return names


def _locked_lab_plugins() -> set[str]:
    names: set[str] = set()
    for cmd in _jupyter_commands(("jupyter", "labextension", "lock")):
        names.update(_args(cmd, 3)[1])
    return names


def _disabled_server_extensions() -> set[str]:
    names: set[str] = set()
    for cmd in _jupyter_commands(("jupyter", "server", "extension", "disable")):
        names.update(_args(cmd, 4)[1])
    return names


def _nbgrader_labextension_dir() -> Path:
    import nbgrader

    (path,) = nbgrader._jupyter_labextension_paths()
    return Path(nbgrader.__file__).parent / path["src"]


def _installed_nbgrader_plugin_ids() -> set[str]:
    """Lab plugin ids in the installed nbgrader labextension (bundle + settings schemas)."""
    labext = _nbgrader_labextension_dir()
    package = json.loads((labext / "package.json").read_text(encoding="utf-8"))
    assert package["name"] == NBGRADER_LAB
    ids: set[str] = set()
    for js in (labext / "static").glob("*.js"):
        ids.update(re.findall(r'"(' + re.escape(NBGRADER_LAB) + r':[\w-]+)"', js.read_text(encoding="utf-8")))
    # A plugin with settings has a schema named after it: schemas/@jupyter/nbgrader/<plugin>.json
    for schema in (labext / "schemas" / NBGRADER_LAB).glob("*.json"):
        ids.add(f"{NBGRADER_LAB}:{schema.stem}")
    return ids


def _nbgrader_shipped_server_config() -> Path:
    """etc/jupyter/jupyter_server_config.d/nbgrader.json, as installed with nbgrader."""
    for f in metadata.files("nbgrader") or []:
        if f.name == "nbgrader.json" and "jupyter_server_config.d" in f.parts:
            return Path(f.locate()).resolve()
    path = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "nbgrader.json"
    assert path.is_file(), "nbgrader's jupyter_server_config.d/nbgrader.json is not installed"
    return path


def _shipped_server_extensions() -> dict[str, bool]:
    data = json.loads(_nbgrader_shipped_server_config().read_text(encoding="utf-8"))
    return data["ServerApp"]["jpserver_extensions"]


# ----------------------------------------------------------------------------- scripts


def _is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR) and os.access(path, os.X_OK)


def test_postbuild_is_executable_bash_starting_with_set_e():
    assert POSTBUILD.is_file()
    assert _is_executable(POSTBUILD), "binder/postBuild must be executable (chmod +x)"
    lines = POSTBUILD.read_text(encoding="utf-8").splitlines()
    assert re.fullmatch(r"#!\s*(/usr)?/bin/(env )?bash", lines[0]), lines[0]
    first_command = next(l.strip() for l in lines[1:] if l.strip() and not l.lstrip().startswith("#"))
    # `set -e` (also accepted: more flags, e.g. `set -euo pipefail`): repo2docker does not stop the
    # build on a failing postBuild command otherwise.
    assert re.fullmatch(r"set -[a-z]*e[a-z]*(\s+-o\s+\w+)*", first_command), (
        f"first command of postBuild must be 'set -e', got {first_command!r}"
    )


def test_postbuild_installs_package_without_resolving_dependencies():
    installs = [
        c for c in _shell_commands(POSTBUILD)
        if "pip" in c and "install" in c and c.index("install") > c.index("pip")
    ]
    assert installs, "postBuild must pip install the course package"
    for cmd in installs:
        assert "--no-deps" in cmd, f"'{shlex.join(cmd)}' would re-resolve torch from PyPI (CUDA build)"
    assert any(c[-1] == "." or (c[-2:] == ["-e", "."]) for c in installs), (
        "postBuild must install the package from the repository root ('.')"
    )


def test_start_limits_threads_and_execs_command():
    assert START.is_file()
    assert _is_executable(START), "binder/start must be executable (chmod +x)"
    text = START.read_text(encoding="utf-8")
    assert re.match(r"#!\s*(/usr)?/bin/(env )?bash\n", text)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        assert re.search(rf"^\s*export\s+{var}=1\s*$", text, re.M), f"start must export {var}=1"
    commands = [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    assert commands[-1] == 'exec "$@"', f'the last line of start must be exec "$@", got {commands[-1]!r}'


# ----------------------------------------------------------------------------- runtime + requirements


def test_runtime_python_is_allowed_by_pyproject():
    text = RUNTIME.read_text(encoding="utf-8").strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", text)
    assert match, f"runtime.txt must read 'python-X.Y', got {text!r}"
    requires_python = SpecifierSet(_pyproject()["project"]["requires-python"])
    assert Version(match[1]) in requires_python, f"{text} is outside requires-python {requires_python}"


def test_every_runtime_dependency_is_pinned_inside_pyproject_range():
    pinned, _ = _requirements_file()
    dependencies = [Requirement(d) for d in _pyproject()["project"]["dependencies"]]
    assert dependencies
    problems = []
    for dep in dependencies:
        name = canonicalize_name(dep.name)
        if name not in pinned:
            problems.append(f"{dep.name} is not pinned in binder/requirements.txt")
            continue
        version = _public(_pinned_version(pinned[name]))
        if not dep.specifier.contains(version, prereleases=True):
            problems.append(f"{dep.name}=={version} is outside pyproject's range {dep.specifier}")
    assert not problems, "\n".join(problems)


def test_torch_and_torchvision_are_cpu_wheels_from_cpu_index():
    pinned, options = _requirements_file()
    for name in ("torch", "torchvision"):
        version = _pinned_version(pinned[name])
        assert version.local == "cpu", f"{name} must be pinned to a '+cpu' build, got {version}"
    index_urls = [shlex.split(o)[-1].rstrip("/") for o in options if o.split()[0].split("=")[0] in
                  ("--extra-index-url", "--index-url", "-i")]
    assert CPU_INDEX in index_urls, f"binder/requirements.txt must name the CPU wheel index {CPU_INDEX}"


def test_torch_torchvision_pair_is_compatible():
    pinned, _ = _requirements_file()
    torch_v = _pinned_version(pinned["torch"])
    vision_v = _pinned_version(pinned["torchvision"])
    torch_minor = f"{torch_v.major}.{torch_v.minor}"
    vision_minor = f"{vision_v.major}.{vision_v.minor}"
    assert torch_minor in TORCH_TO_TORCHVISION, (
        f"torch {torch_v} is not in TORCH_TO_TORCHVISION of {__file__}; look up the matching "
        f"torchvision release (its wheel requires torch=={torch_v.public}) and add a row"
    )
    expected = TORCH_TO_TORCHVISION[torch_minor]
    assert vision_minor == expected, (
        f"torch {torch_v} needs torchvision {expected}.x, but binder/requirements.txt pins "
        f"torchvision {vision_v}"
    )


# ----------------------------------------------------------------------------- nbgrader extensions


def test_postbuild_disables_real_instructor_lab_plugins_only():
    installed = _installed_nbgrader_plugin_ids()
    assert STUDENT_PLUGINS <= installed, f"student plugins missing from installed nbgrader: {installed}"
    disabled = _disabled_lab_plugins()
    assert disabled, "postBuild disables no nbgrader lab plugin"
    unknown = disabled - installed
    assert not unknown, f"postBuild disables lab plugins nbgrader does not have: {sorted(unknown)}"
    assert INSTRUCTOR_PLUGINS <= disabled, f"not disabled: {sorted(INSTRUCTOR_PLUGINS - disabled)}"
    assert not disabled & (STUDENT_PLUGINS | {NBGRADER_LAB}), (
        f"postBuild disables what students need: {sorted(disabled & (STUDENT_PLUGINS | {NBGRADER_LAB}))}"
    )
    locked = _locked_lab_plugins()
    assert locked >= INSTRUCTOR_PLUGINS and not locked - installed, (
        f"lock the disabled plugins (JupyterLab >= 4.1 lets users re-enable them); locked: {sorted(locked)}"
    )
    for cmd in _jupyter_commands(("jupyter", "labextension", "disable")) + _jupyter_commands(
        ("jupyter", "labextension", "lock")
    ):
        assert "--level=sys_prefix" in cmd, f"'{shlex.join(cmd)}' must write to the Binder env (sys_prefix)"


def test_postbuild_disables_real_instructor_server_extensions_only():
    shipped = _shipped_server_extensions()
    disabled = _disabled_server_extensions()
    assert disabled, "postBuild disables no nbgrader server extension"
    for name in disabled:
        assert find_spec(name) is not None, f"{name} is not a module of the installed nbgrader"
        # `jupyter server extension disable --sys-prefix X` refuses (and still exits 0) unless X
        # is listed in the sys-prefix config, which is where nbgrader's pip install puts it.
        assert name in shipped, f"{name} is not in nbgrader's shipped config {sorted(shipped)}"
    assert INSTRUCTOR_SERVER_EXTS <= disabled, f"not disabled: {sorted(INSTRUCTOR_SERVER_EXTS - disabled)}"
    assert not disabled & (STUDENT_SERVER_EXTS | {"nbgrader"}), (
        f"postBuild disables what students need: {sorted(disabled & STUDENT_SERVER_EXTS)}"
    )
    for name in STUDENT_SERVER_EXTS:
        assert find_spec(name) is not None and shipped.get(name) is True, f"{name} is not installed+enabled"
    for cmd in _jupyter_commands(("jupyter", "server", "extension", "disable")):
        assert "--sys-prefix" in cmd, f"'{shlex.join(cmd)}' must write to the Binder env (--sys-prefix)"


def _postbuild_check_script() -> str:
    """The Python check embedded in postBuild (python - <<'PY' ... PY)."""
    match = re.search(r"^python - <<'PY'\n(.*?)^PY$", POSTBUILD.read_text(encoding="utf-8"), re.M | re.S)
    assert match, "postBuild must verify the resulting nbgrader configuration"
    return match[1]


@pytest.fixture(scope="module")
def student_config(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """postBuild's jupyter commands, run at user level in a temporary config dir: (config dir, env)."""
    jupyter = Path(sys.executable).parent / "jupyter"
    if not jupyter.exists():
        pytest.skip(f"no jupyter next to {sys.executable}")
    tmp_path = tmp_path_factory.mktemp("binder-config")
    config_dir = tmp_path / "config"
    server_d = config_dir / "jupyter_server_config.d"
    server_d.mkdir(parents=True)
    # On Binder, pip installing nbgrader writes this file to the env; the user-level stand-in
    # needs it too, since `server extension disable` only toggles extensions listed there.
    shutil.copy(_nbgrader_shipped_server_config(), server_d / "nbgrader.json")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        # The user dir must win over this env's own sys-prefix config, as the sys-prefix
        # config does on Binder.
        "JUPYTER_PREFER_ENV_PATH": "0",
        "PATH": f"{jupyter.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    swap = {"--level=sys_prefix": "--level=user", "--sys-prefix": "--user"}
    commands = [
        c for c in _shell_commands(POSTBUILD)
        if c[0] == "jupyter" and c[1:3] in (["labextension", "disable"], ["labextension", "lock"])
        or c[:4] == ["jupyter", "server", "extension", "disable"]
    ]
    assert len(commands) >= 2
    runs = [[str(jupyter)] + [swap.get(a, a) for a in cmd[1:]] for cmd in commands]
    for run in runs:
        assert "--level=sys_prefix" not in run and "--sys-prefix" not in run

    def check(run: list[str], proc: subprocess.CompletedProcess) -> None:
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{shlex.join(run)} failed:\n{output}"
        assert "Validation failed" not in output, f"{shlex.join(run)}:\n{output}"

    # The lab commands all rewrite labconfig/page_config.json, so they run in order; the server
    # extension commands write jupyter_server_config.d/ and run alongside (saves a few seconds).
    server_runs = [r for r in runs if r[1] == "server"]
    background = [subprocess.Popen(r, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for r in server_runs]
    try:
        for run in (r for r in runs if r[1] != "server"):
            check(run, subprocess.run(run, env=env, capture_output=True, text=True, timeout=60))
    finally:
        for run, bg in zip(server_runs, background):
            out, err = bg.communicate(timeout=60)
            check(run, subprocess.CompletedProcess(run, bg.returncode, out, err))
    return config_dir, env


def test_postbuild_nbgrader_commands_in_temp_config(student_config, monkeypatch):
    """Run postBuild's jupyter commands at user level in a temporary config dir and check the result."""
    config_dir, env = student_config
    server_d = config_dir / "jupyter_server_config.d"

    # What the commands wrote.
    page_config = json.loads((config_dir / "labconfig" / "page_config.json").read_text(encoding="utf-8"))
    disabled = {k for k, v in page_config.get("disabledExtensions", {}).items() if v}
    locked = {k for k, v in page_config.get("lockedExtensions", {}).items() if v}
    assert disabled == _disabled_lab_plugins() >= INSTRUCTOR_PLUGINS
    assert locked >= INSTRUCTOR_PLUGINS
    assert not disabled & (STUDENT_PLUGINS | {NBGRADER_LAB})
    written: dict[str, bool] = {}
    for f in sorted(server_d.glob("*.json")):
        written.update(json.loads(f.read_text(encoding="utf-8"))["ServerApp"]["jpserver_extensions"])
    assert {k for k, v in written.items() if not v} == INSTRUCTOR_SERVER_EXTS
    assert all(written[k] for k in STUDENT_SERVER_EXTS)

    # The effective configuration, as the Jupyter server / JupyterLab read it (all config dirs
    # merged), and postBuild's own check of it -- the one that fails the Binder build. Both run
    # in this process (cheaper than another interpreter) with the same environment variables.
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager
    from jupyterlab_server.config import get_static_page_config

    for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_PREFER_ENV_PATH"):
        monkeypatch.setenv(key, env[key])
    assert jupyter_config_path()[0] == str(config_dir)
    server = ExtensionConfigManager(read_config_path=jupyter_config_path()).get_jpserver_extensions()
    nbgrader_exts = {k: v for k, v in server.items() if k.startswith(SERVER_EXT)}
    assert nbgrader_exts == {**{k: False for k in INSTRUCTOR_SERVER_EXTS}, **{k: True for k in STUDENT_SERVER_EXTS}}
    assert not server.get("nbgrader", False), "'nbgrader' itself would load the formgrader too"
    page = get_static_page_config(level="all")
    eff_disabled = {k for k, v in page.get("disabledExtensions", {}).items() if v}
    assert INSTRUCTOR_PLUGINS <= eff_disabled and not eff_disabled & (STUDENT_PLUGINS | {NBGRADER_LAB})

    try:
        exec(compile(_postbuild_check_script(), str(POSTBUILD), "exec"), {"__name__": "__main__"})
    except SystemExit as exit_:
        assert exit_.code in (None, 0), f"postBuild's check rejects the configuration: {exit_.code}"


def _tiny_assignment(path: Path) -> None:
    """A two-cell nbgrader notebook whose test cell fails: answer = 41, assert answer == 42."""
    meta = {"schema_version": 3, "task": False, "cell_type": "code"}
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": "answer", "outputs": [], "source": "answer = 41",
             "metadata": {"nbgrader": {**meta, "grade": False, "grade_id": "answer", "locked": False,
                                       "solution": True}}},
            {"cell_type": "code", "execution_count": None, "id": "test-answer", "outputs": [],
             "source": "assert answer == 42, 'not 42'",
             "metadata": {"nbgrader": {**meta, "grade": True, "grade_id": "test_answer", "locked": True,
                                       "points": 1, "solution": False}}},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb), encoding="utf-8")


def test_student_view_server_validates_and_has_no_instructor_tools(student_config, tmp_path):
    """JupyterLab started with postBuild's configuration: Validate answers (it runs a notebook's
    tests), the formgrader and course list do not exist, and the page disables the instructor plugins."""
    import http.cookiejar
    import socket
    import time
    import urllib.error
    import urllib.parse
    import urllib.request

    import nbgrader

    _, env = student_config
    root = tmp_path / "root"
    root.mkdir()
    _tiny_assignment(root / "tiny.ipynb")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
               "--IdentityProvider.token=", "--PasswordIdentityProvider.hashed_password=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))

    def status(path: str) -> int:
        try:
            with opener.open(url + path, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    with open(log, "w") as out:
        server = subprocess.Popen(command, cwd=root, env={**env, "CI": "true"}, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"jupyter lab exited:\n{log.read_text()[-3000:]}"
            try:
                with opener.open(url + "/api/status", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"jupyter lab did not start:\n{log.read_text()[-3000:]}"
                time.sleep(0.25)

        # The page JupyterLab serves: instructor plugins disabled, student ones not.
        with opener.open(url + "/lab", timeout=30) as response:
            html = response.read().decode()
        page = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                    html, re.S)[1])
        served_disabled = set(page.get("disabledExtensions", []))
        assert INSTRUCTOR_PLUGINS <= served_disabled, sorted(served_disabled)
        assert not served_disabled & (STUDENT_PLUGINS | {NBGRADER_LAB}), sorted(served_disabled)

        # Instructor server extensions are not loaded ...
        assert status("/formgrader") == 404
        assert status("/formgraders") == 404
        # ... the student-side Validate extension is, and runs the notebook's tests.
        with opener.open(f"{url}/nbgrader_version?version={nbgrader.__version__}", timeout=10) as response:
            assert json.loads(response.read()) == {"success": True}
        xsrf = next(c.value for c in cookies if c.name == "_xsrf")
        request = urllib.request.Request(url + "/assignments/validate", method="POST",
                                         data=urllib.parse.urlencode({"path": "tiny.ipynb"}).encode(),
                                         headers={"X-XSRFToken": xsrf})
        try:
            with opener.open(request, timeout=120) as response:
                result = json.loads(response.read())
        except urllib.error.HTTPError as error:
            pytest.fail(f"Validate (POST /assignments/validate) answered {error.code}: the student-side "
                        f"server extension is not loaded\n{log.read_text()[-2000:]}")
        assert result["success"] is True, result
        failed = result["value"].get("failed", [])
        assert [f["source"] for f in failed] == ["assert answer == 42, 'not 42'"], result
        assert "not 42" in failed[0]["raw_error"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_binder_culls_kernels_left_without_a_tab():
    """Binder's 2 GB: kernels whose tab was closed are shut down after some idle minutes, never a busy
    or connected one; postBuild installs the setting into the environment's server configuration."""
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    config = json.loads((BINDER / "jupyter_server_config.json").read_text(encoding="utf-8"))
    culling = config["MappingKernelManager"]
    assert set(culling) <= set(MappingKernelManager.class_trait_names()), "unknown MappingKernelManager option"
    assert 60 <= culling["cull_idle_timeout"] <= 1800
    assert culling["cull_connected"] is False and culling["cull_busy"] is False
    text = POSTBUILD.read_text(encoding="utf-8")
    assert "cp binder/jupyter_server_config.json" in text and "jupyter_server_config.d" in text


def test_postbuild_installs_the_kernel_startup_file_which_trims_after_every_cell():
    from IPython.core.interactiveshell import InteractiveShell

    assert "cp binder/kernel_startup.py" in POSTBUILD.read_text()
    shell = InteractiveShell.instance()
    callbacks = shell.events.callbacks["post_run_cell"]
    before = list(callbacks)
    try:
        exec((BINDER / "kernel_startup.py").read_text(), {"get_ipython": lambda: shell})
        added = [c for c in callbacks if c not in before]
        assert len(added) == 1, "the startup file registers one post_run_cell callback"
        assert shell.run_cell("x = 1 + 1").success and shell.user_ns["x"] == 2
    finally:
        for callback in [c for c in callbacks if c not in before]:
            shell.events.unregister("post_run_cell", callback)
        InteractiveShell.clear_instance()
