"""The notebook 07 checks (helpers.checks.transfer): correct answers pass, every known mistake is
rejected with its explanation by the self-check and by the grading check."""

from __future__ import annotations

import pytest

import helpers.checks.transfer as checks_transfer
from check_contract import assert_correct_answer_passes, assert_mistake_rejected, mistakes_of
from helpers import transfer


def _extract(model, x, layer="pool"):
    return transfer.extract_features(model, x, layer)


def _fine_tune(model, x, y, epochs, lr_backbone=1e-3, lr_head=1e-2, transform=None):
    return transfer.fine_tune(model, x, y, epochs, lr_backbone, lr_head, transform=transform)


REFERENCES = {
    "freeze": transfer.freeze,
    "replace_head": transfer.replace_head,
    "extract_features": _extract,
    "param_groups": transfer.param_groups,
    "precision_at_k": transfer.precision_at_k,
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_self_check_and_grading_pass_the_reference(name, capsys):
    assert_correct_answer_passes(checks_transfer, name, REFERENCES[name], capsys)


def test_fine_tune_self_check_passes_the_reference(capsys):
    checks_transfer.fine_tune(_fine_tune)
    assert capsys.readouterr().out.startswith("\N{CHECK MARK} fine_tune passed")


def test_fine_tune_grading_measures_the_margin():
    assert checks_transfer.grade_fine_tune(_fine_tune) is None       # no value: nbgrader would score it
    with pytest.raises(checks_transfer.CheckFailure, match="transfer should win"):
        checks_transfer.grade_fine_tune(_fine_tune, margin=0.9)


MISTAKES = [(n, m) for n, m in mistakes_of(checks_transfer)]


@pytest.mark.parametrize("name,mistake", MISTAKES, ids=[f"{n}-{m.name}" for n, m in MISTAKES])
def test_every_known_mistake_is_rejected_and_explained(name, mistake):
    if name == "fine_tune":
        with pytest.raises(checks_transfer.CheckFailure) as failure:
            checks_transfer.fine_tune(mistake.fn)
        assert mistake.explain in str(failure.value)
        return
    assert_mistake_rejected(checks_transfer, name, mistake)
