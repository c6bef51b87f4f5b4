"""Grade a class on a Dask distributed cluster: the same grading as on one machine, on many.

``grade(course, A, scheduler="tcp://host:8786")`` (``cnn-course grade A --scheduler ADDRESS``)
validates every submission on the instructor's machine, then sends each one to the cluster as a
task. A Dask worker grades it exactly as a local worker does (:func:`autograde._grade_one`: a
fresh work root made from the instructor's template, nbgrader's autograde in a grading process
whose kernels are forks of one that imported torch) and returns a :class:`Record`; the
instructor's machine merges records into its gradebook one student at a time, as local grading
does. So the grades are the same, wherever a submission was graded.

What travels, as bytes, never through a shared file system:

- to the workers: the template (the config, the assignment's data files, the gradebook without
  students; never the solutions), once per run and worker (``scatter``), then each submission
  (its validated notebooks and other files);
- back: the scores per cell, the autograded folder's files, the error if any, the seconds.

Each Dask worker process keeps its grading processes (and their kernel servers) from one task to
the next, one per thread, created on its first task (:func:`_pool`).

Failures: a Dask worker that dies while grading is replaced by its nanny and the scheduler runs the
task again elsewhere, up to ``distributed.scheduler.allowed-failures`` times (a LocalCluster made
here allows 1: a second death reports the submission as failed, 0 points, flagged). A lost
scheduler stops the run with a message; the grades merged until then are kept, and every merge is
noted in ``grading/merged/<assignment>.jsonl`` with a digest of the submission and of the
instructor's files, so ``resume=True`` (``--resume``) grades only what is still missing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import shutil
import sys
import tarfile
import tempfile
import threading
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from .course import CONFIG_FILE, Course
from .gradebook import Results
from .report import Outcome, write_report
from .sandbox import UNSANDBOXED, KernelLimits
from .validate import Submission

LOCAL = "local"  # scheduler="local": a LocalCluster of ``workers`` processes on this machine
ALLOWED_FAILURES = 1  # a submission whose Dask worker died is graded once more, then reported


@dataclass(frozen=True)
class Options:
    """How a Dask worker grades: the same for every submission of a run (picklable, hashable)."""

    timeout: float = 600  # seconds per submission
    preload: tuple | None = None  # the modules forked kernels import in advance (None: plain kernels)
    env: tuple = ()  # (name, value) pairs added to the graders' environment
    sandbox: bool | None = None  # True: required, None: where the worker has bubblewrap, False: off
    limits: KernelLimits = KernelLimits()  # each kernel's memory, processes and CPU time


@dataclass
class Record:
    """What grading one submission produced: picklable, it comes back from a Dask worker."""

    student: str
    results: Results
    error: str | None
    seconds: float
    files: dict = field(default_factory=dict)  # the autograded folder: relative POSIX path -> bytes
    worker: str = ""  # the Dask worker that graded it


# -- files as bytes --------------------------------------------------------------------------------

def read_files(folder: Path) -> dict[str, bytes]:
    """Every regular file below ``folder`` as {relative POSIX path: content}; links are left out."""
    if not folder.is_dir() or folder.is_symlink():
        return {}
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any((folder / Path(*rel.parts[:i + 1])).is_symlink() for i in range(len(rel.parts))):
            continue
        if path.is_file():
            found[rel.as_posix()] = path.read_bytes()
    return found


def write_files(files: dict[str, bytes], folder: Path) -> None:
    """Write {relative path: content} below ``folder``; a path that would leave it is refused."""
    for rel, content in files.items():
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
            raise ValueError(f"write_files: {rel!r} is not a path inside the folder")
        target = folder.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def pack(folder: Path) -> bytes:
    """``folder`` as a gzipped tar (links left out)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for rel, content in read_files(folder).items():
            info = tarfile.TarInfo(rel)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def unpack(blob: bytes, folder: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        write_files({m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}, folder)


# -- digests: what a merged grade was computed from -----------------------------------------------

def instructor_digest(course: Course, assignment: str) -> str:
    """A digest of the config and the assignment's source folder (the hidden tests, the data files)."""
    digest = hashlib.sha256((course.root / CONFIG_FILE).read_bytes())
    for rel, content in sorted(read_files(course.folder("source") / assignment).items()):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def submission_digest(sub: Submission, extra: dict[str, bytes], instructor: str) -> str:
    """A digest of what is graded of ``sub`` (its validated notebooks, its other files) and of ``instructor``."""
    digest = hashlib.sha256(f"{instructor}\0{sub.student}\0{sub.assignment}\0{sorted(sub.missing)}".encode())
    for name in sorted(sub.notebooks):
        digest.update(name.encode() + b"\0" + nbformat.writes(sub.notebooks[name]).encode())
    for rel in sorted(extra):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(extra[rel]).digest())
    return digest.hexdigest()


