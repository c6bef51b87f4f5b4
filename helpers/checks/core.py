"""The checks framework every exercise uses.

An exercise is checked by running the student's function and the reference on the same
:class:`Case` inputs. The first mismatch becomes a *counterexample* (input, expected, got), and
each known :class:`Mistake` (a small wrong implementation of the same contract) is run on that
input: when a mistake reproduces the student's output, its explanation is the likely mistake.

Two callers use the same engine:

- the visible self-check (``checks.signals.conv1d(conv1d)``) prints what it checked, or prints
  the counterexample with the likely mistake and raises :class:`CheckFailure`;
- the hidden grading checks (``fresh("signals").grade_conv1d(conv1d)``) run more cases (seeded
  random inputs, edge cases, the seed facts) plus the structural checks below, and raise on the
  first problem. They come from a fresh copy of this package (:func:`helpers.checks.fresh`) and
  first verify the comparison functions they use were not replaced (:func:`assert_untampered`).

Structural checks: :func:`calls_made` records every function a call runs (``sys.setprofile``),
so :func:`assert_from_scratch` catches a solution that calls ``F.conv1d`` or the reference even
under another name, and :func:`assert_vectorized` catches a Python loop over the positions.
:func:`aten_ops_made` records the ATen operators a call runs, however they were reached
(``F.conv2d`` on a 1 x N image, ``torch.ops.aten.convolution``, ``torch._convolution``, a layer
object), and :func:`names_in_source` reads the names a function's source uses; both feed
:func:`assert_from_scratch`. A function that switches off the recorders (``sys.setprofile``) is refused.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import inspect
import math
import os
import re
import sys
import textwrap
import threading
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = [
    "CheckFailure", "Case", "Mistake", "Rule", "Exercise", "run_cases", "call_student", "expect_error",
    "report_pass", "close", "describe", "not_implemented_by", "assert_not_the_course_version",
    "calls_made", "aten_ops_made", "is_convolution_op", "is_pooling_op", "names_in_source", "refuse_hooks",
    "assert_from_scratch", "assert_vectorized", "assert_untampered", "swapped_globals",
]


class CheckFailure(AssertionError):
    """A check found a wrong answer; the message says where and, when known, why.

    It is raised for students, so IPython shows only its message: ``_render_traceback_`` is the
    hook IPython calls instead of formatting the traceback, which would list the checks' own
    frames above the message.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {line}" if i == 0 else line
                for i, line in enumerate(str(self).splitlines() or [""])]


@dataclass
class Case:
    """One input of an exercise: ``args``/``kwargs`` for the function, ``label`` for people."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    def call(self, fn: Callable) -> Any:
        """``fn(*args, **kwargs)`` on deep copies, so neither side can change the other's input."""
        return fn(*copy.deepcopy(self.args), **copy.deepcopy(self.kwargs))

    def show(self) -> str:
        parts = [describe(a) for a in self.args] + [f"{k}={describe(v)}" for k, v in self.kwargs.items()]
        return ", ".join(parts)


@dataclass
class Mistake:
    """A known wrong answer: ``fn`` has the exercise's signature and makes the mistake ``explain`` names."""

    name: str
    explain: str
    fn: Callable


