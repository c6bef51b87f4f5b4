"""Self-checks and grading checks, one module per notebook concept (``signals`` for notebook 01,
``conv2d`` for 02, ``pooling`` for 03, ``backprop`` for 04, ``training`` for 05, ``models`` for 06,
``transfer`` for 07; ``design`` for 06's design exercises).

The notebooks call the visible self-checks directly, ``checks.signals.conv1d(conv1d)``.
Hidden tests instead take a fresh copy, ``fresh("signals").grade_conv1d(conv1d)``: it is loaded
again from disk under a private name, so a notebook that reassigned ``helpers.checks`` or the
reference implementations cannot change what grades it.

The modules load on first use (``checks.models`` brings in torchvision, which alone takes 1.5 s),
so a notebook, and every hidden test's fresh copy, pays only for the checks it calls.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import sys
import types

from . import core

MODULES = ("signals", "conv2d", "pooling", "backprop", "training", "models", "transfer", "design")
__all__ = ["core", *MODULES, "fresh"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
_counter = itertools.count()


def fresh(name: str) -> types.ModuleType:
    """A newly loaded copy of ``helpers.checks.<name>`` whose imports are newly loaded too.

    Args:
        name: the checks module, e.g. ``"signals"``.
    """
    if not name.isidentifier():
        raise ValueError(f"fresh: name must be a module name such as 'signals', got {name!r}")
    package = f"_helpers_fresh_{os.getpid()}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(
        package, os.path.join(_PACKAGE_DIR, "__init__.py"), submodule_search_locations=[_PACKAGE_DIR])
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{package}.checks.{name}")


def __getattr__(name: str) -> types.ModuleType:
    """``checks.signals`` and the other check modules, imported when first used."""
    if name in MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}: the check modules are {', '.join(MODULES)}")


def __dir__() -> list[str]:
    return sorted([*globals(), *MODULES])
