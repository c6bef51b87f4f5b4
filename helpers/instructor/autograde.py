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
import secrets
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
from . import sandbox
from .forkserver import LIMITS_ENV, imported_modules
from .gradebook import Results, merge, read_results
from .integrity import TamperingError, Watch
from .preprocessors import hooked_cells
from .report import Outcome, incidents, write_report
from .sandbox import KernelLimits, descendants as _descendants
from .validate import Submission, validate, write

DEFAULT_TIMEOUT = 600  # seconds per submission; cells are limited by nbgrader's Execute.timeout


def _gradebook_file(course: Course) -> Path:
    if not course.db_url.startswith("sqlite:///"):
        raise ValueError(f"grade: the gradebook must be SQLite (copied to the workers, verified by digest), "
                         f"got {course.db_url}")
    return Path(course.db_url[len("sqlite:///"):])


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
    shutil.copy(_gradebook_file(course), dest / "gradebook.db")
    with Gradebook(f"sqlite:///{dest / 'gradebook.db'}") as gb:
        for student in [s.id for s in gb.students]:
            gb.remove_student(student)
    return dest


def _worker_env(workers: int, limits: KernelLimits) -> dict[str, str]:
    """Each worker's kernel gets its share of the cores (no oversubscription) and ``limits``."""
    env = nbgrader_environment()
    env[LIMITS_ENV] = limits.env()
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(name, threads)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and everything below it (kernels run in their own session, so killpg misses them)."""
    for pid in [*_descendants(proc.pid), proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


class _Worker:
    """One grading process (:mod:`helpers.instructor.worker`), started again after it is killed.

    It grades in work roots inside its own ``folder`` (in ``sandboxed`` mode the only folder it and its
    kernels can write). It answers on a pipe of its own; its stdout and stderr, which its kernels
    share, go to ``log``. An answer counts only if it carries the request's random token and student.
    """

    def __init__(self, env: dict, log: Path, folder: Path, preload: list[str] | None = None, sandboxed: bool = False):
        self.env, self.log, self.folder, self.sandboxed = env, log, folder, sandboxed
        self.proc, self.lines = None, queue.Queue()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.command = [sys.executable, "-u", "-m", "helpers.instructor.worker"]
        if preload is not None:
            self.command += ["--preload", *preload]

    def _start(self) -> None:
        read, write = os.pipe()
        command = [*self.command, "--result-fd", str(write)]
        if self.sandboxed:
            command = sandbox.command(self.folder, command)
        try:
            with open(self.log, "a") as log:
                self.proc = subprocess.Popen(command, env=self.env, cwd=self.folder, stdin=subprocess.PIPE,
                                             stdout=log, stderr=log, text=True, bufsize=1, pass_fds=(write,))
        finally:
            os.close(write)  # the worker holds the only writing end: at its death the reader sees the end
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(os.fdopen(read, "r"), self.lines), daemon=True).start()

    @staticmethod
    def _read(stream, lines: queue.Queue) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)  # the process ended

    def grade(self, root: Path, assignment: str, student: str, timeout: float) -> str | None:
        """Autograde ``student`` in ``root``; return why it failed, or None."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        token = secrets.token_hex(16)
        request = {"root": str(root), "assignment": assignment, "student": student, "token": token}
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except OSError:  # it died between two submissions
            self.close()
            return "the grader process died"
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
            result = self._answer(line, token, student)
            if result is not None:
                if result["success"]:
                    return None
                return "nbgrader could not grade it: " + (result["error"].strip().splitlines() or ["?"])[-1][:300]

    def _answer(self, line: str, token: str, student: str) -> dict | None:
        """The answer in ``line`` if it is the one to this request, else None (and a note in the log)."""
        try:
            result = json.loads(line[len(PREFIX):]) if line.startswith(PREFIX) else None
        except ValueError:
            result = None
        if isinstance(result, dict) and result.get("token") == token and result.get("student") == student:
            return result
        with open(self.log, "a") as log:
            log.write(f"grader: ignored a line on the result channel while grading {student}: {line[:200]!r}\n")
        return None

    def close(self) -> None:
        if self.proc is not None:
            _kill_tree(self.proc)
            self.proc = None


