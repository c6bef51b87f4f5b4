"""What every notebook's checks module must do (test support, shared by tests/test_checks_*.py).

- the visible self-check passes a correct answer and prints "✓ <name> passed", and the hidden
  grading check from a fresh copy passes it too;
- every known mistake in ``MISTAKES`` is rejected by the self-check with its explanation, and by
  the grading check.
"""

from __future__ import annotations

import types

import pytest

from helpers.checks import fresh
from helpers.checks.core import CheckFailure

CHECK_MARK = "\N{CHECK MARK}"


def mistakes_of(module: types.ModuleType) -> list:
    """``[(exercise, Mistake), ...]`` for pytest parametrisation."""
    return [(name, m) for name, ms in module.MISTAKES.items() for m in ms]


def assert_correct_answer_passes(module: types.ModuleType, name: str, answer, capsys) -> None:
    getattr(module, name)(answer)
    assert capsys.readouterr().out.startswith(f"{CHECK_MARK} {name} passed")
    getattr(fresh(module.__name__.rsplit(".", 1)[-1]), f"grade_{name}")(answer)


def assert_mistake_rejected(module: types.ModuleType, name: str, mistake) -> None:
    with pytest.raises(CheckFailure) as failure:
        getattr(module, name)(mistake.fn)
    assert mistake.explain in str(failure.value)
    with pytest.raises(CheckFailure):
        getattr(module, f"grade_{name}")(mistake.fn)
