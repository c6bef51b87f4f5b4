"""The course root an instructor works in, and the nbgrader configuration every step uses.

A course root is a directory with an ``nbgrader_config.py`` (this repository is one). Every step
reads that configuration, as ``nbgrader`` run in the root would, and :func:`grading_config` adds
the grader's defences on top of it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[2]
CONFIG_FILE = "nbgrader_config.py"
RESULT_PREFIX = "@@result "  # how a grading worker marks its answer line on stdout


def nbgrader_environment() -> dict[str, str]:
    """This process's environment for running nbgrader: its own ``alembic`` first on PATH, no CI switches."""
    env = {k: v for k, v in os.environ.items() if k not in ("NBGRADER_EXECUTION", "CI")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def use_nbgrader_environment() -> None:
    """Make nbgrader's in-process API find ``alembic`` (it runs it by name)."""
    os.environ["PATH"] = nbgrader_environment()["PATH"]


@dataclass(frozen=True)
class Course:
    """A course root: ``source`` (solutions/), ``release`` (course/), ``submitted``, ``autograded``,
    ``feedback`` folders and the gradebook, as configured in its ``nbgrader_config.py``."""

    root: Path
    db_url: str = ""  # default: <root>/gradebook.db

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).resolve())
        if not (self.root / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"Course: {self.root} has no {CONFIG_FILE}; run in the course root or pass --root")
        if not self.db_url:
            object.__setattr__(self, "db_url", f"sqlite:///{self.root / 'gradebook.db'}")

    def config(self) -> Config:
        """The course's nbgrader configuration (its ``nbgrader_config.py``), rooted here."""
        config = PyFileConfigLoader(CONFIG_FILE, path=str(self.root)).load_config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.db_url = self.db_url
        return config

    def coursedir(self, config: Config | None = None):
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=config or self.config())

    def api(self, config: Config | None = None):
        """nbgrader's own API (``NbGraderAPI``) on this root."""
        from nbgrader.apps import NbGraderAPI

        use_nbgrader_environment()
        config = config or self.config()
        return NbGraderAPI(self.coursedir(config), config=config)

    def gradebook(self):
        from nbgrader.api import Gradebook

        use_nbgrader_environment()
        return Gradebook(self.db_url)

    def folder(self, kind: str) -> Path:
        """``kind`` is source, release, submitted, autograded or feedback."""
        return self.root / getattr(self.coursedir(), f"{kind}_directory")

    def assignments(self) -> list[str]:
        """Every assignment of the source folder."""
        return sorted(p.name for p in self.folder("source").iterdir() if p.is_dir())

    def notebook_names(self, assignment: str) -> list[str]:
        """The notebooks (without ``.ipynb``) of an assignment, from its source."""
        folder = self.folder("source") / assignment
        if not folder.is_dir():
            raise FileNotFoundError(f"no assignment {assignment!r} in {self.folder('source')}: "
                                    f"choose one of {self.assignments()}")
        return sorted(p.stem for p in folder.glob("*.ipynb"))

    def release_notebook(self, assignment: str, name: str):
        return nbformat.read(self.folder("release") / assignment / f"{name}.ipynb", as_version=4)

    def students(self, assignment: str) -> list[str]:
        """Students with a folder for ``assignment`` in submitted/."""
        submitted = self.folder("submitted")
        if not submitted.is_dir():
            return []
        return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir())


def grading_config(config: Config) -> Config:
    """``config`` plus the grader's defences: a dead kernel fails one cell, output is bounded,
    stderr is not a failure, and a test cell's restored source and points are nbgrader's."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                        SaveAutoGrades)

    from .caps import CapSizes
    from .preprocessors import CapOutput, ResilientExecute, StderrIsNotAFailure

    config = Config(config)
    # CapSizes comes after SaveAutoGrades: scores are computed on the full outputs, only the saved
    # notebook (and so the feedback) is capped
    config.Autograde.autograde_preprocessors = [
        ResilientExecute, IgnorePattern, StderrIsNotAFailure, ClearMetadataPreprocessor, LimitOutput, CapOutput,
        SaveAutoGrades, CapSizes, AssignLatePenalties, CheckCellMetadata]
    return config