def _empty(folder: Path) -> None:
    """Remove everything in ``folder`` (never following a link)."""
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _grade_one(course: Course, template: Path, work: Path, sub: Submission, workers: queue.Queue, timeout: float):
    """Grade one submission in a fresh copy of ``template`` in a worker's folder; return (results, error,
    seconds, root). The root is moved out of the worker's folder before the worker grades another."""
    from nbgrader.api import Gradebook

    start = time.perf_counter()
    results, root = Results(), None
    try:
        worker = workers.get()
        try:
            root = Path(tempfile.mkdtemp(prefix="student-", dir=worker.folder))
            shutil.rmtree(root)
            shutil.copytree(template, root)
            submitted = root / course.folder("submitted").relative_to(course.root) / sub.student / sub.assignment
            write(sub, submitted, course.folder("submitted") / sub.student / sub.assignment)
            error = worker.grade(root, sub.assignment, sub.student, timeout)
        finally:
            try:
                if root is not None and root.exists():  # the worker killed every process of this submission
                    done = work / "done" / root.name
                    done.parent.mkdir(exist_ok=True)
                    os.replace(root, done)
                    root = done
                _empty(worker.folder)
            finally:
                workers.put(worker)
        if error is None:
            with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
                results = read_results(gb, sub.assignment, sub.student)
    except Exception as err:  # one broken submission must not stop the class
        error = f"the grader failed on this submission ({type(err).__name__}: {err})"
    return results, error, time.perf_counter() - start, root


def _no_links(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if os.path.islink(os.path.join(folder, n))]


def _publish(course: Course, root: Path | None, assignment: str, student: str) -> None:
    """Replace the student's autograded/ folder in the course root by the work root's (None: remove it).

    Links are never followed nor copied (a link to the gradebook, or a loop, stays in the work root)."""
    rel = course.folder("autograded").relative_to(course.root) / student / assignment
    target = course.root / rel
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    if root is None or any((root / Path(*rel.parts[:i + 1])).is_symlink() for i in range(len(rel.parts))):
        return
    if (root / rel).is_dir():
        shutil.copytree(root / rel, target, ignore=_no_links)


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
    manual = set()
    for name in sub.notebooks:
        path = course.folder("autograded") / sub.student / sub.assignment / f"{name}.ipynb"
        problems += incidents(path)
        hooked = hooked_cells(nbformat.read(path, as_version=4)) if path.is_file() and not error else {}
        manual |= set(hooked)
        problems += [f"{name}: test cell {gid}: {reason}: 0 points" for gid, reason in hooked.items()]
    stored = merge(gb, sub.assignment, sub.student, results, failed, manual)
    status = "missing" if not sub.notebooks else "failed" if failed - set(sub.missing) else (
        "repaired" if sub.problems else "graded")
    return Outcome(sub.student, status, problems, stored, round(seconds, 2))


def _finish(course: Course, gb, sub: Submission, results: Results, error: str | None, seconds: float,
            root: Path | None) -> Outcome:
    """Publish and record one student's results; a failure there costs this student only (flagged)."""
    try:
        _publish(course, root, sub.assignment, sub.student)
    except Exception as err:  # noqa: BLE001 - a broken autograded/ folder of one student
        error = error or f"its results could not be copied to autograded/ ({type(err).__name__}: {err})"
        results = Results()
    try:
        return _record(course, gb, sub, results, error, seconds)
    except Exception as err:  # noqa: BLE001
        gb.db.rollback()
        problem = f"its results could not be recorded ({type(err).__name__}: {err}): flagged for a manual look"
        return Outcome(sub.student, "failed", [*sub.problems, problem], {}, round(seconds, 2))


def _watch(course: Course, assignment: str, students: list[str]) -> Watch:
    """Digests of what no submission may change: the checks (the helpers package graded code imports, and
    the course root's own ``helpers/``), the solutions and the gradebook's rows the grader does not write."""
    import helpers

    folders = {"helpers/ (imported)": Path(helpers.__file__).resolve().parent,
               "helpers/ (course root)": course.root / "helpers", "solutions/": course.folder("source")}
    return Watch(folders, _gradebook_file(course), assignment, students)


