"""Grading isolation (issue 16): an attacker graded before honest classmates in the same batch changes
nothing but its own grade.

Each attack is bounded (a few processes, one file, one allocation) and runs in an answer cell of
notebook 01; the victims, graded after it by the same worker, must get full marks, the batch must
finish, the gradebook's other rows, ``helpers/``, ``solutions/`` and classmates' files must be
unchanged, and no process of the attacker may outlive the batch.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
from pathlib import Path

import nbformat
import pytest

from helpers.instructor import Course, grade, sandbox
from nbgrading import CourseRoot, cell_output_text, filled_release, solution_sources

pytestmark = pytest.mark.grading

A = "01_conv1d_denoising"
FULL = {"test_moving_average_kernel": 1, "test_triangle_kernel": 1, "test_pad": 2, "test_conv1d": 3,
        "test_conv1d_vectorized": 3, "test_causal_conv1d": 2, "test_receptive_field": 1}
MARKER = "isolation-attack-survivor"  # in the command line of every process an attack leaves behind
SANDBOX, WHY = sandbox.available()
needs_sandbox = pytest.mark.skipif(not SANDBOX, reason=f"no bubblewrap sandbox here: {WHY}")


def _attacking(answers: dict, code: str) -> dict:
    """The instructor's answers, with ``code`` run at the end of the first answer cell."""
    return {**answers, "moving_average_kernel": answers["moving_average_kernel"] + "\n" + textwrap.dedent(code)}


FAKE_RESULTS = """
import os, json
for fd in (1, 2):
    for student in ("z_victim1", "z_victim2", "a_fake_results"):
        line = {"token": "0" * 32, "student": student, "success": True, "error": ""}
        os.write(fd, b'@@result {"success": true, "error": ""}\\n')
        os.write(fd, ("@@result " + json.dumps(line) + "\\n").encode())
"""


def _survivors() -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if MARKER.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def _digest(*folders: Path) -> dict:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _class(tmp: Path, attacks: dict[str, str]) -> tuple[CourseRoot, Course]:
    root = CourseRoot.create(tmp, A)
    release, answers = root.release_notebook(), solution_sources(A)
    for student, code in attacks.items():
        root.submit(student, filled_release(release, _attacking(answers, code)))
    for victim in ("z_victim1", "z_victim2"):
        root.submit(victim, filled_release(release, answers))
    return root, Course(root.path)


def _scores(outcomes, student: str) -> dict:
    return {gid: score for gid, (score, _) in outcomes[student].scores.items()}


def test_fake_result_lines_on_stdout_and_stderr_reach_no_one(tmp_path):
    """Without the sandbox too: results travel on the worker's own pipe, with a token and the student."""
    root, course = _class(tmp_path, {"a_fake_results": FAKE_RESULTS})
    outcomes = {o.student: o for o in grade(course, A, workers=1, progress=False, sandboxed=False)}
    for student in ("a_fake_results", "z_victim1", "z_victim2"):
        assert _scores(outcomes, student) == FULL, outcomes[student]
        assert outcomes[student].status == "graded", outcomes[student]


