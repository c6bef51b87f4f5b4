"""The notebook 07 checks (helpers.checks.transfer): correct answers pass, every known mistake is
rejected with its explanation by the self-check and by the grading check."""

from __future__ import annotations

import pytest

import helpers.checks.transfer as checks_transfer
from check_contract import assert_correct_answer_passes, assert_mistake_rejected, mistakes_of
import torch
from torch import nn

from helpers import transfer
from helpers.checks.core import CheckFailure
from helpers.training import fit, make_loader
from nbgrading import solution_sources


def _instructor_answers() -> dict:
    """The solution notebook's answers, defined as a student's cells would define them."""
    namespace = {"torch": torch, "nn": nn, "fit": fit, "make_loader": make_loader, "transfer": transfer}
    for source in solution_sources("07_transfer_learning").values():
        exec(compile(source, "<answer>", "exec"), namespace)  # noqa: S102 - our own solution cells
    return namespace


ANSWERS = _instructor_answers()
_fine_tune = ANSWERS["fine_tune"]
REFERENCES = {name: ANSWERS[name] for name in ("freeze", "replace_head", "extract_features", "param_groups",
                                                "precision_at_k")}


@pytest.mark.parametrize("name", [*REFERENCES, "fine_tune"])
@pytest.mark.parametrize("check", ["", "grade_"])
def test_the_course_answers_are_refused(name, check):
    """Calling helpers.transfer's own answer is never an answer, in the self-check too (issue 21)."""
    reference = getattr(transfer, name)
    with pytest.raises(CheckFailure, match="course's own|your own"):
        getattr(checks_transfer, f"{check}{name}")(lambda *args, **kwargs: reference(*args, **kwargs))


@pytest.mark.parametrize("name,earlier", [("replace_head", "freeze"), ("fine_tune", "param_groups")])
def test_the_students_own_earlier_function_must_be_used(name, earlier):
    namespace = dict(ANSWERS)
    namespace[f"course_{earlier}"] = getattr(transfer, earlier)
    answer = solution_sources("07_transfer_learning")[name].replace(f"{earlier}(model", f"course_{earlier}(model")
    exec(compile(answer, "<answer>", "exec"), namespace)  # noqa: S102
    with pytest.raises(CheckFailure, match=f"use your {earlier}"):
        getattr(checks_transfer, name)(namespace[name])


@pytest.mark.parametrize("check", ["", "grade_"])
def test_extract_features_must_restore_each_mode(check):
    def always_train(model, x, layer="pool"):
        features = ANSWERS["extract_features"](model, x, layer)
        model.train()
        return features

    with pytest.raises(CheckFailure, match="eval mode"):
        getattr(checks_transfer, f"{check}extract_features")(always_train)


@pytest.mark.parametrize("edit,message", [((", transform=transform", ""), "transform argument was never applied"),
                                          (("batch_size=32", "batch_size=64"), "batch_size=32")])
def test_fine_tune_must_honour_the_loader_arguments(edit, message):
    namespace = dict(ANSWERS)
    exec(compile(solution_sources("07_transfer_learning")["fine_tune"].replace(*edit), "<answer>", "exec"), namespace)
    with pytest.raises(CheckFailure, match=message):
        checks_transfer.fine_tune(namespace["fine_tune"])


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_self_check_and_grading_pass_the_reference(name, capsys):
    assert_correct_answer_passes(checks_transfer, name, REFERENCES[name], capsys)


def test_fine_tune_self_check_passes_the_reference(capsys):
    checks_transfer.fine_tune(_fine_tune)
    assert capsys.readouterr().out.startswith("\N{CHECK MARK} fine_tune passed")


def test_fine_tune_grading_measures_the_margin():
    assert checks_transfer.grade_fine_tune(_fine_tune) is None       # no value: nbgrader would score it
    with pytest.raises(checks_transfer.CheckFailure, match="transfer should win"):
        checks_transfer._beats_scratch(_fine_tune, margin=0.9)


@pytest.mark.parametrize("check", ["fine_tune", "grade_fine_tune"])
def test_the_margin_is_enforced_by_the_self_check_too(check, monkeypatch):
    strict = checks_transfer._beats_scratch
    monkeypatch.setattr(checks_transfer, "_beats_scratch", lambda student: strict(student, margin=0.9))
    with pytest.raises(checks_transfer.CheckFailure, match="transfer should win"):
        getattr(checks_transfer, check)(_fine_tune)


MISTAKES = [(n, m) for n, m in mistakes_of(checks_transfer)]


@pytest.mark.parametrize("name,mistake", MISTAKES, ids=[f"{n}-{m.name}" for n, m in MISTAKES])
def test_every_known_mistake_is_rejected_and_explained(name, mistake):
    if name == "fine_tune":
        with pytest.raises(checks_transfer.CheckFailure) as failure:
            checks_transfer.fine_tune(mistake.fn)
        assert mistake.explain in str(failure.value)
        return
    assert_mistake_rejected(checks_transfer, name, mistake)