# -- on a Dask worker ------------------------------------------------------------------------------

_STATE: dict = {"templates": {}, "pools": {}}  # this Dask worker process's templates and grading processes
_LOCK = threading.Lock()  # a Dask worker runs its tasks in threads


def _scratch() -> Path:
    from distributed import get_worker

    return Path(get_worker().local_directory) / "cnn-course"


def _unpacked(blob: bytes) -> Path:
    """The template unpacked once per Dask worker process (keyed by its content)."""
    key = hashlib.sha256(blob).hexdigest()
    with _LOCK:
        if key not in _STATE["templates"]:
            folder = Path(tempfile.mkdtemp(prefix="template-", dir=_mkdir(_scratch()))) / "root"
            unpack(blob, folder)
            _STATE["templates"][key] = folder
        return _STATE["templates"][key]


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sandboxed(request: bool | None) -> bool:
    """Whether this machine's graders run in sandboxes, for ``request`` (see :class:`Options`)."""
    from .sandbox import available

    ok, why = available()
    if request and not ok:
        raise RuntimeError(f"no sandbox on this Dask worker ({why}): install bubblewrap on every worker")
    return ok and request is not False


@contextmanager
def _pool(options: Options):
    """This Dask worker's grading processes for ``options``, one per thread, reused by every task.

    A process (in its sandbox, with its kernel server) starts on its first submission. When a run with
    other options comes (another assignment's preloads), the idle pools of the others are closed (a
    kernel server holds about 600 MiB); :class:`ClosePools` ends the rest with the worker.
    """
    from distributed import get_worker

    from .autograde import _Worker, _worker_env

    pools = _STATE["pools"]  # options -> [queue of idle grading processes, tasks using it]
    with _LOCK:
        if options not in pools:
            for other in [k for k, (_, users) in pools.items() if users == 0]:
                _close(pools.pop(other)[0])
            # the nanny gave this worker OMP_NUM_THREADS (1 by default): kept; else the cores shared out
            threads = get_worker().state.nthreads
            environment = {**_worker_env(threads, options.limits), **dict(options.env)}
            environment.pop("MALLOC_TRIM_THRESHOLD_", None)  # the nanny's, for its worker: kernels as locally
            sandboxed = _sandboxed(options.sandbox)
            preload = list(options.preload) if options.preload is not None else None
            folder = Path(tempfile.mkdtemp(prefix="pool-", dir=_mkdir(_scratch())))
            idle: queue.Queue = queue.Queue()
            for i in range(threads):
                idle.put(_Worker(environment, folder / f"grader{i}.log", folder / f"grader{i}", preload, sandboxed))
            pools[options] = [idle, 0]
        pools[options][1] += 1
    try:
        yield pools[options][0]
    finally:
        with _LOCK:
            pools[options][1] -= 1


def _close(idle: queue.Queue) -> None:
    while not idle.empty():
        idle.get_nowait().close()


def grade_remote(template: bytes, sub: Submission, extra: dict[str, bytes], options: Options) -> Record:
    """Grade ``sub`` on this Dask worker as a local worker would; ``extra``: its other files.

    The student's other files are put in a course root of their own (the config and them), from which
    :func:`autograde._grade_one` copies them into the fresh work root it grades in.
    """
    from distributed import get_worker

    from .autograde import _grade_one

    root = _unpacked(template)
    work = Path(tempfile.mkdtemp(prefix="task-", dir=_mkdir(_scratch())))
    try:
        origin = _mkdir(work / "origin")
        shutil.copy(root / CONFIG_FILE, origin / CONFIG_FILE)
        course = Course(origin)
        write_files(extra, course.folder("submitted") / sub.student / sub.assignment)
        with _pool(options) as graders:
            results, error, seconds, graded = _grade_one(course, root, work, sub, graders, options.timeout)
        autograded = course.folder("autograded").relative_to(course.root) / sub.student / sub.assignment
        files = read_files(graded / autograded) if graded is not None else {}
        return Record(sub.student, results, error, seconds, files, get_worker().address)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _close_pools() -> None:
    with _LOCK:
        for idle, _ in _STATE["pools"].values():
            _close(idle)
        _STATE["pools"].clear()