# --------------------------------------------------------------------------------------- display
def describe(value: Any, limit: int = 8) -> str:
    """A short, readable form of a value: a tensor's shape, dtype and first ``limit`` values.

    Never more than one line: a counterexample shows where two answers differ, not whole tensors.
    """
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().reshape(-1)
        items = [_num(v) for v in flat[:limit].tolist()]
        more = ", ..." if flat.numel() > limit else ""
        body = f"[{', '.join(items)}{more}]"
        if value.dim() == 1 and not more and value.dtype in (torch.float64, torch.float32):
            return body
        return f"tensor {tuple(value.shape)} {str(value.dtype).replace('torch.', '')} {body}"
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, (list, tuple)) and len(value) > limit:
        return f"{type(value).__name__} of {len(value)}: {', '.join(describe(v) for v in value[:limit])}, ..."
    if type(value) is tuple and any(isinstance(v, torch.Tensor) for v in value):  # (shapes, output): one line
        return f"({', '.join(describe(v, limit) for v in value)})"
    if isinstance(value, torch.nn.Module):
        return f"{type(value).__name__} module"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _num(v: Any, digits: int = 4) -> str:
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def _pair(expected: Any, got: Any) -> tuple[str, str]:
    """Both numbers with the fewest digits (at least 4) that make them print differently when they differ."""
    for digits in range(4, 18):
        e, g = _num(expected, digits), _num(got, digits)
        if e != g or expected == got:
            return e, g
    return repr(expected), repr(got)


def _where(got: torch.Tensor, expected: torch.Tensor, index: tuple[int, ...]) -> str:
    e, g = _pair(expected[index].item(), got[index].item())
    return f"first at index {index}: expected {e}, got {g}"


