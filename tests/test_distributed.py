"""Grading on a Dask cluster (helpers.instructor.distributed): the same grades as local grading, a
worker killed mid-batch, a lost scheduler and the re-run that grades only what is missing.

Every assignment (tests/banks BANKS) gets a small class: correct, partial, broken and a submission
that is not a notebook; the reference is serial local grading (one worker), and one LocalCluster of 2
worker processes on this machine grades every assignment's class again. The engine's tests (a killed
worker, a lost scheduler, the re-run) use 03_pooling's class only: they test the engine, not the
assignment. Measured on 2 shared cores (load average 4-5): the whole file 476 s, the seven
assignments' grading 377 s of it (07_transfer_learning 125 s).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import nbformat
import pytest

from banks import BANKS
from nbgrading import CourseRoot, filled_release, read_scores, solution_sources

distributed = pytest.importorskip("distributed")

from helpers.instructor import Course, grade  # noqa: E402
from helpers.instructor.distributed import (Record, SchedulerLost, ledger_path, pack, read_files,  # noqa: E402
                                            read_ledger, unpack, write_files)

ASSIGNMENT = "03_pooling"  # the engine's tests (a killed worker, a lost scheduler) grade this one
STUDENTS = ["broken", "correct", "garbage", "partial"]


def _notebooks(release, assignment: str) -> dict:
    """A small class of ``assignment``: student -> notebook (the release's cells, answers typed in).

    correct: the instructor's answers; partial: the first known-wrong answer of the assignment's bank
    (tests/banks); broken: the untouched release. Nothing here names a cell of any notebook.
    """
    answers = solution_sources(assignment)
    mutant = BANKS[assignment][0]
    return {"correct": filled_release(release, answers),
            "partial": filled_release(release, {**answers, mutant.cell: mutant.apply(answers[mutant.cell])}),
            "broken": release}


def _submitted_class(tmp, assignment: str, notebooks: dict | None = None) -> tuple[CourseRoot, dict]:
    """A fresh course root of ``assignment`` with the class submitted, not graded yet; and its notebooks.

    The class: ``notebooks`` (default: :func:`_notebooks` of the new release) and 'garbage', whose
    submission is not a notebook (beside a student's other file).
    """
    root = CourseRoot.create(tmp, assignment)
    notebooks = _notebooks(root.release_notebook(), assignment) if notebooks is None else notebooks
    for student, nb in notebooks.items():
        root.submit(student, nb)
    garbage = root.path / "submitted" / "garbage" / assignment
    garbage.mkdir(parents=True)
    (garbage / f"{assignment}.ipynb").write_text("not a notebook")
    (garbage / "notes.txt").write_text("a student's other file")
    return root, notebooks


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """assignment -> (course root, its serial local grades, the class's notebooks), graded on first use.

    One serial grading per assignment for the whole module (03's is shared by the engine's tests).
    """
    graded: dict = {}

    def reference(assignment: str) -> tuple[CourseRoot, dict, dict]:
        if assignment not in graded:
            root, notebooks = _submitted_class(tmp_path_factory.mktemp(assignment), assignment)
            grade(Course(root.path), assignment, workers=1, progress=False)
            graded[assignment] = root, read_scores(root.path, assignment), notebooks
        return graded[assignment]

    return reference


@pytest.fixture(scope="module")
def reference(references):
    """03's course root, serial local grades and notebooks."""
    return references(ASSIGNMENT)


def _class(tmp_path, reference, assignment: str = ASSIGNMENT) -> Course:
    """A fresh course root with the same release and class as ``reference``, not graded yet."""
    return Course(_submitted_class(tmp_path, assignment, reference[2])[0].path)


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes, one thread each; a dead worker's task is run once more."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with local, Client(local) as client:
        yield client


def test_files_travel_as_bytes_without_links_or_escapes(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.ipynb").write_bytes(b"\x00{}")
    (tmp_path / "a" / "link").symlink_to(tmp_path / "a" / "b")
    (tmp_path / "a" / "file-link").symlink_to(tmp_path / "a" / "b" / "x.ipynb")
    assert read_files(tmp_path / "a") == {"b/x.ipynb": b"\x00{}"}
    unpack(pack(tmp_path / "a"), tmp_path / "copy")
    assert read_files(tmp_path / "copy") == {"b/x.ipynb": b"\x00{}"}
    for bad in ("../x", "/etc/x", "b/../../x"):
        with pytest.raises(ValueError, match="not a path inside"):
            write_files({bad: b""}, tmp_path / "c")


@pytest.mark.grading
def test_resume_needs_a_scheduler(reference):
    with pytest.raises(ValueError, match="resume works with a scheduler"):
        grade(Course(reference[0].path), ASSIGNMENT, resume=True, progress=False)


@pytest.mark.grading
@pytest.mark.parametrize("assignment", sorted(BANKS))
def test_a_cluster_of_two_workers_gives_the_grades_of_serial_local_grading(tmp_path, references, assignment,
                                                                          cluster):
    serial = references(assignment)
    total = {student: sum(score for score, _ in cells.values()) for student, cells in serial[1].items()}
    assert total["correct"] > max(total["partial"], total["broken"]), total  # the grades tell the class apart
    course = _class(tmp_path, serial, assignment)
    outcomes = grade(course, assignment, scheduler=cluster, progress=False)
    assert read_scores(course.root, assignment) == serial[1]
    assert {o.student: o.status for o in outcomes} == {"broken": "graded", "correct": "graded",
                                                       "garbage": "missing", "partial": "graded"}
    for student in ("correct", "partial", "broken"):  # the autograded notebooks came back
        nbformat.read(course.folder("autograded") / student / assignment / f"{assignment}.ipynb", as_version=4)
    assert sorted(read_ledger(course, assignment)) == STUDENTS


def _kill_when_grading(client, killed: list, deadline: float) -> None:
    """Kill (SIGKILL, by PID, once) the first Dask worker seen grading, a second into the submission."""
    def executing(dask_worker):
        return os.getpid(), [str(ts.key) for ts in dask_worker.state.executing]

    while time.monotonic() < deadline and not killed:
        for address, (pid, keys) in client.run(executing).items():
            if keys:
                time.sleep(1.0)
                os.kill(pid, signal.SIGKILL)
                killed.append((address, keys))
                return
        time.sleep(0.2)


@pytest.mark.grading
def test_a_worker_killed_mid_batch_costs_nothing(tmp_path, reference, cluster):
    course = _class(tmp_path, reference)
    killed: list = []
    killer = threading.Thread(target=_kill_when_grading, args=(cluster, killed, time.monotonic() + 120))
    killer.start()
    try:
        with distributed.get_task_stream(cluster) as stream:
            outcomes = grade(course, ASSIGNMENT, scheduler=cluster, progress=False)
    finally:
        killer.join()
    assert killed, "no worker was seen grading"
    dead, keys = killed[0]
    for key in keys:  # each task of the killed worker finished once, on another worker
        finished = [t["worker"] for t in stream.data if str(t["key"]) == key]
        assert len(finished) == 1 and finished[0] != dead, (key, finished, dead)
    assert read_scores(course.root, ASSIGNMENT) == reference[1]  # regraded elsewhere, nothing lost
    assert sorted(o.student for o in outcomes) == STUDENTS
    assert all(o.status != "failed" for o in outcomes), outcomes
    with course.gradebook() as gb:  # one submission per student, nothing counted twice
        assert sorted(s.student.id for s in gb.assignment_submissions(ASSIGNMENT)) == STUDENTS


@pytest.mark.grading
def test_a_rerun_after_a_lost_scheduler_grades_only_the_missing(tmp_path, reference, cluster):
    import dask
    from distributed import Client, LocalCluster

    course = _class(tmp_path, reference)
    with dask.config.set({"distributed.comm.timeouts.connect": "5s"}):
        lone = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(lone)

        def stop_after_the_first_grade():  # 'garbage' (nothing to grade) is merged first, then one graded
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and len(read_ledger(course, ASSIGNMENT)) < 2:
                time.sleep(0.1)
            lone.close()

        stopper = threading.Thread(target=stop_after_the_first_grade)
        stopper.start()
        try:
            with pytest.raises(SchedulerLost, match="run the same command with --resume"):
                grade(course, ASSIGNMENT, scheduler=client, progress=False)
        finally:
            stopper.join()
            client.close()
    merged = read_ledger(course, ASSIGNMENT)
    assert 2 <= len(merged) < 4, merged
    lines = len(ledger_path(course, ASSIGNMENT).read_text().splitlines())

    outcomes = grade(course, ASSIGNMENT, scheduler=cluster, progress=False, resume=True)
    notes = ledger_path(course, ASSIGNMENT).read_text().splitlines()
    regraded = [n for n in notes[lines:]]
    assert len(regraded) == 4 - len(merged), "the re-run graded submissions merged already"
    assert read_scores(course.root, ASSIGNMENT) == reference[1]
    assert sorted(o.student for o in outcomes) == STUDENTS


@pytest.mark.grading
def test_an_unreachable_scheduler_is_a_clear_error(reference, capsys):
    import dask

    from helpers.instructor.cli import main

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code = main(["--root", str(reference[0].path), "grade", ASSIGNMENT, "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2
    assert "cnn-course grade: grade: cannot reach the Dask scheduler tcp://127.0.0.1:9" in capsys.readouterr().err


def test_workers_without_a_sandbox_are_refused_when_one_is_required_and_named_otherwise(capsys):
    from helpers.instructor.distributed import _check_sandboxes

    class Client:  # what client.run(_sandbox_here) answers: one worker with bubblewrap, one without
        def run(self, function):
            return {"tcp://a:1": (True, ""), "tcp://b:2": (False, "bwrap is not installed")}

    with pytest.raises(RuntimeError, match=r"no sandbox on the Dask workers tcp://b:2 \(bwrap is not installed\)"):
        _check_sandboxes(Client(), True)
    _check_sandboxes(Client(), None)
    assert "UNSANDBOXED (on the Dask worker tcp://b:2: bwrap is not installed)" in capsys.readouterr().err
    _check_sandboxes(Client(), False)
    assert capsys.readouterr().err == ""


def test_a_record_pickles(tmp_path):
    import pickle

    from helpers.instructor.gradebook import Results

    record = Record("alice", Results(scores={"nb": {"test_a": 1.0}}), None, 1.5, {"nb.ipynb": b"{}"}, "tcp://w")
    assert pickle.loads(pickle.dumps(record)) == record
