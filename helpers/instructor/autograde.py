"""Autograde a class in parallel worker processes, with nbgrader's own autograde, one submission at a time.

Each submission is graded in its own small work root (a temporary copy of the course's config,
the assignment's source and the gradebook without any student), by its own process
(:mod:`helpers.instructor.worker` calling ``NbGraderAPI.autograde``), ``workers`` at a time. So:

- a submission that crashes, hangs or tampers with files can only spoil its own work root; a
  process that runs past ``timeout`` is killed with its kernel, scores 0 and is flagged;
- the instructor's gradebook is written by this process only, one student at a time
  (:func:`helpers.instructor.gradebook.merge`): no lock contention, nothing lost or counted twice;
- students' code never runs in the course root, and never sees another student's submission;
- each worker's kernels are forks of a server that imported torch and the assignment's other
  numerical libraries once (:mod:`helpers.instructor.forkserver`), which saves about 3 s per
  notebook; ``fork_kernels=False`` starts every kernel afresh.

nbgrader has no parallel autograde of its own (its issue 174); this is that, on its API.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat

from .course import CONFIG_FILE, RESULT_PREFIX as PREFIX, Course, nbgrader_environment
from .forkserver import imported_modules
from .gradebook import Results, merge, read_results
from .report import Outcome, incidents, write_report
from .validate import Submission, validate, write

DEFAULT_TIMEOUT = 600  # seconds per submission; cells are limited by nbgrader's Execute.timeout


def _template(course: Course, assignment: str, dest: Path) -> Path:
    """A course root holding only the config, the assignment's source files (no notebook) and a gradebook
    without students (it holds the release's cells and hidden tests, never the solutions)."""
    from nbgrader.api import Gradebook

    dest.mkdir(parents=True)
    shutil.copy(course.root / CONFIG_FILE, dest / CONFIG_FILE)
    source = course.folder("source")
    # the source's other files (data) are copied into each autograded folder by nbgrader; its notebooks,
    # the solutions, stay out of reach of the code being graded
    shutil.copytree(source / assignment, dest / source.relative_to(course.root) / assignment,
                    ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    if not course.db_url.startswith("sqlite:///"):
        raise ValueError(f"grade: the gradebook must be SQLite to be copied to the workers, got {course.db_url}")
    shutil.copy(course.db_url[len("sqlite:///"):], dest / "gradebook.db")
    with Gradebook(f"sqlite:///{dest / 'gradebook.db'}") as gb:
        for student in [s.id for s in gb.students]:
            gb.remove_student(student)
    return dest


def _worker_env(workers: int) -> dict[str, str]:
    """Each worker's kernel gets its share of the cores (no oversubscription)."""
    env = nbgrader_environment()
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(name, threads)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc; kernels run in their own session, so killpg misses them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(proc: subprocess.Popen) -> None:
    for pid in [*_descendants(proc.pid), proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


class _Worker:
    """One grading process (:mod:`helpers.instructor.worker`), started again after it is killed."""

    def __init__(self, env: dict, log: Path, preload: list[str] | None = None):
        self.env, self.log, self.proc, self.lines = env, log, None, queue.Queue()
        self.command = [sys.executable, "-u", "-m", "helpers.instructor.worker"]
        if preload is not None:
            self.command += ["--preload", *preload]

    def _start(self) -> None:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(self.command, env=self.env,
                                         cwd=self.log.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True).start()

    @staticmethod
    def _read(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)  # the process ended

    def grade(self, root: Path, assignment: str, student: str, timeout: float) -> str | None:
        """Autograde ``student`` in ``root``; return why it failed, or None."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(json.dumps({"root": str(root), "assignment": assignment, "student": student}) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.close()
                return f"grading took more than {timeout:.0f} s and was stopped"
            if line is None:
                self.close()
                return "the grader process died"
            if line.startswith(PREFIX):
                result = json.loads(line[len(PREFIX):])
                if result["success"]:
                    return None
                return "nbgrader could not grade it: " + (result["error"].strip().splitlines() or ["?"])[-1][:300]

    def close(self) -> None:
        if self.proc is not None:
            _kill_tree(self.proc)
            self.proc = None


def _grade_one(course: Course, template: Path, work: Path, sub: Submission, workers: queue.Queue, timeout: float):
    """Grade one submission in a fresh copy of ``template``; return (results, error, seconds, root)."""
    from nbgrader.api import Gradebook

    start = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="student-", dir=work))
    results = Results()
    try:
        shutil.rmtree(root)
        shutil.copytree(template, root)
        submitted = root / course.folder("submitted").relative_to(course.root) / sub.student / sub.assignment
        write(sub, submitted, course.folder("submitted") / sub.student / sub.assignment)
        worker = workers.get()
        try:
            error = worker.grade(root, sub.assignment, sub.student, timeout)
        finally:
            workers.put(worker)
        if error is None:
            with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
                results = read_results(gb, sub.assignment, sub.student)
    except Exception as err:  # one broken submission must not stop the class
        error = f"the grader failed on this submission ({type(err).__name__}: {err})"
    return results, error, time.perf_counter() - start, root


def _publish(course: Course, root: Path | None, assignment: str, student: str) -> None:
    """Replace the student's autograded/ folder in the course root by the work root's (None: remove it)."""
    rel = course.folder("autograded").relative_to(course.root) / student / assignment
    target = course.root / rel
    if target.exists():
        shutil.rmtree(target)
    if root is not None and (root / rel).is_dir():
        shutil.copytree(root / rel, target)


def _record(course: Course, gb, sub: Submission, results: Results, error: str | None, seconds: float) -> Outcome:
    failed = set(sub.missing)
    problems = list(sub.problems)
    if error:
        failed |= set(sub.notebooks)
        problems.append(f"{error}: 0 points, flagged for a manual look")
    for name in sub.notebooks:
        if not error and not results.complete(name):
            failed.add(name)
            problems.append(f"{name}: nbgrader saved no score for some cells: 0 points, flagged for a manual look")
    for name in sub.notebooks:
        problems += incidents(course.folder("autograded") / sub.student / sub.assignment / f"{name}.ipynb")
    stored = merge(gb, sub.assignment, sub.student, results, failed)
    status = "missing" if not sub.notebooks else "failed" if failed - set(sub.missing) else (
        "repaired" if sub.problems else "graded")
    return Outcome(sub.student, status, problems, stored, round(seconds, 2))


def _preload(course: Course, assignment: str) -> list[str]:
    """The numerical modules the assignment's notebooks import (the instructor's source, not students')."""
    sources = []
    for name in course.notebook_names(assignment):
        nb = nbformat.read(course.folder("source") / assignment / f"{name}.ipynb", as_version=4)
        sources += [cell.source for cell in nb.cells if cell.cell_type == "code"]
    return imported_modules(sources)


def grade(course: Course, assignment: str, students: list[str] | None = None, workers: int = 1,
          timeout: float = DEFAULT_TIMEOUT, progress: bool = True, keep: Path | None = None,
          fork_kernels: bool = True, scheduler=None, resume: bool = False) -> list[Outcome]:
    """Validate and autograde ``students`` (default: everyone in submitted/) of ``assignment``.

    Returns one :class:`Outcome` per student, sorted by student; writes the gradebook, autograded/
    and ``grading/<assignment>.json`` (the report) in the course root. ``keep``: a folder where the
    work roots are left for inspection (default: a temporary folder, removed). ``fork_kernels``:
    kernels are forks of a server that imported the libraries once (Linux; elsewhere, and with False,
    every kernel starts afresh). ``scheduler``: grade on a Dask cluster instead (an address, "local",
    a Cluster or a Client; :mod:`helpers.instructor.distributed`), where ``resume`` skips the
    submissions already merged.
    """
    from nbgrader.api import MissingEntry
    from tqdm.auto import tqdm

    course.notebook_names(assignment)  # a clear error for an unknown assignment
    submitted = course.students(assignment)
    unknown = sorted(set(students or []) - set(submitted))
    if unknown:
        raise ValueError(f"grade: no submission of {assignment} from {', '.join(unknown)} "
                         f"in {course.folder('submitted')}")
    students = sorted(students if students is not None else submitted)
    with course.gradebook() as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            raise ValueError(f"grade: {assignment} is not in the gradebook {course.db_url}: "
                             f"run `cnn-course release {assignment}` first") from None
    subs = [validate(course, assignment, s) for s in students]
    if scheduler is not None:
        from .distributed import grade_on_cluster

        return grade_on_cluster(course, assignment, subs, scheduler, workers=workers, timeout=timeout,
                                progress=progress, fork_kernels=fork_kernels, resume=resume)
    if resume:
        raise ValueError("grade: resume works with a scheduler (--scheduler); local grading regrades everyone")
    outcomes = {}
    with tempfile.TemporaryDirectory(prefix="cnn-course-grading-") as tmp:
        work = Path(keep) if keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        template = _template(course, assignment, Path(tempfile.mkdtemp(prefix="template-", dir=work)) / "root")
        preload = _preload(course, assignment) if fork_kernels else None
        processes = [_Worker(_worker_env(workers), work / f"worker{i}.log", preload) for i in range(max(1, workers))]
        idle: queue.Queue = queue.Queue()
        for process in processes:
            idle.put(process)
        try:
            with course.gradebook() as gb:
                for sub in (s for s in subs if not s.gradeable):
                    _publish(course, None, assignment, sub.student)
                    outcomes[sub.student] = _record(course, gb, sub, Results(), None, 0.0)
                todo = [s for s in subs if s.gradeable]
                with ThreadPoolExecutor(len(processes)) as pool, tqdm(
                        total=len(todo), desc=f"grading {assignment}", unit="nb", disable=not progress) as bar:
                    futures = {pool.submit(_grade_one, course, template, work, s, idle, timeout): s for s in todo}
                    for future in as_completed(futures):
                        sub = futures[future]
                        results, error, seconds, root = future.result()
                        _publish(course, root, assignment, sub.student)
                        outcomes[sub.student] = _record(course, gb, sub, results, error, seconds)
                        if not keep:
                            shutil.rmtree(root, ignore_errors=True)
                        bar.update()
        finally:
            for process in processes:
                process.close()
    ordered = [outcomes[s] for s in students]
    write_report(course, assignment, ordered)
    return ordered