# ------------------------------------------------------------------------------------ comparing
def close(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4, dtype: bool = False,
          parts: Sequence[str] = ()) -> str | None:
    """``None`` when ``got`` matches ``expected``, else a sentence saying how it differs.

    Types are compared exactly (a ``torch.Tensor`` subclass or an ``int`` subclass whose
    comparisons could lie is refused). With ``dtype=True`` a tensor must also have the expected
    dtype (contracts that say "same dtype as x"). ``parts`` names the items of a tuple result
    (``("dx", "dw", "db")``) in the message.
    """
    if isinstance(expected, torch.Tensor):
        return _close_tensor(got, expected, atol, rtol, dtype)
    if isinstance(expected, tuple):  # several results, e.g. the gradients (dx, dw, db)
        if type(got) not in (tuple, list) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} values, got {describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = close(g, e, atol, rtol, dtype)
            if problem is not None:
                part = parts[i] if i < len(parts) else f"value {i} of the tuple"
                return f"{part}: {problem}"
        return None
    if isinstance(expected, bool) or isinstance(expected, (int, str)):
        integer_like = type(expected) is int and type(got) in _NUMPY_INTS
        if type(got) is not type(expected) and not integer_like:
            hint = " (return a Python int, e.g. with // or int(...))" if type(expected) is int else ""
            return f"expected a {type(expected).__name__}, got {type(got).__name__} {describe(got)}{hint}"
        return None if got == expected else f"expected {expected!r}, got {got!r}"
    if isinstance(expected, float):
        if type(got) not in (float, int, *_NUMPY_FLOATS, *_NUMPY_INTS):
            return (f"expected a Python float, got {type(got).__name__} {describe(got)}"
                    + (" (use .item() to turn a one-element tensor into a float)"
                       if isinstance(got, torch.Tensor) else ""))
        got = float(got)
        if got == expected or (math.isfinite(expected) and abs(got - expected) <= atol + rtol * abs(expected)):
            return None
        e, g = _pair(expected, got)
        return f"expected {e}, got {g}"
    raise TypeError(f"close: cannot compare values of type {type(expected).__name__}")


_NUMPY_INTS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
_NUMPY_FLOATS = (np.float16, np.float32, np.float64)


def _close_tensor(got: Any, expected: torch.Tensor, atol: float, rtol: float, dtype: bool) -> str | None:
    if type(got) is not torch.Tensor and type(got) is not torch.nn.Parameter:
        return f"expected a torch.Tensor, got {type(got).__name__}"
    if tuple(got.shape) != tuple(expected.shape):
        return f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.device != expected.device:
        return f"wrong device: the input was on {expected.device}, the output is on {got.device}"
    if expected.is_floating_point() and not got.is_floating_point():
        return f"expected floating-point values, got dtype {got.dtype}"
    if dtype and got.dtype != expected.dtype:
        return (f"wrong dtype: expected {expected.dtype} (the same dtype as the input), got {got.dtype}; "
                "create new tensors with x.new_zeros(...) or dtype=x.dtype")
    a, b = got.detach().cpu().to(torch.float64), expected.detach().cpu().to(torch.float64)
    diff = (a - b).abs()
    within = (diff <= atol + rtol * b.abs()) & torch.isfinite(b)
    bad = ~(within | (a == b))  # NaN is always wrong; an infinity must be matched exactly
    if bool(bad.any()):
        where = tuple(int(i) for i in bad.nonzero()[0])
        return (f"wrong values at {int(bad.sum())} of {bad.numel()} positions, {_where(a, b, where)}")
    return None


def _same(a: Any, b: Any, compare: Callable | None = None) -> bool:
    try:
        return (compare or close)(a, b) is None
    except Exception:
        return False


# ------------------------------------------------------------------------------------ the engine
def _diagnose(case: Case, got: Any, mistakes: Sequence[Mistake], expected: Any = None,
              compare: Callable | None = None) -> str | None:
    """The first mistake that reproduces ``got`` on ``case``; a mistake that gives the expected answer
    on this case, by the exercise's own ``compare``, explains nothing (a float32 answer where float64
    is due is not a "reflect" mistake; an ignored ``eps`` differs only at the exercise's tolerance).
    The student's output is matched to a mistake's by the same ``compare``, dtype included where the
    exercise compares it (a float32 answer is not the "float64 always" mistake)."""
    for mistake in mistakes:
        try:
            wrong = case.call(mistake.fn)
        except Exception:
            continue
        if _same(got, wrong, compare) and not _same(wrong, expected, compare):
            return mistake.explain
    return None


def not_implemented_by(student: Callable, exc: BaseException) -> bool:
    """Whether ``exc`` is the student's own "not done yet" stub, not an error raised inside a library.

    A ``NotImplementedError`` counts as the stub only when it was raised by code in the same file as
    the student's function (a notebook cell); torch raises it too, e.g. for 1-D reflect padding.
    """
    if not isinstance(exc, NotImplementedError):
        return False
    code = getattr(inspect.unwrap(student), "__code__", None)
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return code is not None and tb is not None and tb.tb_frame.f_code.co_filename == code.co_filename


def _not_implemented(name: str) -> CheckFailure:
    return CheckFailure(f"{name}: not implemented yet (the cell still raises NotImplementedError)")


def call_student(name: str, student: Callable, case: Case, expected: Any = None) -> Any:
    """``case.call(student)``; a crash becomes a counterexample naming the input that caused it."""
    try:
        return case.call(student)
    except Exception as exc:
        if not_implemented_by(student, exc):
            raise _not_implemented(name) from None
        raise CheckFailure(_failure(name, case, expected, f"raised {type(exc).__name__}: {exc}", None)) from None


def run_cases(name: str, student: Callable, reference: Callable, cases: Iterable[Case],
              mistakes: Sequence[Mistake] = (), compare: Callable = close) -> int:
    """Check ``student`` against ``reference`` on every case; return how many passed.

    Raises:
        CheckFailure: on the first case where the student's answer differs or raises, with the
            likely mistake first (when a known mistake reproduces the student's output), then the
            input, the expected and the actual output.
    """
    if not callable(student):
        raise CheckFailure(f"{name}: expected a function, got {type(student).__name__}; "
                           "did you run the cell that defines it?")
    count = 0
    for case in cases:
        expected = case.call(reference)
        got = call_student(name, student, case, expected)
        problem = compare(got, expected)
        if problem is not None:
            raise CheckFailure(_failure(name, case, expected, describe(got), problem,
                                        _diagnose(case, got, mistakes, expected, compare)))
        count += 1
    return count


def _failure(name: str, case: Case, expected: Any, got: str, problem: str | None,
             likely: str | None = None) -> str:
    lines = [f"{name}: likely mistake: {likely}" if likely else f"{name}: a counterexample."]
    if likely:
        lines.append("  the counterexample:")
    lines.append(f"  input:    {name}({case.show()})" + (f"   [{case.label}]" if case.label else ""))
    if expected is not None:
        lines.append(f"  expected: {describe(expected)}")
    lines.append(f"  got:      {got}")
    if problem:
        lines.append(f"  problem:  {problem}")
    return "\n".join(lines)


def expect_error(name: str, fn: Callable, case: Case, error: type[Exception], hint: str) -> None:
    """Raise :class:`CheckFailure` unless ``fn`` raises ``error`` on ``case`` (bad input must be refused)."""
    try:
        got = case.call(fn)
    except error:
        return
    except Exception as exc:
        if not_implemented_by(fn, exc):
            raise _not_implemented(name) from None
        raise CheckFailure(f"{name}({case.show()}) raised {type(exc).__name__}: {exc}; "
                           f"expected a {error.__name__}. {hint}") from None
    raise CheckFailure(f"{name}({case.show()}) returned {describe(got)}; expected a {error.__name__}. {hint}")


def report_pass(name: str, what: Sequence[str]) -> None:
    """Print the success message of a self-check: one line per thing that was checked."""
    print(f"\N{CHECK MARK} {name} passed:")
    for line in what:
        print(f"    - {line}")


# ------------------------------------------------------------------------------ one exercise
@dataclass
class Rule:
    """A requirement of the contract that is not a value on one input (from scratch, vectorised,
    causal, bad input refused, the student's own earlier function used ...).

    ``test(student)`` raises :class:`CheckFailure` when the rule is broken and may return a line
    for the success message (e.g. the measured call counts); ``what`` describes the rule.
    """

    what: str
    test: Callable[[Callable], Any]


@dataclass
class Exercise:
    """One definition of an exercise, feeding both its visible self-check and its hidden test.

    Both run every :class:`Rule` and the fixed cases (``cases(None)``) against ``reference``;
    the hidden test adds the seeded random cases (``cases(Generator(seed))`` returns fixed and
    random cases). So a rule the grade enforces is always enforced by the self-check too, and a
    student shown a pass can lose points only on a case, never on a rule they were not told of.

    Attributes:
        name: the student's function name, as in the notebook.
        reference: the course's answer; its output is the expected value.
        cases: ``cases(gen)`` -> list of :class:`Case`; ``gen`` is ``None`` for the self-check.
        mistakes: known wrong answers, run on a failing case to name the likely mistake.
        rules: structural requirements, checked after the cases.
        checked: the self-check's success lines (what a pass means), rules' lines appended.
        seed: the hidden test's seed.
        compare: ``compare(got, expected) -> str | None`` (default :func:`close`).
        course_versions: the course's own functions that implement this exercise; calling any of
            them is never an answer (default: ``reference`` when it is a named function).
        context: a context manager factory wrapping every call of the student's function (e.g.
            the course's ``pad`` bound while ``conv1d`` is checked).
    """

    name: str
    reference: Callable
    cases: Callable[[torch.Generator | None], list]
    mistakes: Sequence[Mistake] = ()
    rules: Sequence[Rule] = ()
    checked: Sequence[str] = ()
    seed: int = 0
    compare: Callable = close
    course_versions: Sequence[Callable] | None = None
    context: Callable[[Callable], Any] | None = None

    def _versions(self) -> list[Callable]:
        if self.course_versions is not None:
            return list(self.course_versions)
        named = getattr(self.reference, "__name__", "<lambda>") != "<lambda>"
        return [self.reference] if named and hasattr(inspect.unwrap(self.reference), "__code__") else []

    def _run(self, student: Callable, gen: torch.Generator | None) -> list[str]:
        if not callable(student):
            raise CheckFailure(f"{self.name}: expected a function, got {type(student).__name__}; "
                               "did you run the cell that defines it?")
        cases = self.cases(gen)
        with (self.context(student) if self.context else contextlib.nullcontext()):
            run_cases(self.name, student, self.reference, cases, self.mistakes, self.compare)
            lines = self._run_rules(student, cases)
        return lines

    def _run_rules(self, student: Callable, cases: list) -> list[str]:
        """The course's version refused, then every rule; returns the rules' success lines."""
        if cases:
            assert_not_the_course_version(self.name, student, cases[0], self._versions())
        lines = []
        for rule in self.rules:
            said = rule.test(student)
            lines.append(said if isinstance(said, str) else rule.what)
        return lines

    def check(self, student: Callable) -> None:
        """The visible self-check: the fixed cases and every rule; prints what it checked."""
        lines = self._run(student, None)
        report_pass(self.name, [*self.checked, *lines])

    def grade(self, student: Callable) -> None:
        """The hidden test: the same rules, the fixed cases and the seeded random ones."""
        assert_untampered()
        self._run(student, torch.Generator().manual_seed(self.seed))


def assert_not_the_course_version(name: str, student: Callable, case: Case, versions: Sequence[Callable]) -> None:
    """Raise if ``student`` calls one of the course's own implementations of this exercise.

    The course's functions are importable from ``helpers``; using one is never an answer,
    whether or not the exercise says "from scratch".
    """
    if not versions:
        return
    _, calls = calls_made(call_student, name, student, case)
    refuse_hooks(name, calls)
    keys = {_code_key(inspect.unwrap(f).__code__): f for f in versions}
    for code in calls.code:
        if _code_key(code) in keys:
            raise CheckFailure(f"{name}: not from scratch: it calls the course's own {code.co_name} "
                               f"(helpers/{os.path.basename(code.co_filename)}), which is the answer itself. "
                               "Write the computation yourself.")


# ---------------------------------------------------------------------- structural checks
@contextlib.contextmanager
def swapped_globals(fn: Callable, **names: Any):
    """Temporarily bind ``names`` in ``fn``'s module globals (e.g. a correct ``pad`` while grading ``conv1d``)."""
    namespace = getattr(fn, "__globals__", None)
    if namespace is None:
        yield
        return
    saved = {k: namespace[k] for k in names if k in namespace}
    namespace.update(names)
    try:
        yield
    finally:
        for k in names:
            if k in saved:
                namespace[k] = saved[k]
            else:
                namespace.pop(k, None)


@dataclass
class Calls:
    """What one call ran, in order: C functions (``builtins``), Python code objects (``code``) and
    torch operations (``torch_ops``, operators such as ``@`` and indexing included)."""

    builtins: list = field(default_factory=list)
    code: list = field(default_factory=list)
    torch_ops: list = field(default_factory=list)
    hooks: list = field(default_factory=list)  # what the call did to the recorders (see _HOOKS)

    @property
    def count(self) -> int:
        return len(self.builtins) + len(self.code) + len(self.torch_ops)


class _TorchOps(TorchFunctionMode):
    """Records every torch function and tensor method or operator called while it is active."""

    def __init__(self, record: list):
        super().__init__()
        self.record = record

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.record.append(func)
        return func(*args, **(kwargs or {}))


def calls_made(fn: Callable, *args, **kwargs) -> tuple[Any, Calls]:
    """Run ``fn(*args, **kwargs)`` and record every function it calls, however it named them.

    ``sys.setprofile`` sees Python and C function calls; a torch function mode also sees tensor
    operators (``a @ b``, ``x[i]``), which make no function call a profiler could see.
    """
    calls = Calls()

    def profile(frame, event, arg):
        if event == "c_call":
            calls.builtins.append(arg)
        elif event == "call":
            calls.code.append(frame.f_code)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        with _TorchOps(calls.torch_ops):
            result = fn(*args, **kwargs)
            during = len(calls.builtins)  # what fn called; the checks' own calls below come after
        if sys.getprofile() is not profile:  # switched off or replaced, even by a call the profiler missed
            calls.hooks.append("sys.setprofile")
    finally:
        sys.setprofile(previous)
    calls.hooks += [_qualified(b) for b in calls.builtins[:during] if id(b) in _HOOK_IDS]
    return result, calls


# The recorders' own switches: a function under check that calls one is hiding what it does.
_HOOKS = (sys.setprofile, sys.settrace, sys.getprofile, sys.gettrace, threading.setprofile, threading.settrace,
          torch._C.DisableTorchFunction, torch._C.DisableTorchFunctionSubclass, torch._C._DisableTorchDispatch)
_HOOK_IDS = {id(h) for h in _HOOKS}
_HOOK_NAMES = frozenset(h.__name__ for h in _HOOKS) | {"_disable_current_modes", "_pop_mode", "_pop_mode_temporarily"}


def _qualified(fn: Any) -> str:
    owner = getattr(fn, "__module__", None) or getattr(getattr(fn, "__self__", None), "__name__", None)
    return f"{owner}.{getattr(fn, '__name__', fn)}" if owner else str(getattr(fn, "__name__", fn))


def refuse_hooks(name: str, calls: Calls) -> None:
    """Raise if the recorded call switched off or replaced the recorders the checks rely on."""
    if calls.hooks:
        raise CheckFailure(f"{name}: your function calls {calls.hooks[0]}, which switches off the recorder the "
                           "checks use to see what your function does, so it cannot be checked. Remove that call.")


def _code_key(code: types.CodeType) -> tuple[str, str, int]:
    return os.path.realpath(code.co_filename), code.co_name, code.co_firstlineno


def assert_from_scratch(name: str, fn: Callable, case: Case, banned_builtins: Iterable[Callable] = (),
                        banned_functions: Iterable[Callable] = (), why: str = "", *,
                        banned_ops: Callable[[str], bool] | None = None, banned_names: Iterable[str] = (),
                        banned_packages: Iterable[str] = (), no_threads: bool = False) -> None:
    """Raise if ``fn`` on ``case`` calls one of the banned builtins, Python functions or operators.

    Builtins are matched by identity and by name (``torch.conv1d`` is ``F.conv1d``); Python
    functions by where their code was written (file, name, line), which also catches a fresh copy
    of the reference loaded under another module name or imported under another name.

    Keyword-only, each optional:
        banned_ops: ``banned_ops(op) -> bool`` for the ATen operator names :func:`aten_ops_made`
            records (``"convolution"``, ``"max_pool2d_with_indices"`` ...): sees every route to them.
        banned_names: names the function's own source must not use (``F.conv1d``, ``correlate1d``;
            see :func:`names_in_source`), checked when the source is available.
        banned_packages: dotted packages (``"scipy.ndimage"``) none of whose Python code may run.
        no_threads: refuse a function that starts a thread (the recorders see the calling thread only;
            off by default: a DataLoader with workers starts threads).
    A function that switches off the recorders (``sys.setprofile``) is always refused.
    """
    _, calls = calls_made(call_student, name, fn, case)
    refuse_hooks(name, calls)
    threads = [b for b in calls.builtins if id(b) in _THREAD_STARTS]
    if threads and no_threads:
        _not_from_scratch(name, f"{_qualified(threads[0])} (a thread, which the checks cannot follow)", why)
    builtin_ids = {id(b) for b in banned_builtins}
    builtin_names = {getattr(b, "__name__", "") for b in banned_builtins}
    keys = {_code_key(inspect.unwrap(f).__code__) for f in banned_functions}
    for b in calls.builtins + calls.torch_ops:
        if id(b) in builtin_ids or getattr(b, "__name__", None) in builtin_names:
            _not_from_scratch(name, f"{getattr(b, '__module__', None) or 'torch'}.{b.__name__}", why)
    folders = [_package_folder(p) for p in banned_packages]
    for code in calls.code:
        if _code_key(code) in keys:
            _not_from_scratch(name, f"{code.co_name} (from {os.path.basename(code.co_filename)})", why)
        path = os.path.realpath(code.co_filename)
        for package, folder in zip(banned_packages, folders):
            if folder and path.startswith(folder + os.sep):
                _not_from_scratch(name, f"{package}'s {code.co_name}", why)
    for b in calls.builtins:  # C functions of a banned package (scipy.ndimage._nd_image.correlate1d)
        module = getattr(b, "__module__", None) or ""
        for package in banned_packages:
            if module == package or module.startswith(package + "."):
                _not_from_scratch(name, _qualified(b), why)
    if banned_ops is not None:
        _, ops = aten_ops_made(call_student, name, fn, case)
        for op in ops:
            if banned_ops(op):
                _not_from_scratch(name, f"the library operator aten.{op} (a library convolution or pooling, "
                                        "however it was called)", why)
    used = names_in_source(fn)
    found = sorted(used & (set(banned_names) | _HOOK_NAMES)) if used is not None else []
    if found:
        if found[0] in _HOOK_NAMES:
            raise CheckFailure(f"{name}: your function's code uses {found[0]}, which switches off the recorder the "
                               "checks use to see what your function does, so it cannot be checked. Remove it.")
        _not_from_scratch(name, f"{found[0]} (named in its code)", why)


_THREAD_STARTS = {id(f) for f in (getattr(__import__("_thread"), n, None)
                                  for n in ("start_new_thread", "start_joinable_thread", "start_new")) if f}


def _package_folder(package: str) -> str | None:
    """The folder of an installed package, found without importing it (None when not installed)."""
    import importlib.util

    top, _, rest = package.partition(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.realpath(os.path.join(list(spec.submodule_search_locations)[0], *rest.split(".") if rest else ()))


class _AtenOps(TorchDispatchMode):
    """Records the name of every ATen operator run while it is active (below autograd, after decompositions)."""

    def __init__(self, record: list):
        super().__init__()
        self.record = record

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        packet = getattr(func, "overloadpacket", None)
        self.record.append(getattr(packet, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def aten_ops_made(fn: Callable, *args, **kwargs) -> tuple[Any, list[str]]:
    """Run ``fn(*args, **kwargs)`` and list the ATen operators it ran, in order (``"convolution"``, ``"mul"`` ...).

    Every way to a library kernel ends in its ATen operator: ``F.conv1d``, ``F.conv2d`` on a 1 x N
    image, ``nn.Conv2d``, ``torch._convolution`` and ``torch.ops.aten.convolution`` all run
    ``convolution`` (or ``_convolution``), ``F.max_pool2d`` and ``nn.MaxPool2d`` run
    ``max_pool2d_with_indices``, ``F.unfold`` runs ``im2col``. The names are the operators' packets
    (no overload suffix). A torch dispatch mode sees them, which a profiler cannot.
    """
    ops: list[str] = []
    with _AtenOps(ops):
        result = fn(*args, **kwargs)
    return result, ops


def is_convolution_op(op: str) -> bool:
    """Whether an ATen operator name from :func:`aten_ops_made` is a library convolution
    (``convolution``, ``_convolution``, ``conv2d``, ``conv_tbc``, ``mkldnn_convolution``, ``slow_conv2d`` ...)."""
    return "convolution" in op or re.fullmatch(r"_?(slow_|thnn_)?conv(\d|_tbc|_transpose|_depthwise).*", op) is not None


def is_pooling_op(op: str) -> bool:
    """Whether an ATen operator name from :func:`aten_ops_made` is a library pooling
    (``max_pool2d_with_indices``, ``avg_pool2d``, ``adaptive_max_pool2d``, ``fractional_max_pool2d`` ...)."""
    return "pool" in op and "unpool" not in op


def names_in_source(fn: Callable) -> set[str] | None:
    """The names ``fn``'s own source uses: attribute names (``F.conv1d`` gives ``conv1d``), imported names,
    strings that are a whole identifier (``getattr(F, "conv1d")``), and plain names other than the
    student's own functions (a helper written in the notebook, any cell, may share a library's name).

    ``None`` when the source cannot be read (a function made by ``exec`` without a file).
    """
    target = inspect.unwrap(fn)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(target)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    namespace = getattr(target, "__globals__", {})
    own_module = getattr(target, "__module__", None)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.update(node.name.split("."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            names.add(node.value)
        elif isinstance(node, ast.Name):
            bound = namespace.get(node.id)
            if not (isinstance(bound, types.FunctionType) and bound.__module__ == own_module):
                names.add(node.id)
    return names


def _not_from_scratch(name: str, called: str, why: str) -> None:
    raise CheckFailure(f"{name}: this exercise asks you to write it from scratch, but your function calls "
                       f"{called}. {why}".rstrip())


def assert_vectorized(name: str, fn: Callable, small: Case, large: Case, slack: int = 8) -> tuple[int, int]:
    """Raise if ``fn`` makes many more calls on ``large`` than on ``small`` (a Python loop over positions).

    Returns:
        the number of calls on the small and on the large case.
    """
    _, few = calls_made(call_student, name, fn, small)
    _, many = calls_made(call_student, name, fn, large)
    refuse_hooks(name, few)
    refuse_hooks(name, many)
    if many.count > few.count + slack:
        raise CheckFailure(f"{name}: not vectorised: it made {few.count} function calls for "
                           f"[{small.label}] but {many.count} for [{large.label}], so it loops in Python "
                           "over the positions. Build all windows at once (x.unfold) and combine them "
                           "with one matrix product.")
    return few.count, many.count


# ----------------------------------------------------------------------------- tamper check
_TORCH_BUILTINS = ("allclose", "isclose", "equal", "isfinite", "abs", "tensor", "as_tensor", "randn",
                   "rand", "arange", "zeros", "conv1d", "conv2d")
_TENSOR_METHODS = ("tolist", "__eq__", "__sub__", "abs", "any", "all", "max", "to", "reshape",
                   "detach", "cpu", "nonzero", "is_floating_point", "clone")
_BUILTINS = ("abs", "isinstance", "len", "float", "int", "type", "tuple", "list", "sum", "max", "min",
             "round", "print", "callable", "getattr", "id", "any", "all", "zip", "range")


def _is_native(obj: Any) -> bool:
    return isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType, types.MethodDescriptorType,
                            types.WrapperDescriptorType, types.MethodWrapperType, type))


def _in_package(fn: Any, package: types.ModuleType) -> bool:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    root = os.path.dirname(os.path.realpath(package.__file__))
    return code is not None and os.path.realpath(code.co_filename).startswith(root)


def assert_untampered() -> None:
    """Raise if a function the grading checks rely on was replaced in this process.

    torch's comparison and tensor primitives and Python's builtins must be the native ones;
    NumPy's and torch's Python-level helpers must come from their own packages.
    """
    suspects = [f"torch.{n}" for n in _TORCH_BUILTINS if not _is_native(getattr(torch, n, abs))]
    suspects += [f"torch.Tensor.{n}" for n in _TENSOR_METHODS if not _is_native(getattr(torch.Tensor, n, abs))
                 and not _in_package(getattr(torch.Tensor, n), torch)]
    suspects += [f"builtins.{n}" for n in _BUILTINS if not _is_native(getattr(builtins, n))]
    for owner, names in ((np, ("allclose", "isclose", "array_equal")), (np.testing, ("assert_allclose",))):
        suspects += [f"{owner.__name__}.{n}" for n in names if not _in_package(getattr(owner, n), np)]
    if not _in_package(torch.testing.assert_close, torch):
        suspects.append("torch.testing.assert_close")
    if suspects:
        raise CheckFailure("grading stopped: these functions were replaced in the notebook, so no answer can be "
                           f"trusted: {', '.join(suspects)}. Remove the code that reassigns them and run again.")
