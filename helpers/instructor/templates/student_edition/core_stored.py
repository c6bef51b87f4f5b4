

# =========================================================================== the student edition
# This edition ships no answer of a graded exercise. When the instructor built it, each exercise's
# fixed cases (``cases(None)``) were run through the course's answer and through every known
# mistake; ``expected/<module>.pt`` holds those outputs. The self-check compares the student's
# output with the stored expected value and names the mistake whose stored output it reproduces.
# The rules (from scratch, vectorised, causal, bad input refused ...) run on the student's function
# as in the instructor's edition. There are no hidden tests here: the instructor grades with them.
_EXPECTED_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "expected")
_HELPERS_DIR = os.path.dirname(os.path.dirname(_EXPECTED_DIR))
# the demonstrations' stored outputs (edition.STORED_FILE): like expected/, a file only this edition has
_STORED_OUTPUTS = os.path.join(_HELPERS_DIR, "data", "stored_outputs.pt")
_READS_STORED = ("{name}: likely mistake: it reads the student edition's stored values ({what}), which the "
                 "grader does not have: this answer would score 0 there. Compute the result yourself")


def use_stored(namespace: dict, module: str) -> None:
    """Give every :class:`Exercise` in a checks module's ``namespace`` its stored outputs.

    Args:
        namespace: the module's ``globals()``.
        module: the checks module's name, e.g. ``"signals"`` (reads ``expected/signals.pt``).
    """
    table = torch.load(os.path.join(_EXPECTED_DIR, f"{module}.pt"), weights_only=True)
    for key, value in exercises_in(namespace, Exercise):  # noqa: F821 (appended below by the builder)
        if key in table:
            value.stored = table[key]


class _Withheld:
    """An exercise's ``stored`` while the student's function runs: reading it is noted in ``reads``, and fails."""

    def __init__(self, name: str, stored: dict, reads: list[str]):
        self.name, self.stored, self.reads = name, stored, reads

    def __getitem__(self, key):
        if not _called_from_the_students_code():  # a stand-in of the course (refused as a course version)
            return self.stored[key]
        _refuse(self.reads, self.name, f"the self-check's expected {key!r}")


def _refuse(reads: list[str], name: str, what: str):
    """Note in ``reads`` that the student's code read ``what`` (a stored value), and fail."""
    reads.append(_READS_STORED.format(name=name, what=what))
    raise CheckFailure(reads[-1])


def _called_from_the_students_code() -> bool:
    """Whether the function that called our caller is outside this edition's ``helpers`` (the notebook's)."""
    caller = sys._getframe(2).f_code.co_filename
    return not os.path.realpath(caller).startswith(_HELPERS_DIR + os.sep)


@contextlib.contextmanager
def _nothing_stored_readable(exercise: Exercise, reads: list[str]):
    """While the student's function runs, its own code cannot read the values only this edition has: the
    exercise's stored expected values, and (``torch.load``) the files expected/*.pt and data/stored_outputs.pt.
    The edition's stand-ins (code in ``helpers``) still can.

    An answer that reads them would pass here and score 0 in the instructor's grading, which has none of them
    (a demonstration's stand-in shows how; copying its body is not an answer). Each read is noted in ``reads``.
    """
    import torch.serialization

    saved, load = exercise.stored, torch.serialization.load

    def guarded_load(f, *args, **kwargs):
        path = os.path.realpath(f) if isinstance(f, (str, os.PathLike)) else ""
        if (path == _STORED_OUTPUTS or path.startswith(_EXPECTED_DIR + os.sep)) and _called_from_the_students_code():
            _refuse(reads, exercise.name, os.path.basename(path))
        return load(f, *args, **kwargs)

    exercise.stored = _Withheld(exercise.name, saved, reads)
    torch.load = torch.serialization.load = guarded_load
    try:
        yield
    finally:
        exercise.stored, torch.load, torch.serialization.load = saved, load, load


def _stored_diagnosis(self: Exercise, stored: dict, index: int, got: Any, expected: Any) -> str | None:
    """The first mistake whose stored output on case ``index`` is ``got`` (and is not the expected one)."""
    for mistake, outputs in zip(self.mistakes, stored["mistakes"]):
        status, wrong = outputs[index]
        if status == "ok" and _same(got, wrong, self.compare) and not _same(wrong, expected, self.compare):
            return mistake.explain
    return None


def _run_stored(self: Exercise, student: Callable, gen: torch.Generator | None) -> list[str]:
    if gen is not None:
        raise CheckFailure(f"{self.name}: the student edition has no hidden tests; submit to be graded")
    if not callable(student):
        raise CheckFailure(f"{self.name}: expected a function, got {type(student).__name__}; "
                           "did you run the cell that defines it?")
    stored = getattr(self, "stored", None)
    if stored is None:  # the builder said so: its outputs are not plain data (e.g. a model)
        raise CheckFailure(f"{self.name}: this self-check has no stored values in the student edition, so it "
                           "cannot run here; your instructor's grading still checks it (tell your instructor)")
    if "cases" in stored:  # the inputs were stored too (plain data)
        cases = [Case(args, kwargs, label) for args, kwargs, label in stored["cases"]]
    else:
        cases = self.cases(None)
    if [case.show() for case in cases] != stored["shows"]:
        raise RuntimeError(f"{self.name}: the stored expected values do not match this self-check's cases; "
                           "the student edition is out of date (ask your instructor to rebuild it)")
    reads: list[str] = []
    try:
        with _nothing_stored_readable(self, reads), (self.context(student) if self.context else contextlib.nullcontext()):
            for index, (case, expected) in enumerate(zip(cases, stored["expected"])):
                got = call_student(self.name, student, case, expected)
                problem = self.compare(got, expected)
                if problem is not None:
                    raise CheckFailure(_failure(self.name, case, expected, describe(got), problem,
                                                _stored_diagnosis(self, stored, index, got, expected)))
            return self._run_rules(student, cases)
    except CheckFailure:
        if reads:  # the likely mistake, whatever the student's code made of the refusal
            raise CheckFailure(reads[0]) from None
        raise


Exercise._run = _run_stored


# A check that binds the course's version of an earlier exercise (``pad`` while ``conv1d`` is
# checked, the course's features while the shape classifier is) gets its library stand-in here;
# where this edition has no stand-in, only a stub, the student's own version is used instead.
_STUB = "the student edition does not include the course's answer"
_swapped_globals_with_the_course = swapped_globals


def _ours_else_yours(ours: Callable, yours: Callable) -> Callable:
    def call(*args, **kwargs):
        try:
            return ours(*args, **kwargs)
        except NotImplementedError as exc:
            if _STUB not in str(exc):
                raise
            return yours(*args, **kwargs)
    return call


def swapped_globals(fn: Callable, **names: Any):  # noqa: F811 (the student edition's version)
    """Like the instructor's: bind ``names`` in ``fn``'s globals, falling back to the student's own
    function where the course's is a stub in this edition."""
    namespace = getattr(fn, "__globals__", None) or {}
    names = {k: _ours_else_yours(v, namespace[k]) if callable(v) and callable(namespace.get(k)) else v
             for k, v in names.items()}
    return _swapped_globals_with_the_course(fn, **names)
