"""The README's commands, CI and the nbgrader configuration agree with each other."""

from __future__ import annotations

import re
import runpy
import tomllib

from nbgrading import REPO

README = (REPO / "README.md").read_text()
CI = (REPO / ".ci" / "run").read_text()


def _bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_readme_gives_one_install_and_start_command_and_one_install_and_test_command():
    blocks = _bash_blocks(README)
    assert "pip install -e . && jupyter lab course/" in blocks
    assert 'pip install -e ".[test]" && python -m pytest' in blocks


def test_ci_runs_the_readme_test_command_in_a_fresh_virtual_environment():
    command = re.search(r"^TEST_COMMAND='(.*)'$", CI, flags=re.M).group(1)
    assert command in _bash_blocks(README)
    assert "python3 -m venv" in CI and 'eval "$TEST_COMMAND"' in CI
    assert CI.index("python3 -m venv") < CI.index('eval "$TEST_COMMAND"')


def test_readme_reports_measured_budgets_for_every_notebook():
    for assignment in sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir()):
        row = next((line for line in README.splitlines() if line.startswith(f"| {assignment} |")), None)
        assert row is not None, f"README has no budget row for {assignment}"
        assert re.search(r"\d+(\.\d+)? s", row) and "MiB" in row


def test_binder_badge_opens_jupyterlab_at_course():
    assert re.search(r"mybinder\.org/v2/gh/[^)\s]+\?urlpath=lab/tree/course\)", README)


def test_nbgrader_config_sets_folders_timeout_and_stderr_policy():
    class Config(dict):
        def __getattr__(self, name):
            return self.setdefault(name, Config())

        def __setattr__(self, name, value):
            self[name] = value

    config = Config()
    runpy.run_path(str(REPO / "nbgrader_config.py"), init_globals={"get_config": lambda: config})
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "course"
    assert 10 <= config.Execute.timeout <= 60 and config.Execute.interrupt_on_timeout is True
    pattern = re.compile(config.IgnorePattern.pattern)
    assert config.IgnorePattern.enabled is True
    assert pattern.search("/x.py:3: UserWarning: something harmless\n  warnings.warn(")
    assert pattern.search(" 40%|████      | 4/10 [00:01<00:02]")
    assert not pattern.search("Traceback (most recent call last):")


def test_dependencies_are_ranges_not_pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        assert "==" not in requirement and ">=" in requirement, requirement
