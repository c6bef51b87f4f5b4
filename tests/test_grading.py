"""The grading round trip with real nbgrader, and every known-wrong answer caught.

One temporary course root per assignment; one autograde run grades every submission:
the instructor's answers typed into the release (full marks), the untouched release (0), and each
known-wrong answer from tests/banks (its target test cell must lose its points, every other test
cell keeps them).
"""

from __future__ import annotations

import pytest

from banks import BANKS
from nbgrading import CourseRoot, cell_output_text, cells_by_id, filled_release, solution_sources

pytestmark = pytest.mark.grading


@pytest.fixture(scope="module", params=sorted(BANKS))
def graded(request, tmp_path_factory):
    """(root, scores, mutants) after one batched autograde of an assignment's submissions."""
    assignment = request.param
    root = CourseRoot.create(tmp_path_factory.mktemp(assignment), assignment)
    release = root.release_notebook()
    answers = solution_sources(assignment)
    root.submit("solution", filled_release(release, answers))
    root.submit("release", release)
    for mutant in BANKS[assignment]:
        root.submit(mutant.student, filled_release(release, {**answers, mutant.cell: mutant.apply(answers[mutant.cell])}))
    return root, root.autograde_all(workers=2), BANKS[assignment]


def _tests(scores):
    return {gid: s for gid, s in scores.items() if gid.startswith("test_")}


def test_the_solution_earns_full_marks(graded):
    root, scores, _ = graded
    lost = {gid: s for gid, s in _tests(scores["solution"]).items() if s[0] != s[1]}
    assert not lost, f"the solution lost points in {lost}:\n" + "\n".join(
        cell_output_text(root.autograded_notebook("solution"), gid) for gid in lost)


def test_the_untouched_release_earns_zero(graded):
    _, scores, _ = graded
    assert all(score == 0 for score, _ in _tests(scores["release"]).values()), scores["release"]
    assert sum(m for _, m in _tests(scores["release"]).values()) > 0


def test_every_graded_exercise_has_a_bank_of_at_least_three_wrong_answers(graded):
    root, scores, mutants = graded
    for gid in _tests(scores["solution"]):
        count = sum(1 for m in mutants if f"test_{m.cell}" == gid)
        assert count >= 3, f"{gid} has only {count} known-wrong answers"


def test_every_wrong_answer_loses_its_points_and_only_those(graded):
    root, scores, mutants = graded
    problems = []
    for mutant in mutants:
        got = _tests(scores[mutant.student])
        target = f"test_{mutant.cell}"
        if got[target][0] != 0:
            problems.append(f"{mutant.student}: {target} kept {got[target][0]} points")
        built_on = {f"test_{cell}" for cell in mutant.breaks}
        others = {gid: s for gid, s in got.items() if gid != target and gid not in built_on and s[0] != s[1]}
        if others:
            problems.append(f"{mutant.student}: other test cells lost points: {others}")
        kept = {gid for gid in built_on if got[gid][0] == got[gid][1]}
        if kept:
            problems.append(f"{mutant.student}: declares it breaks {sorted(kept)}, which kept their points")
    assert not problems, "\n".join(problems)


def test_self_checks_name_the_likely_mistake(graded):
    root, _, mutants = graded
    missing = []
    for mutant in (m for m in mutants if m.explains):
        text = cell_output_text(root.autograded_notebook(mutant.student), f"test_{mutant.cell}")
        if mutant.explains not in text:
            missing.append(f"{mutant.student}: expected {mutant.explains!r} in\n{text}")
    assert not missing, "\n\n".join(missing)


def test_hidden_tests_are_restored_at_grading(graded):
    root, _, _ = graded
    cells = cells_by_id(root.autograded_notebook("solution"))
    assert any("BEGIN HIDDEN TESTS" in c.source for gid, c in cells.items() if gid.startswith("test_"))


def _self_check_passed(nb, gid: str) -> bool:
    """Whether the visible self-check of test cell ``gid`` printed its pass line ("✓ ... passed")."""
    return "\N{CHECK MARK}" in cell_output_text(nb, gid)


def test_the_self_check_rejects_every_wrong_answer_the_grade_rejects(graded):
    """A student shown a pass is never scored 0 for the same reason: the self-check (the visible part
    of the test cell, run first) fails on every mutant, except the ``hidden_only`` ones, which only a
    random case of the hidden test can reveal and whose bank entry says why."""
    root, scores, mutants = graded
    passed = [m for m in mutants if _self_check_passed(root.autograded_notebook(m.student), f"test_{m.cell}")]
    unexplained = [m.student for m in passed if not m.hidden_only]
    rule_based = [m for m in mutants if not m.hidden_only]
    agreed = len(rule_based) - len(unexplained)
    print(f"{root.assignment}: the self-check rejects {agreed} of {len(rule_based)} rule-based wrong answers "
          f"({100 * agreed / max(len(rule_based), 1):.0f}%); {len(mutants) - len(rule_based)} hidden-only")
    assert not unexplained, "the self-check passed these wrong answers: " + ", ".join(unexplained)
    stale = [m.student for m in mutants if m.hidden_only and m not in passed]
    assert not stale, "marked hidden_only but the self-check rejects them (remove the mark): " + ", ".join(stale)
