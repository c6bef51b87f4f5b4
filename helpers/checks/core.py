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
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import inspect
import math
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

__all__ = [
    "CheckFailure", "Case", "Mistake", "run_cases", "expect_error", "report_pass", "close", "describe",
    "calls_made", "assert_from_scratch", "assert_vectorized", "assert_untampered", "swapped_globals",
]


class CheckFailure(AssertionError):
    """A check found a wrong answer; the message says where and, when known, why."""


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
def describe(value: Any, limit: int = 12) -> str:
    """A short, readable form of a value: tensors as rounded lists with their shape."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().reshape(-1)
        items = [_num(v) for v in flat[:limit].tolist()]
        more = ", ..." if flat.numel() > limit else ""
        body = f"[{', '.join(items)}{more}]"
        shape = tuple(value.shape)
        return body if value.dim() == 1 and not more else f"tensor of shape {shape}: {body}"
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, (list, tuple)) and len(value) > limit:
        return f"{type(value).__name__} of {len(value)}: {list(value[:limit])}..."
    return repr(value)


def _num(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


# ------------------------------------------------------------------------------------ comparing
def close(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """``None`` when ``got`` matches ``expected``, else a sentence saying how it differs."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a torch.Tensor, got {type(got).__name__}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}"
        if got.device != expected.device:
            return f"wrong device: the input was on {expected.device}, the output is on {got.device}"
        if not got.is_floating_point():
            return f"expected floating-point values, got dtype {got.dtype}"
        a, b = got.detach().to(torch.float64), expected.detach().to(torch.float64)
        diff = (a - b).abs()
        within = (diff <= atol + rtol * b.abs()) & torch.isfinite(b)
        bad = ~(within | (a == b))  # NaN is always wrong; an infinity must be matched exactly
        if bool(bad.any()):
            where = tuple(int(i) for i in bad.nonzero()[0])
            return f"wrong values (first at index {where}, largest difference {float(diff[bad].max()):.3g})"
        return None
    if isinstance(expected, tuple):  # several results, e.g. the gradients (dx, dw, db)
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} values, got {describe(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = close(g, e, atol, rtol)
            if problem is not None:
                return f"value {i} of the tuple: {problem}"
        return None
    if isinstance(expected, bool) or isinstance(expected, (int, str)):
        integer_like = isinstance(expected, int) and not isinstance(expected, bool) and isinstance(got, np.integer)
        if type(got) is not type(expected) and not integer_like:
            return f"expected a {type(expected).__name__}, got {type(got).__name__} {got!r}"
        return None if got == expected else f"expected {expected!r}, got {got!r}"
    if isinstance(expected, float):
        if isinstance(got, bool) or not isinstance(got, (float, int, np.number)):
            return f"expected a number, got {type(got).__name__}"
        if got == expected or (math.isfinite(expected) and abs(got - expected) <= atol + rtol * abs(expected)):
            return None
        return f"expected {expected}, got {got}"
    raise TypeError(f"close: cannot compare values of type {type(expected).__name__}")


def _same(a: Any, b: Any) -> bool:
    try:
        return close(a, b) is None
    except Exception:
        return False


# ------------------------------------------------------------------------------------ the engine
def _diagnose(case: Case, got: Any, mistakes: Sequence[Mistake]) -> str | None:
    for mistake in mistakes:
        try:
            wrong = case.call(mistake.fn)
        except Exception:
            continue
        if _same(got, wrong):
            return mistake.explain
    return None


def run_cases(name: str, student: Callable, reference: Callable, cases: Iterable[Case],
              mistakes: Sequence[Mistake] = (), compare: Callable = close) -> int:
    """Check ``student`` against ``reference`` on every case; return how many passed.

    Raises:
        CheckFailure: on the first case where the student's answer differs or raises, with the
            input, the expected and the actual output and, if a known mistake reproduces the
            student's output, its explanation.
    """
    if not callable(student):
        raise CheckFailure(f"{name}: expected a function, got {type(student).__name__}; "
                           "did you run the cell that defines it?")
    count = 0
    for case in cases:
        expected = case.call(reference)
        try:
            got = case.call(student)
        except NotImplementedError:
            raise CheckFailure(f"{name}: not implemented yet (the cell still raises NotImplementedError)") from None
        except Exception as exc:  # the student's code crashed: show the input that crashed it
            raise CheckFailure(_failure(name, case, expected, f"raised {type(exc).__name__}: {exc}",
                                        None)) from None
        problem = compare(got, expected)
        if problem is not None:
            raise CheckFailure(_failure(name, case, expected, describe(got), problem,
                                        _diagnose(case, got, mistakes)))
        count += 1
    return count


def _failure(name: str, case: Case, expected: Any, got: str, problem: str | None,
             likely: str | None = None) -> str:
    lines = [f"{name}: a counterexample.",
             f"  input:    {name}({case.show()})" + (f"   [{case.label}]" if case.label else ""),
             f"  expected: {describe(expected)}",
             f"  got:      {got}"]
    if problem:
        lines.append(f"  problem:  {problem}")
    if likely:
        lines.append(f"  likely mistake: {likely}")
    return "\n".join(lines)


def expect_error(name: str, fn: Callable, case: Case, error: type[Exception], hint: str) -> None:
    """Raise :class:`CheckFailure` unless ``fn`` raises ``error`` on ``case`` (bad input must be refused)."""
    try:
        got = case.call(fn)
    except error:
        return
    except NotImplementedError:
        raise CheckFailure(f"{name}: not implemented yet (the cell still raises NotImplementedError)") from None
    except Exception as exc:
        raise CheckFailure(f"{name}({case.show()}) raised {type(exc).__name__}: {exc}; "
                           f"expected a {error.__name__}. {hint}") from None
    raise CheckFailure(f"{name}({case.show()}) returned {describe(got)}; expected a {error.__name__}. {hint}")


def report_pass(name: str, what: Sequence[str]) -> None:
    """Print the success message of a self-check: one line per thing that was checked."""
    print(f"\N{CHECK MARK} {name} passed:")
    for line in what:
        print(f"    - {line}")


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
    finally:
        sys.setprofile(previous)
    return result, calls


def _code_key(code: types.CodeType) -> tuple[str, str, int]:
    return os.path.realpath(code.co_filename), code.co_name, code.co_firstlineno


def assert_from_scratch(name: str, fn: Callable, case: Case, banned_builtins: Iterable[Callable] = (),
                        banned_functions: Iterable[Callable] = (), why: str = "") -> None:
    """Raise if ``fn`` on ``case`` calls one of the banned builtins or Python functions.

    Builtins are matched by identity and by name (``torch.conv1d`` is ``F.conv1d``); Python
    functions by where their code was written (file, name, line), which also catches a fresh copy
    of the reference loaded under another module name or imported under another name.
    """
    _, calls = calls_made(fn, *copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
    builtin_ids = {id(b) for b in banned_builtins}
    builtin_names = {getattr(b, "__name__", "") for b in banned_builtins}
    keys = {_code_key(inspect.unwrap(f).__code__) for f in banned_functions}
    for b in calls.builtins + calls.torch_ops:
        if id(b) in builtin_ids or getattr(b, "__name__", None) in builtin_names:
            _not_from_scratch(name, f"{getattr(b, '__module__', None) or 'torch'}.{b.__name__}", why)
    for code in calls.code:
        if _code_key(code) in keys:
            _not_from_scratch(name, f"{code.co_name} (from {os.path.basename(code.co_filename)})", why)


def _not_from_scratch(name: str, called: str, why: str) -> None:
    raise CheckFailure(f"{name}: this exercise asks you to write it from scratch, but your function calls "
                       f"{called}. {why}".rstrip())


def assert_vectorized(name: str, fn: Callable, small: Case, large: Case, slack: int = 8) -> tuple[int, int]:
    """Raise if ``fn`` makes many more calls on ``large`` than on ``small`` (a Python loop over positions).

    Returns:
        the number of calls on the small and on the large case.
    """
    _, few = calls_made(fn, *copy.deepcopy(small.args), **copy.deepcopy(small.kwargs))
    _, many = calls_made(fn, *copy.deepcopy(large.args), **copy.deepcopy(large.kwargs))
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