def _attacks(course: Course) -> dict[str, str]:
    """student -> code; each prints BLOCKED or BROKE-THROUGH for every step it tries."""
    gradebook = course.root / "gradebook.db"
    classmate = course.folder("submitted") / "z_victim1" / A / f"{A}.ipynb"
    solution = course.folder("source") / A / f"{A}.ipynb"
    import helpers

    core = Path(helpers.__file__).parent / "checks" / "core.py"
    return {
        "a_fake_results": FAKE_RESULTS,
        "b_files": f"""
            import os, sqlite3
            def attempt(what, action):
                try:
                    action()
                    print("BROKE-THROUGH", what)
                except Exception as err:
                    print("BLOCKED", what, type(err).__name__)
            attempt("read solutions", lambda: open({str(solution)!r}).read())
            attempt("read gradebook", lambda: open({str(gradebook)!r}, "rb").read())
            attempt("write gradebook", lambda: sqlite3.connect({str(gradebook)!r}).execute(
                "UPDATE grade SET manual_score = 0").connection.commit())
            attempt("overwrite classmate", lambda: open({str(classmate)!r}, "a").close())
            attempt("write helpers", lambda: open({str(core)!r}, "a").close())
            attempt("find the course beside helpers", lambda: os.listdir({str(Path(helpers.__file__).parents[1] / "solutions")!r}))
            attempt("network", lambda: __import__("socket").create_connection(("1.1.1.1", 53), timeout=2))
        """,
        "f_hooks": """
            import sys, torch
            from torch.overrides import TorchFunctionMode
            get_ipython().input_transformers_cleanup.append(lambda lines: [])  # blanks every later cell
            get_ipython().ast_transformers.append(type("Blank", (__import__("ast").NodeTransformer,), {})())
            sys.settrace(lambda *args: None)
            sys.path.insert(0, "/nonexistent/helpers-of-my-own")
            TorchFunctionMode().__enter__()
        """,
        "g_thread": """
            import threading, time
            def patcher():
                time.sleep(600)
            threading.Thread(target=patcher, daemon=True).start()
        """,
        "e_links": f"""
            import os
            os.symlink(".", "loop")
            os.symlink({str(gradebook)!r}, "gradebook-link.db")
        """,
        "c_processes": f"""
            import subprocess, sys
            for _ in range(20):
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", {MARKER!r}],
                                 start_new_session=True)
            try:
                block = bytearray(5 * 1024 ** 3)
                print("BROKE-THROUGH 5 GB allocated")
            except MemoryError:
                print("BLOCKED 5 GB MemoryError")
        """,
        "d_kill_worker": """
            import os, signal
            for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
                try:
                    if b"helpers.instructor.worker" in open(f"/proc/{pid}/cmdline", "rb").read():
                        os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        """,
    }


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("isolation")
    root, course = _class(tmp, {})
    for student, code in _attacks(course).items():
        root.submit(student, filled_release(root.release_notebook(), _attacking(solution_sources(A), code)))
    import helpers

    watched = [Path(helpers.__file__).parent, course.folder("source"), course.folder("submitted")]
    before = _digest(*watched)
    outcomes = {o.student: o for o in grade(course, A, workers=1, progress=False, require_sandbox=True)}
    return course, outcomes, before, _digest(*watched), _survivors()


@needs_sandbox
def test_victims_graded_after_the_attackers_get_their_true_grades(attacked):
    _, outcomes, *_ = attacked
    for victim in ("z_victim1", "z_victim2"):
        assert _scores(outcomes, victim) == FULL and outcomes[victim].status == "graded", outcomes[victim]


@needs_sandbox
def test_the_sandbox_blocks_every_step(attacked):
    course, outcomes, *_ = attacked
    for student in ("b_files", "c_processes"):
        nb = nbformat.read(course.folder("autograded") / student / A / f"{A}.ipynb", as_version=4)
        text = cell_output_text(nb, "moving_average_kernel")
        assert "BLOCKED" in text and "BROKE-THROUGH" not in text, text
        assert _scores(outcomes, student) == FULL, outcomes[student]


@needs_sandbox
def test_hooks_the_grader_undoes_before_each_test_are_reported_and_cost_nothing(attacked):
    course, outcomes, *_ = attacked
    assert _scores(outcomes, "f_hooks") == FULL, outcomes["f_hooks"]
    nb = nbformat.read(course.folder("autograded") / "f_hooks" / A / f"{A}.ipynb", as_version=4)
    text = cell_output_text(nb, "test_moving_average_kernel")
    for hook in ("input_transformers_cleanup", "ast_transformers", "sys.path", "a torch function mode",
                 "a trace or profile function"):
        assert hook in text, text


@needs_sandbox
def test_a_hook_the_grader_cannot_undo_zeroes_the_tests_after_it_and_is_flagged(attacked):
    course, outcomes, *_ = attacked
    assert _scores(outcomes, "g_thread") == {gid: 0 for gid in FULL}, outcomes["g_thread"]
    assert any("a thread the notebook started" in p for p in outcomes["g_thread"].problems), outcomes["g_thread"]
    with course.gradebook() as gb:
        grades = [g for nb in gb.find_submission(A, "g_thread").notebooks for g in nb.grades]
        assert all(g.needs_manual_grade for g in grades if g.name in FULL)


