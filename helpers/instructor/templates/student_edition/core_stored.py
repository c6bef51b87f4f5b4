

# =========================================================================== the student edition
# This edition ships no answer of a graded exercise. When the instructor built it, each exercise's
# fixed cases (``cases(None)``) were run through the course's answer and through every known
# mistake; ``expected/<module>.pt`` holds those outputs. The self-check compares the student's
# output with the stored expected value and names the mistake whose stored output it reproduces.
# The rules (from scratch, vectorised, causal, bad input refused ...) run on the student's function
# as in the instructor's edition. There are no hidden tests here: the instructor grades with them.
_EXPECTED_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "expected")


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


def _stored_diagnosis(self: Exercise, index: int, got: Any, expected: Any) -> str | None:
    """The first mistake whose stored output on case ``index`` is ``got`` (and is not the expected one)."""
    for mistake, outputs in zip(self.mistakes, self.stored["mistakes"]):
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
    with (self.context(student) if self.context else contextlib.nullcontext()):
        for index, (case, expected) in enumerate(zip(cases, stored["expected"])):
            got = call_student(self.name, student, case, expected)
            problem = self.compare(got, expected)
            if problem is not None:
                raise CheckFailure(_failure(self.name, case, expected, describe(got), problem,
                                            _stored_diagnosis(self, index, got, expected)))
        return self._run_rules(student, cases)


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