def _preload(course: Course, assignment: str) -> list[str]:
    """The numerical modules the assignment's notebooks import (the instructor's source, not students')."""
    sources = []
    for name in course.notebook_names(assignment):
        nb = nbformat.read(course.folder("source") / assignment / f"{name}.ipynb", as_version=4)
        sources += [cell.source for cell in nb.cells if cell.cell_type == "code"]
    return imported_modules(sources)


def use_sandbox(sandboxed: bool | None, require_sandbox: bool) -> bool:
    """Whether to grade in bubblewrap sandboxes: ``sandboxed`` None means where available; a missing
    sandbox is refused with ``require_sandbox`` and otherwise said loudly on stderr."""
    ok, why = sandbox.available()
    if sandboxed is False:
        ok, why = False, "sandboxed=False was asked for"
    if sandboxed and not ok or require_sandbox and not ok:
        raise RuntimeError(f"grade: no sandbox ({why}); install bubblewrap (apt-get install bubblewrap) and allow "
                           "unprivileged user namespaces, or grade without --require-sandbox")
    if not ok:
        print(sandbox.UNSANDBOXED.format(why=why), file=sys.stderr, flush=True)
    return ok


def grade(course: Course, assignment: str, students: list[str] | None = None, workers: int = 1,
          timeout: float = DEFAULT_TIMEOUT, progress: bool = True, keep: Path | None = None,
          fork_kernels: bool = True, sandboxed: bool | None = None, require_sandbox: bool = False,
          limits: KernelLimits = KernelLimits(), scheduler=None, resume: bool = False) -> list[Outcome]:
    """Validate and autograde ``students`` (default: everyone in submitted/) of ``assignment``.

    Returns one :class:`Outcome` per student, sorted by student; writes the gradebook, autograded/
    and ``grading/<assignment>.json`` (the report) in the course root. ``keep``: a folder where the
    work roots are left for inspection (default: a temporary folder, removed). ``fork_kernels``:
    kernels are forks of a server that imported the libraries once (Linux; elsewhere, and with False,
    every kernel starts afresh). ``sandboxed``: each worker runs in a bubblewrap sandbox
    (:mod:`helpers.instructor.sandbox`; None: where available, else a loud warning); ``require_sandbox``
    refuses to grade without one. ``limits``: each kernel's memory, processes and CPU time.
    ``scheduler``: grade on a Dask cluster instead (an address, "local", a Cluster or a Client;
    :mod:`helpers.instructor.distributed`; the sandbox is then the workers'), where ``resume`` skips
    the submissions already merged.
    """
    from nbgrader.api import MissingEntry
    from tqdm.auto import tqdm

    course.notebook_names(assignment)  # a clear error for an unknown assignment
    if scheduler is None:  # on a cluster, the workers' sandboxes (helpers.instructor.distributed)
        sandboxed = use_sandbox(sandboxed, require_sandbox)
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
                                progress=progress, fork_kernels=fork_kernels, resume=resume, sandboxed=sandboxed,
                                require_sandbox=require_sandbox, limits=limits)
    if resume:
        raise ValueError("grade: resume works with a scheduler (--scheduler); local grading regrades everyone")
    outcomes = {}
    watch = _watch(course, assignment, students)
    with tempfile.TemporaryDirectory(prefix="cnn-course-grading-") as tmp:
        work = Path(keep) if keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        template = _template(course, assignment, Path(tempfile.mkdtemp(prefix="template-", dir=work)) / "root")
        preload = _preload(course, assignment) if fork_kernels else None
        processes = [_Worker(_worker_env(workers, limits), work / f"worker{i}.log", work / f"worker{i}", preload,
                             sandboxed) for i in range(max(1, workers))]
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
                    try:
                        for future in as_completed(futures):
                            sub = futures[future]
                            results, error, seconds, root = future.result()
                            outcomes[sub.student] = _finish(course, gb, sub, results, error, seconds, root)
                            if root is not None and not keep:
                                shutil.rmtree(root, ignore_errors=True)
                            bar.update()
                            watch.verify(after=f"grading {sub.student}")
                    except TamperingError:  # stop now: no other submission is graded
                        for future in futures:
                            future.cancel()
                        for process in processes:
                            process.close()
                        write_report(course, assignment, [outcomes[s] for s in students if s in outcomes])
                        raise
        finally:
            for process in processes:
                process.close()
    ordered = [outcomes[s] for s in students]
    write_report(course, assignment, ordered)
    return ordered