@needs_sandbox
def test_a_kernel_that_kills_its_worker_costs_only_its_own_submission(attacked):
    _, outcomes, *_ = attacked
    assert outcomes["d_kill_worker"].status == "failed" and outcomes["d_kill_worker"].score == 0


@needs_sandbox
def test_helpers_solutions_and_classmates_files_are_unchanged(attacked):
    _, _, before, after, _ = attacked
    assert after == before


@needs_sandbox
def test_no_process_of_an_attacker_survives(attacked):
    assert attacked[4] == []


@needs_sandbox
def test_links_left_in_the_work_folder_cost_at_most_the_submission_that_made_them(attacked):
    course, outcomes, *_ = attacked
    assert outcomes["e_links"].status in ("graded", "failed")
    folder = course.folder("autograded") / "e_links" / A
    assert not any(p.is_symlink() for p in folder.iterdir()) if folder.exists() else True
    assert os.access(course.root / "gradebook.db", os.W_OK)


def test_copying_results_back_never_follows_or_copies_a_link(tmp_path):
    from helpers.instructor.autograde import _publish

    root = CourseRoot.create(tmp_path, A)
    course = Course(root.path)
    work = tmp_path / "work"
    folder = work / "autograded" / "eve" / A
    folder.mkdir(parents=True)
    (folder / "answer.txt").write_text("mine")
    os.symlink(".", folder / "loop")
    os.symlink(course.root / "gradebook.db", folder / "gradebook.db")
    os.symlink(course.folder("source"), folder / "solutions")
    _publish(course, work, A, "eve")
    published = course.folder("autograded") / "eve" / A
    assert sorted(p.name for p in published.iterdir()) == ["answer.txt"]
    (work / "autograded" / "mallory").symlink_to(course.folder("source"))
    _publish(course, work, A, "mallory")
    assert not (course.folder("autograded") / "mallory").exists(), "a linked student folder is not followed"


def test_the_gradebook_digest_sees_every_change_but_the_graders_own(tmp_path):
    from helpers.instructor.gradebook import Results, merge
    from helpers.instructor.integrity import gradebook_digest

    root = CourseRoot.create(tmp_path, A)
    course = Course(root.path)
    db = course.root / "gradebook.db"
    with course.gradebook() as gb:
        merge(gb, A, "bob", Results(), {A})  # a classmate graded in an earlier batch
    before = gradebook_digest(db, A, ["alice"])
    with course.gradebook() as gb:
        merge(gb, A, "alice", Results(), {A})  # what the grader writes for alice
    assert gradebook_digest(db, A, ["alice"]) == before
    with course.gradebook() as gb:
        gb.find_grade("test_pad", A, A, "alice").manual_score = 2  # nobody but a person writes this
        gb.db.commit()
    assert gradebook_digest(db, A, ["alice"]) != before
    with course.gradebook() as gb:
        gb.find_grade("test_pad", A, A, "alice").manual_score = None
        gb.find_grade("test_pad", A, A, "bob").auto_score = 0.5  # another student's row
        gb.db.commit()
    assert gradebook_digest(db, A, ["alice"]) != before


def test_a_change_to_the_gradebook_stops_the_batch_and_is_reported(tmp_path):
    """Unsandboxed (the sandbox would not let the kernel reach the gradebook)."""
    from helpers.instructor.integrity import TamperingError
    from helpers.instructor.report import read_report

    root, course = _class(tmp_path, {})
    tamper = f"""
        import sqlite3
        sqlite3.connect({str(course.root / "gradebook.db")!r}).execute(
            "UPDATE grade SET manual_score = 0").connection.commit()
    """
    root.submit("m_tamper", filled_release(root.release_notebook(), _attacking(solution_sources(A), tamper)))
    root.submit("a_early", filled_release(root.release_notebook(), solution_sources(A)))
    # a_early is graded in an earlier batch, so its rows exist whatever the order of the pool's threads
    # (within one batch the next kernel may run before the previous student's rows are merged)
    grade(course, A, students=["a_early"], workers=1, progress=False, sandboxed=False)
    with pytest.raises(TamperingError, match="the gradebook changed during grading, after grading m_tamper"):
        grade(course, A, students=["m_tamper", "z_victim1"], workers=1, progress=False, sandboxed=False)
    assert {o.student for o in read_report(course, A)} == {"a_early", "m_tamper"}, "graded before: reported"