try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # dask is the optional extra `cluster`: local grading does without it
    WorkerPlugin = object


class ClosePools(WorkerPlugin):
    """Ends a Dask worker's grading processes (and their kernels) when the worker closes."""

    name = "cnn-course-close-pools"
    idempotent = True  # registered once per worker: a second run's registration must not end the first's pools

    def teardown(self, worker) -> None:
        _close_pools()


# -- the ledger of merged grades ---------------------------------------------------------------------

def ledger_path(course: Course, assignment: str) -> Path:
    return course.root / "grading" / "merged" / f"{assignment}.jsonl"


def read_ledger(course: Course, assignment: str) -> dict[str, tuple[str, Outcome]]:
    """{student: (submission digest, outcome)} of every merge noted; the last note of a student wins
    (a line cut short by a crash is skipped)."""
    path = ledger_path(course, assignment)
    found = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            note = json.loads(line)
        except ValueError:
            continue
        outcome = {**note["outcome"], "scores": {k: tuple(v) for k, v in note["outcome"]["scores"].items()}}
        found[note["student"]] = (note["digest"], Outcome(**outcome))
    return found


def _note(course: Course, assignment: str, digest: str, outcome: Outcome) -> None:
    path = ledger_path(course, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as ledger:
        ledger.write(json.dumps({"student": outcome.student, "digest": digest, "outcome": asdict(outcome)}) + "\n")


def _already_merged(course: Course, subs: list[Submission], digests: dict[str, str]) -> dict[str, Outcome]:
    """The outcomes of the students whose same submission, with the same instructor's files, is merged."""
    from nbgrader.api import MissingEntry

    noted = read_ledger(course, subs[0].assignment) if subs else {}
    done = {}
    with course.gradebook() as gb:
        for sub in subs:
            if sub.student not in noted or noted[sub.student][0] != digests[sub.student]:
                continue
            try:
                gb.find_submission(sub.assignment, sub.student)
            except MissingEntry:  # the gradebook was replaced since
                continue
            done[sub.student] = noted[sub.student][1]
    return done


# -- on the instructor's machine -------------------------------------------------------------------

@contextmanager
def connect(scheduler, workers: int = 2):
    """A Dask client for ``scheduler``: an address (``tcp://host:8786``), ``"local"`` (a LocalCluster of
    ``workers`` processes, one thread each, here), a Cluster object, or a Client (left open)."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise RuntimeError("grade: --scheduler needs Dask: pip install 'cnn-course[cluster]' "
                           "(or dask[distributed]) on this machine and on the workers") from None
    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler == LOCAL:
        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
        with cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler)  # waits distributed.comm.timeouts.connect (30 s) for it
    except OSError as err:
        raise RuntimeError(f"grade: cannot reach the Dask scheduler {scheduler} ({err}); start it with "
                           "`dask scheduler` (docs/instructors.md, 'Grading on a cluster')") from None
    with client:
        yield client


class SchedulerLost(RuntimeError):
    """The connection to the scheduler was lost during a run; merged grades are kept."""


def _failed(student: str, err: BaseException) -> Record:
    from distributed import KilledWorker

    if isinstance(err, KilledWorker):
        why = "the cluster's workers died while grading it, every time it was tried"
    else:
        why = f"the grading task failed on the cluster ({type(err).__name__}: {str(err)[:300]})"
    return Record(student, Results(), why, 0.0)


def grade_on_cluster(course: Course, assignment: str, subs: list[Submission], scheduler, workers: int = 2,
                     timeout: float = 600, progress: bool = True, fork_kernels: bool = True, resume: bool = False,
                     sandboxed: bool | None = None, require_sandbox: bool = False,
                     limits: KernelLimits = KernelLimits()) -> list[Outcome]:
    """Grade ``subs`` on the cluster of ``scheduler`` (see :func:`connect`), merging every record into the
    course's gradebook as it comes; write the report; return the outcomes in the order of ``subs``.

    ``resume``: skip the students whose same submission is merged already (noted in the ledger,
    present in the gradebook). ``sandboxed``, ``require_sandbox``, ``limits``: as in local grading, for
    the workers' sandboxes. Raises :class:`SchedulerLost` when the scheduler goes away, after writing
    the report of what was merged.
    """
    from ..notebook import FIGURES
    from .autograde import _preload

    options = Options(timeout, tuple(_preload(course, assignment)) if fork_kernels else None,
                      ((FIGURES, os.environ[FIGURES]),) if os.environ.get(FIGURES) else (),
                      False if sandboxed is False else True if sandboxed or require_sandbox else None, limits)
    outcomes: dict[str, Outcome] = {}
    try:
        _grade_on_cluster(course, assignment, subs, scheduler, workers, options, progress, resume, outcomes)
    finally:
        ordered = [outcomes[s.student] for s in subs if s.student in outcomes]
        write_report(course, assignment, ordered)
    return ordered


def _grade_on_cluster(course, assignment, subs, scheduler, workers, options: Options, progress, resume,
                      outcomes: dict[str, Outcome]) -> None:
    from tqdm.auto import tqdm

    from .autograde import _finish, _template as make_template

    instructor = instructor_digest(course, assignment)
    extras = {s.student: {rel: (course.folder("submitted") / s.student / assignment / rel).read_bytes()
                          for rel in s.files} for s in subs}
    digests = {s.student: submission_digest(s, extras[s.student], instructor) for s in subs}
    outcomes.update(_already_merged(course, subs, digests) if resume else {})
    todo = [s for s in subs if s.student not in outcomes]

    def merge(gb, sub: Submission, record: Record) -> None:
        with tempfile.TemporaryDirectory(prefix="record-") as tmp:
            rel = course.folder("autograded").relative_to(course.root) / sub.student / assignment
            write_files(record.files, Path(tmp) / rel)
            root = Path(tmp) if record.files else None
            outcomes[sub.student] = _finish(course, gb, sub, record.results, record.error, record.seconds, root)
        _note(course, assignment, digests[sub.student], outcomes[sub.student])

    with course.gradebook() as gb:
        for sub in (s for s in todo if not s.gradeable):
            merge(gb, sub, Record(sub.student, Results(), None, 0.0))
        todo = [s for s in todo if s.gradeable]
        if not todo:
            return
        with tempfile.TemporaryDirectory(prefix="cnn-course-template-") as tmp:
            template = pack(make_template(course, assignment, Path(tmp) / "root"))
        tasks = [(sub, extras[sub.student]) for sub in todo]
        with connect(scheduler, workers) as client, tqdm(total=len(todo), desc=f"grading {assignment}",
                                                         unit="nb", disable=not progress) as bar:
            _check_sandboxes(client, options.sandbox)
            for sub, record in _records(client, template, tasks, options):
                merge(gb, sub, record)
                bar.update()


def _sandbox_here() -> tuple[bool, str]:
    from .sandbox import available

    return available()


def _check_sandboxes(client, request: bool | None) -> None:
    """Refuse a run that requires sandboxes when a worker has none; say loudly when one grades without."""
    if request is False:
        return
    missing = {worker: why for worker, (ok, why) in client.run(_sandbox_here).items() if not ok}
    if missing and request:
        raise RuntimeError("grade: no sandbox on the Dask workers " + "; ".join(f"{w} ({why})" for w, why in
                           sorted(missing.items())) + ": install bubblewrap there, or grade without --require-sandbox")
    for worker, why in sorted(missing.items()):
        print(UNSANDBOXED.format(why=f"on the Dask worker {worker}: {why}"), file=sys.stderr, flush=True)


def _records(client, template: bytes, tasks: list, options: Options):
    """Yield (submission, record) as the cluster grades each of ``tasks`` [(submission, its other files)];
    a failed task is a failed record; a lost scheduler raises :class:`SchedulerLost`."""
    from distributed import as_completed
    from distributed.client import FutureCancelledError

    run = uuid.uuid4().hex[:8]
    done = 0
    try:
        client.register_plugin(ClosePools(), name=ClosePools.name)
        shared = client.scatter(template, broadcast=True)
        futures = {client.submit(grade_remote, shared, sub, extra, options, retries=1, pure=False,
                                 key=f"grade-{sub.assignment}-{sub.student}-{run}"): sub for sub, extra in tasks}
        for future in as_completed(futures):
            try:
                record = future.result()
            except (FutureCancelledError, OSError):  # the connection to the scheduler, not the task
                raise
            except Exception as err:  # noqa: BLE001 - this submission's task failed: reported, 0 points
                record = _failed(futures[future].student, err)
            done += 1
            yield futures[future], record
    except (FutureCancelledError, OSError) as err:
        raise SchedulerLost(
            f"grade: lost the Dask scheduler ({type(err).__name__}: {str(err)[:200]}); {done} of {len(tasks)} "
            f"submissions graded and merged (kept); run the same command with --resume to grade the "
            f"{len(tasks) - done} others") from None
