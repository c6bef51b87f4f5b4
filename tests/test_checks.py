"""The checks framework (helpers.checks.core) and the notebook 01 checks (helpers.checks.signals)."""

from __future__ import annotations

import linecache
import textwrap

import numpy as np
import pytest
import torch

import helpers.checks.signals as checks_signals
import helpers.signals as ref
from helpers.checks import core, fresh
from helpers.checks.core import Case, CheckFailure, Mistake
from helpers.device import available_devices

CHECK_MARK = "\N{CHECK MARK}"
ACCELERATORS = [d for d in available_devices() if d.type != "cpu"]


# ================================================================ students, as a notebook writes them
def student(source: str, name: str = "conv1d"):
    """Run ``source`` in its own globals (like a notebook) and return the function ``name`` it defines."""
    namespace: dict = {"__name__": "__student__"}
    exec(compile(textwrap.dedent(source), "<student>", "exec"), namespace)
    return namespace[name]


STUDENT_PAD = """
import torch

def pad(x, M, mode="zero"):
    N = x.shape[-1]
    if mode == "zero":
        z = x.new_zeros(*x.shape[:-1], M)
        return torch.cat([z, x, z], -1)
    i = torch.arange(-M, N + M, device=x.device)
    i = i.clamp(0, N - 1) if mode == "replicate" else (N - 1) - ((N - 1) - i.abs()).abs()
    return x[..., i]

def _prepare(x, w, mode, padding):
    K = w.shape[0]
    M = (K - 1) // 2
    return pad(x, {"valid": 0, "same": M, "full": 2 * M}[mode], padding), K
"""

VECTORISED = STUDENT_PAD + """
def conv1d(x, w, mode="same", padding="zero", flip=True):
    xp, K = _prepare(x, w, mode, padding)
    return xp.unfold(-1, K, 1) @ (w.flip(0) if flip else w)
"""

LOOP = STUDENT_PAD + """
def conv1d(x, w, mode="same", padding="zero", flip=True):
    xp, K = _prepare(x, w, mode, padding)
    k = w.flip(0) if flip else w
    return torch.stack([(xp[..., j:j + K] * k).sum(-1) for j in range(xp.shape[-1] - K + 1)], -1)
"""

NEVER_FLIPS = VECTORISED + """
_correct = conv1d

def conv1d(x, w, mode="same", padding="zero", flip=True):
    return _correct(x, w, mode, padding, False)
"""

ALIASED_F_CONV1D = STUDENT_PAD + """
from torch.nn.functional import conv1d as c

def conv1d(x, w, mode="same", padding="zero", flip=True):
    xp, K = _prepare(x, w, mode, padding)
    y = c(xp.reshape(-1, 1, xp.shape[-1]), (w.flip(0) if flip else w).reshape(1, 1, K))
    return y.reshape(*xp.shape[:-1], y.shape[-1])
"""

F_CONV1D_IN_A_CLOSURE = STUDENT_PAD + """
def _make():
    from torch.nn.functional import conv1d as smooth
    def conv1d(x, w, mode="same", padding="zero", flip=True):
        xp, K = _prepare(x, w, mode, padding)
        y = smooth(xp.reshape(-1, 1, xp.shape[-1]), (w.flip(0) if flip else w).reshape(1, 1, K))
        return y.reshape(*xp.shape[:-1], y.shape[-1])
    return conv1d

conv1d = _make()
"""

TORCH_CONV1D = STUDENT_PAD + """
helper = torch.conv1d

def conv1d(x, w, mode="same", padding="zero", flip=True):
    xp, K = _prepare(x, w, mode, padding)
    y = helper(xp.reshape(-1, 1, xp.shape[-1]), (w.flip(0) if flip else w).reshape(1, 1, K))
    return y.reshape(*xp.shape[:-1], y.shape[-1])
"""

NP_CONVOLVE = STUDENT_PAD + """
import numpy as np

def conv1d(x, w, mode="same", padding="zero", flip=True):
    xp, K = _prepare(x, w, mode, padding)
    k = (w if flip else w.flip(0)).numpy()
    rows = [np.convolve(row, k, "valid") for row in xp.reshape(-1, xp.shape[-1]).numpy()]
    return torch.from_numpy(np.stack(rows)).reshape(*xp.shape[:-1], -1)
"""

CALLS_REFERENCE = """
from helpers.signals import conv1d as mine

def conv1d(x, w, mode="same", padding="zero", flip=True):
    return mine(x, w, mode, padding, flip)
"""

CALLS_FRESH_REFERENCE = """
from helpers.checks import fresh

_copy = fresh("signals").ref.conv1d   # helpers.signals loaded again under another module name

def conv1d(x, w, mode="same", padding="zero", flip=True):
    return _copy(x, w, mode, padding, flip)
"""


# ======================================================================== self-checks pass
OWN_ANSWERS = student(STUDENT_PAD + """
import torch.nn.functional as F

def moving_average_kernel(M):
    if M < 0:
        raise ValueError("M must be >= 0")
    return torch.full((2 * M + 1,), 1.0 / (2 * M + 1))

def triangle_kernel(M):
    if M < 0:
        raise ValueError("M must be >= 0")
    m = torch.arange(-M, M + 1, dtype=torch.float64)
    return (M + 1 - m.abs()) / (M + 1) ** 2

def own_pad(x, M, mode="zero"):
    if mode not in ("zero", "replicate", "reflect"):
        raise ValueError(mode)
    return pad(x, M, mode)

def causal_conv1d(x, w, bias=None, dilation=1):
    return F.conv1d(F.pad(x, ((w.shape[-1] - 1) * dilation, 0)), w, bias, dilation=dilation)

def receptive_field(kernel_size, dilations):
    return 1 + sum((kernel_size - 1) * d for d in dilations)
""", "moving_average_kernel").__globals__

SELF_CHECKS = {
    "moving_average_kernel": OWN_ANSWERS["moving_average_kernel"],
    "triangle_kernel": OWN_ANSWERS["triangle_kernel"],
    "pad": OWN_ANSWERS["own_pad"],
    "conv1d": student(LOOP),
    "conv1d_vectorized": student(VECTORISED),
    "causal_conv1d": OWN_ANSWERS["causal_conv1d"],
    "receptive_field": OWN_ANSWERS["receptive_field"],
}
COURSE_VERSIONS = {
    "moving_average_kernel": lambda M: ref.moving_average_kernel(M),
    "triangle_kernel": lambda M: ref.triangle_kernel(M),
    "pad": lambda x, M, mode="zero": ref.pad(x, M, mode),
    "conv1d": lambda x, w, mode="same", padding="zero", flip=True: ref.conv1d(x, w, mode, padding, flip),
    "conv1d_vectorized": lambda x, w, mode="same", padding="zero", flip=True: ref.conv1d(x, w, mode, padding, flip),
    "causal_conv1d": lambda x, w, bias=None, dilation=1: ref.causal_conv1d(x, w, bias, dilation),
    "receptive_field": lambda kernel_size, dilations: ref.receptive_field(kernel_size, dilations),
}


def test_every_exercise_has_a_self_check_and_a_grading_check():
    assert set(checks_signals.MISTAKES) == set(SELF_CHECKS)
    for name in SELF_CHECKS:
        assert callable(getattr(checks_signals, name))
        assert callable(getattr(checks_signals, f"grade_{name}"))


@pytest.mark.parametrize("name", sorted(SELF_CHECKS))
def test_self_check_passes_the_reference_and_prints_a_check_mark(name, capsys):
    getattr(checks_signals, name)(SELF_CHECKS[name])
    lines = capsys.readouterr().out.splitlines()
    assert lines, "a passing self-check must say so"
    assert lines[0].startswith(CHECK_MARK)
    assert lines[0] == f"{CHECK_MARK} {name} passed:"
    assert len(lines) >= 2 and all(line.startswith("    - ") for line in lines[1:])


@pytest.mark.parametrize("name", sorted(SELF_CHECKS))
def test_self_check_reports_a_stub_as_not_implemented(name, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError

    with pytest.raises(CheckFailure, match=f"^{name}: not implemented yet"):
        getattr(checks_signals, name)(stub)
    assert CHECK_MARK not in capsys.readouterr().out


def test_kernel_self_check_requires_refusing_a_negative_m():
    lenient = lambda M: torch.full((2 * max(M, 0) + 1,), 1 / (2 * max(M, 0) + 1))  # noqa: E731
    with pytest.raises(CheckFailure, match=r"moving_average_kernel\(-1\) returned .*expected a ValueError"):
        checks_signals.moving_average_kernel(lenient)


# ===================================================================== every mistake is caught
MISTAKE_PARAMS = [pytest.param(name, mistake, id=f"{name}-{mistake.name}")
                  for name, mistakes in checks_signals.MISTAKES.items() for mistake in mistakes]


@pytest.mark.parametrize("name,mistake", MISTAKE_PARAMS)
def test_self_check_rejects_the_mistake_and_explains_it(name, mistake, capsys):
    with pytest.raises(CheckFailure) as info:
        getattr(checks_signals, name)(mistake.fn)
    message = str(info.value)
    assert message.startswith(f"{name}: likely mistake: {mistake.explain}")
    assert f"likely mistake: {mistake.explain}" in message
    assert CHECK_MARK not in capsys.readouterr().out


@pytest.mark.parametrize("name,mistake", MISTAKE_PARAMS)
def test_grading_rejects_the_mistake(name, mistake):
    with pytest.raises(CheckFailure, match="counterexample"):
        getattr(checks_signals, f"grade_{name}")(mistake.fn)


# ========================================================================= grading: correct answers
@pytest.mark.parametrize("name", ["moving_average_kernel", "triangle_kernel", "pad", "causal_conv1d", "receptive_field"])
def test_grading_accepts_a_correct_answer(name):
    assert getattr(checks_signals, f"grade_{name}")(SELF_CHECKS[name]) is None


@pytest.mark.parametrize("check", ["", "grade_"])
@pytest.mark.parametrize("name", sorted(COURSE_VERSIONS))
def test_the_course_version_is_never_an_answer(name, check):
    """``return signals.moving_average_kernel(M)`` earned full marks once (issue 21): self-check and grade refuse it."""
    with pytest.raises(CheckFailure, match="the course's own|from scratch"):
        getattr(checks_signals, f"{check}{name}")(COURSE_VERSIONS[name])


def test_grading_accepts_a_correct_from_scratch_conv1d():
    checks_signals.grade_conv1d(student(LOOP))
    checks_signals.grade_conv1d(student(VECTORISED))
    checks_signals.grade_conv1d_vectorized(student(VECTORISED))


BROKEN_PAD = VECTORISED + """
def pad(x, M, mode="zero"):
    z = x.new_zeros(*x.shape[:-1], 2 * M)
    return torch.cat([x, z], -1)
"""


@pytest.mark.parametrize("check", ["conv1d", "grade_conv1d", "conv1d_vectorized", "grade_conv1d_vectorized"])
def test_conv1d_checks_use_the_course_pad(check, capsys):
    """A broken pad costs its own exercise only: conv1d is checked with the reference pad swapped in."""
    conv = student(BROKEN_PAD)
    own_pad = conv.__globals__["pad"]
    with pytest.raises(CheckFailure, match="likely mistake: all 2M new entries went to the end"):
        checks_signals.pad(own_pad)
    with pytest.raises(CheckFailure):  # without the swap, the broken pad breaks conv1d
        core.run_cases("conv1d", conv, ref.conv1d, [Case((torch.randn(6, dtype=torch.float64),
                                                          torch.randn(3, dtype=torch.float64)))])
    getattr(checks_signals, check)(conv)
    assert conv.__globals__["pad"] is own_pad, "the swap must be undone"


# ======================================================================= grading: from scratch
FROM_SCRATCH_VIOLATIONS = {
    "F.conv1d imported under an alias": (ALIASED_F_CONV1D, "conv1d"),
    "F.conv1d imported inside a closure": (F_CONV1D_IN_A_CLOSURE, "conv1d"),
    "torch.conv1d bound to another name": (TORCH_CONV1D, "conv1d"),
    "np.convolve": (NP_CONVOLVE, "convolve"),
    "helpers.signals.conv1d": (CALLS_REFERENCE, "course's own conv1d (helpers/signals.py)"),
    "a fresh() copy of helpers.signals.conv1d": (CALLS_FRESH_REFERENCE, "course's own conv1d (helpers/signals.py)"),
}


@pytest.mark.parametrize("source,called", FROM_SCRATCH_VIOLATIONS.values(), ids=FROM_SCRATCH_VIOLATIONS.keys())
def test_violation_gives_correct_answers(source, called):
    """Premise of the next test: these students are right, so only the from-scratch rule can reject them."""
    assert core.run_cases("conv1d", student(source), ref.conv1d, checks_signals._conv_cases(batched=True)) > 18


@pytest.mark.parametrize("grade", ["conv1d", "grade_conv1d", "conv1d_vectorized", "grade_conv1d_vectorized"])
@pytest.mark.parametrize("source,called", FROM_SCRATCH_VIOLATIONS.values(), ids=FROM_SCRATCH_VIOLATIONS.keys())
def test_grading_rejects_a_library_or_reference_convolution(grade, source, called):
    with pytest.raises(CheckFailure, match="from scratch|course's own") as info:
        getattr(checks_signals, grade)(student(source))
    assert called in str(info.value)


def student_with_source(source: str, name: str):
    """Like :func:`student`, with the source readable by ``inspect`` (as IPython makes a notebook cell's)."""
    text = textwrap.dedent(source)
    filename = f"<cell-{abs(hash(text))}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(text, filename, "exec"), namespace)
    return namespace[name]


# issue 16 item 9: every route around the "from scratch" detector
BYPASSES = {
    "F.conv2d on a 1 x N image": STUDENT_PAD + """
import torch.nn.functional as F
def conv1d(x, w, mode="same", padding="zero", flip=True):
    xp, K = _prepare(x, w, mode, padding)
    k = w.flip(0) if flip else w
    return F.conv2d(xp.reshape(-1, 1, 1, xp.shape[-1]), k.reshape(1, 1, 1, K)).reshape(*xp.shape[:-1], -1)
""",
    "torch.ops.aten.convolution": STUDENT_PAD + """
def conv1d(x, w, mode="same", padding="zero", flip=True):
    xp, K = _prepare(x, w, mode, padding)
    k = w.flip(0) if flip else w
    y = torch.ops.aten.convolution(xp.reshape(-1, 1, xp.shape[-1]), k.reshape(1, 1, K), None, [1], [0], [1],
                                   False, [0], 1)
    return y.reshape(*xp.shape[:-1], -1)
""",
    "torch._convolution": STUDENT_PAD + """
def conv1d(x, w, mode="same", padding="zero", flip=True):
    xp, K = _prepare(x, w, mode, padding)
    k = w.flip(0) if flip else w
    y = torch._convolution(xp.reshape(-1, 1, xp.shape[-1]), k.reshape(1, 1, K), None, [1], [0], [1], False, [0], 1,
                           False, False, True, True)
    return y.reshape(*xp.shape[:-1], -1)
""",
    "scipy.ndimage.correlate1d": STUDENT_PAD + """
import numpy as np
from scipy.ndimage import correlate1d
def conv1d(x, w, mode="same", padding="zero", flip=True):
    xp, K = _prepare(x, w, mode, padding)
    k = (w.flip(0) if flip else w).numpy()
    full = correlate1d(xp.numpy(), k, axis=-1, mode="constant", origin=0)
    M = (K - 1) // 2
    return torch.from_numpy(np.ascontiguousarray(full[..., M:full.shape[-1] - M]))
""",
}


@pytest.mark.parametrize("check", ["conv1d", "grade_conv1d", "conv1d_vectorized", "grade_conv1d_vectorized"])
@pytest.mark.parametrize("source", BYPASSES.values(), ids=BYPASSES.keys())
def test_from_scratch_sees_every_route_to_a_library_convolution(source, check):
    fn = student(source)
    assert core.run_cases("conv1d", fn, ref.conv1d, checks_signals._conv_cases(batched=True)) > 18  # right values
    with pytest.raises(CheckFailure, match="from scratch"):
        getattr(checks_signals, check)(fn)


THREADED_REFERENCE = """
import threading
from helpers.signals import conv1d as course

def conv1d(x, w, mode="same", padding="zero", flip=True):
    out = []
    worker = threading.Thread(target=lambda: out.append(course(x, w, mode, padding, flip)))
    worker.start()
    worker.join()
    return out[0]
"""


@pytest.mark.parametrize("check", ["conv1d", "grade_conv1d"])
def test_the_course_version_run_in_a_thread_is_refused(check):
    with pytest.raises(CheckFailure, match="a thread"):
        getattr(checks_signals, check)(student(THREADED_REFERENCE))


HIDDEN_LOOP = STUDENT_PAD + """
import sys
def conv1d(x, w, mode="same", padding="zero", flip=True):
    sys.setprofile(None)
    xp, K = _prepare(x, w, mode, padding)
    k = w.flip(0) if flip else w
    return torch.stack([(xp[..., j:j + K] * k).sum(-1) for j in range(xp.shape[-1] - K + 1)], -1)
"""


@pytest.mark.parametrize("check", ["conv1d_vectorized", "grade_conv1d_vectorized", "conv1d"])
def test_a_function_that_switches_off_the_profiler_is_refused(check):
    with pytest.raises(CheckFailure, match="sys.setprofile"):
        getattr(checks_signals, check)(student(HIDDEN_LOOP))


def test_the_profiler_switched_off_by_a_call_it_cannot_see_is_noticed():
    def sneaky():
        list(map(__import__("sys").setprofile, [None]))  # called from C: no c_call event

    _, calls = core.calls_made(sneaky)
    assert calls.hooks == ["sys.setprofile"]
    _, calls = core.calls_made(lambda: torch.ones(2).sum())
    assert calls.hooks == []


def test_aten_ops_made_sees_operators_however_they_are_called():
    x, w = torch.randn(1, 1, 9), torch.randn(1, 1, 3)
    for route in (lambda: torch.nn.functional.conv1d(x, w), lambda: torch.nn.Conv1d(1, 1, 3)(x),
                  lambda: torch.ops.aten.convolution(x, w, None, [1], [0], [1], False, [0], 1)):
        _, ops = core.aten_ops_made(route)
        assert any(core.is_convolution_op(op) for op in ops), ops
    _, ops = core.aten_ops_made(lambda: torch.nn.functional.max_pool2d(x[None], (1, 2)))
    assert "max_pool2d_with_indices" in ops
    _, ops = core.aten_ops_made(lambda: x.unfold(-1, 3, 1) @ w[0, 0])
    assert not any(core.is_convolution_op(op) for op in ops) and "unfold" in ops


def test_names_in_source_reads_the_students_code_when_it_can():
    fn = student_with_source("""
import torch.nn.functional as F
def helper(t):
    return t
def conv1d(x, w):
    y = getattr(F, "conv2d")(x, w)
    return helper(F.pad(y, (1, 1)))
""", "conv1d")
    names = core.names_in_source(fn)
    assert {"conv2d", "pad", "F", "getattr"} <= names and "helper" not in names  # the student's own helper is theirs
    assert core.names_in_source(student(LOOP)) is None  # no source: exec without a file


def test_from_scratch_reads_the_source_for_names_it_cannot_see_run():
    lazy = student_with_source(STUDENT_PAD + """
def conv1d(x, w, mode="same", padding="zero", flip=True):
    if x.shape[-1] > 10 ** 6:
        return torch.nn.functional.conv1d(x, w)   # never runs on the checks' inputs, still not from scratch
    xp, K = _prepare(x, w, mode, padding)
    k = w.flip(0) if flip else w
    return torch.stack([(xp[..., j:j + K] * k).sum(-1) for j in range(xp.shape[-1] - K + 1)], -1)
""", "conv1d")
    with pytest.raises(CheckFailure, match=r"calls conv1d \(named in its code\)"):
        checks_signals.conv1d(lazy)


def test_pad_keeps_the_dtype_of_x():
    own = SELF_CHECKS["pad"]
    with pytest.raises(CheckFailure, match="wrong dtype"):
        checks_signals.pad(lambda x, M, mode="zero": own(x, M, mode).double())
    with pytest.raises(CheckFailure, match="wrong dtype"):
        checks_signals.grade_pad(lambda x, M, mode="zero": own(x, M, mode).double())


def test_pad_refuses_an_unknown_mode_in_the_self_check():
    own = SELF_CHECKS["pad"]
    lenient = lambda x, M, mode="zero": own(x, M, mode if mode in ("replicate", "reflect") else "zero")  # noqa: E731
    with pytest.raises(CheckFailure, match="expected a ValueError"):
        checks_signals.pad(lenient)


def test_grading_rejects_a_loop_over_positions_for_the_vectorised_exercise():
    loop = student(LOOP)
    checks_signals.grade_conv1d(loop)  # correct and from scratch ...
    with pytest.raises(CheckFailure, match="not vectorised"):
        checks_signals.grade_conv1d_vectorized(loop)  # ... but not vectorised
    with pytest.raises(CheckFailure, match="not vectorised"):
        checks_signals.conv1d_vectorized(loop)


def test_assert_vectorized_counts_calls():
    x_small, x_large = torch.randn(8), torch.randn(200)

    def looping(x):
        return sum(float(v) for v in x)

    few, many = core.assert_vectorized("sum", torch.sum, Case((x_small,), label="8"), Case((x_large,), label="200"))
    assert many <= few + 8
    with pytest.raises(CheckFailure, match=r"sum: not vectorised: it made \d+ function calls for \[8\]"):
        core.assert_vectorized("sum", looping, Case((x_small,), label="8"), Case((x_large,), label="200"))


def test_calls_made_records_builtins_and_python_functions():
    def inner(x):
        return x + 1

    def outer(x):
        return len([inner(x)])

    result, calls = core.calls_made(outer, 1)
    assert result == 1
    assert len in calls.builtins
    assert inner.__code__ in calls.code and outer.__code__ in calls.code
    assert calls.count == len(calls.builtins) + len(calls.code)


# ============================================================================ tamper checks
def test_assert_untampered_passes_in_a_clean_process():
    assert core.assert_untampered() is None


@pytest.mark.parametrize("owner,attr,label", [
    (torch, "allclose", "torch.allclose"),
    (np, "allclose", "numpy.allclose"),
    (torch.Tensor, "tolist", "torch.Tensor.tolist"),
    (np.testing, "assert_allclose", "numpy.testing.assert_allclose"),
    (torch.testing, "assert_close", "torch.testing.assert_close"),
])
def test_assert_untampered_raises_when_a_primitive_is_replaced(monkeypatch, owner, attr, label):
    monkeypatch.setattr(owner, attr, lambda *args, **kwargs: True)
    with pytest.raises(CheckFailure, match="grading stopped") as info:
        core.assert_untampered()
    assert label in str(info.value)
    with pytest.raises(CheckFailure, match="grading stopped"):
        checks_signals.grade_pad(SELF_CHECKS["pad"])


@pytest.mark.parametrize("name", sorted(SELF_CHECKS))
def test_every_grading_check_stops_when_a_primitive_is_replaced(monkeypatch, name):
    monkeypatch.setattr(torch, "allclose", lambda *args, **kwargs: True)
    with pytest.raises(CheckFailure, match=r"grading stopped: .*torch\.allclose"):
        getattr(checks_signals, f"grade_{name}")(SELF_CHECKS[name])


def test_assert_untampered_raises_when_a_builtin_is_replaced(monkeypatch):
    import builtins

    real_sum = builtins.sum
    monkeypatch.setattr(builtins, "sum", lambda *args, **kwargs: real_sum(*args, **kwargs))
    with pytest.raises(CheckFailure, match="builtins.sum"):
        core.assert_untampered()


# ================================================================================= fresh()
def test_fresh_returns_a_new_copy_with_its_own_imports():
    copy = fresh("signals")
    assert copy is not checks_signals
    assert copy.__name__ != checks_signals.__name__
    assert copy.ref is not ref
    assert copy.core is not core
    assert fresh("signals") is not copy, "every call loads again"
    assert copy.__file__ == checks_signals.__file__


def test_fresh_rejects_a_bad_name():
    with pytest.raises(ValueError, match=r"fresh: name must be a module name"):
        fresh("../signals")


def test_fresh_grading_survives_a_notebook_that_replaced_the_checks(monkeypatch):
    wrong, cheat = student(NEVER_FLIPS), student(CALLS_REFERENCE)
    monkeypatch.setattr(checks_signals, "grade_conv1d", lambda fn: None)
    monkeypatch.setattr(core, "run_cases", lambda *args, **kwargs: 0)
    monkeypatch.setattr(ref, "conv1d", lambda x, w, *args, **kwargs: torch.zeros_like(x))
    checks_signals.grade_conv1d(wrong)  # the tampered copy accepts anything: the tampering works ...

    graded = fresh("signals")  # ... but a fresh copy still grades correctly
    graded.grade_conv1d(student(VECTORISED))
    graded.grade_conv1d_vectorized(student(VECTORISED))
    with pytest.raises(AssertionError, match="likely mistake: your output equals the cross-correlation") as info:
        graded.grade_conv1d(wrong)
    assert type(info.value).__name__ == "CheckFailure"
    with pytest.raises(AssertionError, match="course's own conv1d"):
        graded.grade_conv1d(cheat)


# ========================================================================== swapped_globals
def test_swapped_globals_binds_then_restores_the_namespace():
    fn = student("pad = 'original'\ndef f():\n    return pad, extra\n", "f")
    namespace = fn.__globals__
    with core.swapped_globals(fn, pad="swapped", extra=42):
        assert fn() == ("swapped", 42)
    assert namespace["pad"] == "original"
    assert "extra" not in namespace


def test_swapped_globals_restores_after_an_exception():
    fn = student("pad = 'original'\ndef f():\n    return pad\n", "f")
    with pytest.raises(RuntimeError):
        with core.swapped_globals(fn, pad="swapped", extra=1):
            raise RuntimeError("boom")
    assert fn() == "original"
    assert "extra" not in fn.__globals__


def test_swapped_globals_ignores_a_builtin():
    with core.swapped_globals(len, pad="swapped"):
        assert len([1, 2]) == 2


# ================================================================================ run_cases
def _double(x):
    return 2 * x


def test_run_cases_counts_passing_cases():
    cases = [Case((torch.tensor([1.0, 2.0]),)), Case((torch.tensor([3.0]),))]
    assert core.run_cases("double", lambda x: x + x, _double, cases) == 2


def test_run_cases_reports_not_implemented_yet():
    def stub(x):
        raise NotImplementedError("write me")

    with pytest.raises(CheckFailure, match=r"^double: not implemented yet"):
        core.run_cases("double", stub, _double, [Case((torch.tensor([1.0]),))])


def test_run_cases_reports_a_crash_with_its_input():
    with pytest.raises(CheckFailure, match=r"(?s)counterexample.*double\(\[1, 2\]\).*raised ZeroDivisionError: boom"):
        core.run_cases("double", lambda x: (_ for _ in ()).throw(ZeroDivisionError("boom")), _double,
                       [Case((torch.tensor([1.0, 2.0]),))])


def test_run_cases_refuses_something_that_is_not_a_function():
    with pytest.raises(CheckFailure, match="double: expected a function, got NoneType"):
        core.run_cases("double", None, _double, [])


def test_run_cases_shows_the_counterexample_and_the_likely_mistake():
    triple = lambda x: 3 * x  # noqa: E731
    mistakes = [Mistake("adds one", "you added one", lambda x: x + 1), Mistake("triples", "you tripled", triple)]
    cases = [Case((torch.tensor([0.0]),), label="zero"), Case((torch.tensor([1.0, 2.0]),), label="one two")]
    with pytest.raises(CheckFailure) as info:
        core.run_cases("double", triple, _double, cases, mistakes)
    message = str(info.value)
    assert "double([1, 2])   [one two]" in message  # zero passed; the second case is the counterexample
    assert "expected: [2, 4]" in message and "got:      [3, 6]" in message
    assert "likely mistake: you tripled" in message and "you added one" not in message


def test_run_cases_without_a_matching_mistake_gives_no_diagnosis():
    with pytest.raises(CheckFailure) as info:
        core.run_cases("double", lambda x: x - 5, _double, [Case((torch.tensor([1.0]),))],
                       [Mistake("triples", "you tripled", lambda x: 3 * x)])
    assert "likely mistake" not in str(info.value)
    assert "problem:  wrong values" in str(info.value)


def test_run_cases_gives_each_side_its_own_copy_of_the_input():
    def vandal(x):
        result = 2 * x
        x.zero_()
        return result

    x = torch.tensor([1.0, 2.0])
    case = Case((x,))
    assert core.run_cases("double", vandal, _double, [case, case]) == 2
    assert x.tolist() == [1.0, 2.0]


def test_expect_error():
    case = Case((-1,))
    core.expect_error("k", lambda M: ref.moving_average_kernel(M), case, ValueError, "hint")
    with pytest.raises(CheckFailure, match=r"k\(-1\) returned .*expected a ValueError. refuse it"):
        core.expect_error("k", lambda M: torch.zeros(1), case, ValueError, "refuse it")
    with pytest.raises(CheckFailure, match=r"k\(-1\) raised KeyError.*expected a ValueError"):
        core.expect_error("k", lambda M: {}[M], case, ValueError, "refuse it")
    with pytest.raises(CheckFailure, match="not implemented yet"):
        core.expect_error("k", lambda M: (_ for _ in ()).throw(NotImplementedError), case, ValueError, "")


# ==================================================================================== close
def test_close_accepts_equal_and_nearly_equal_tensors():
    a = torch.tensor([[1.0, -2.0], [3.0, 1e6]], dtype=torch.float64)
    assert core.close(a.clone(), a) is None
    assert core.close(a + 1e-7, a) is None
    assert core.close(torch.tensor([float("inf")]), torch.tensor([float("inf")])) is None


def test_close_compares_float32_answers_with_float64_references_by_value():
    """The kernel checks rely on this: a default-dtype (float32) kernel is checked against a float64 one."""
    w = ref.moving_average_kernel(3, dtype=torch.float64)
    assert core.close(w.float(), w) is None
    assert core.close(w.float() * 1.01, w) is not None


def test_close_reports_shape_type_dtype_and_values():
    a = torch.tensor([1.0, 2.0, 3.0])
    assert core.close(a[:2], a) == "wrong shape: expected (3,), got (2,)"
    assert core.close(a[None], a) == "wrong shape: expected (3,), got (1, 3)"
    assert core.close([1.0, 2.0, 3.0], a) == "expected a torch.Tensor, got list"
    assert core.close(torch.tensor([1, 2, 3]), a) == "expected floating-point values, got dtype torch.int64"
    problem = core.close(torch.tensor([1.0, 2.5, 3.0]), a)
    assert problem == "wrong values at 1 of 3 positions, first at index (1,): expected 2, got 2.5"
    assert core.close(torch.tensor([1.0, float("nan"), 3.0]), a).startswith("wrong values")
    assert core.close(torch.tensor([float("nan")]), torch.tensor([float("nan")])) is not None
    assert core.close(torch.tensor([float("inf")]), torch.tensor([1.0])) is not None


@pytest.mark.parametrize("got,expected", [
    (torch.tensor([0.0]), torch.tensor([float("inf")])),
    (torch.tensor([-float("inf")]), torch.tensor([float("inf")])),
    (0.0, float("inf")),
])
def test_close_rejects_a_finite_or_opposite_answer_for_an_infinite_expected_value(got, expected):
    assert core.close(got, expected) is not None


@pytest.mark.skipif(not ACCELERATORS, reason="needs a device besides the CPU")
def test_close_reports_the_wrong_device():
    a = torch.ones(2)
    assert core.close(a, a.to(ACCELERATORS[0])).startswith("wrong device")


def test_close_ints():
    assert core.close(16, 16) is None
    assert core.close(np.int64(16), 16) is None
    assert core.close(17, 16) == "expected 16, got 17"
    assert core.close(16.0, 16).startswith("expected a int, got float 16")
    assert core.close(True, 1) is not None
    assert core.close("a", "a") is None and core.close("b", "a") is not None


def test_close_floats():
    assert core.close(0.5, 0.5) is None
    assert core.close(0.5 + 1e-9, 0.5) is None
    assert core.close(1, 1.0) is None
    assert core.close(0.6, 0.5) == "expected 0.5, got 0.6"
    assert core.close(torch.tensor(0.5), 0.5).startswith("expected a Python float, got Tensor")
    assert core.close(1000.05, 1000.0) is None  # rtol 1e-4 scales with the size
    assert core.close(1000.2, 1000.0) is not None


def test_close_refuses_an_unknown_kind_of_value():
    with pytest.raises(TypeError, match="close: cannot compare values of type list"):
        core.close([1], [1])


def test_describe_is_short_and_readable():
    assert core.describe(torch.tensor([1.0, 2.5])) == "[1, 2.5]"
    assert core.describe(torch.zeros(2, 2)) == "tensor (2, 2) float32 [0, 0, 0, 0]"
    assert core.describe(torch.arange(20.0)).endswith(", ...]")
    assert core.describe(0.123456) == "0.1235"


# ------------------------------------------------------------------ trust: exact types, feedback
def test_close_prints_enough_digits_to_tell_numbers_apart():
    assert core.close(28.00001, 28.0, atol=0, rtol=0) == "expected 28, got 28.00001"
    problem = core.close(torch.tensor([1.00001], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64),
                         atol=0, rtol=0)
    assert problem.endswith("expected 1, got 1.00001")


def test_close_compares_dtype_when_the_contract_names_it():
    x = torch.ones(3, dtype=torch.float64)
    assert core.close(x.float(), x) is None
    assert "wrong dtype: expected torch.float64" in core.close(x.float(), x, dtype=True)


def test_close_refuses_subclasses_whose_comparisons_could_lie():
    class Liar(torch.Tensor):
        pass

    class LyingInt(int):
        def __eq__(self, other):
            return True

    assert core.close(torch.ones(2).as_subclass(Liar), torch.ones(2)) == "expected a torch.Tensor, got Liar"
    assert core.close(LyingInt(3), 4).startswith("expected a int, got LyingInt")
    assert core.close(LyingInt(3), 4.0).startswith("expected a Python float, got LyingInt")


def test_close_names_the_parts_of_a_tuple():
    a = torch.zeros(2)
    assert core.close((a, a + 1), (a, a), parts=("dx", "dw")).startswith("dw: wrong values")


def test_a_failure_renders_without_the_checks_traceback():
    failure = core.CheckFailure("conv: likely mistake: flipped\n  input: ...")
    assert failure._render_traceback_() == ["CheckFailure: conv: likely mistake: flipped", "  input: ..."]


def test_not_implemented_means_the_students_stub_only():
    def stub(x):
        raise NotImplementedError()

    def inside_torch(x):
        return torch.nn.functional.pad(x, (2, 2), mode="reflect")  # torch: 1-D reflect is not implemented

    with pytest.raises(CheckFailure, match="not implemented yet"):
        core.run_cases("f", stub, lambda x: x, [core.Case((torch.ones(3),))])
    try:
        inside_torch(torch.ones(3))
    except NotImplementedError:
        with pytest.raises(CheckFailure, match="raised NotImplementedError") as info:
            core.run_cases("f", inside_torch, lambda x: x, [core.Case((torch.ones(3),))])
        assert "not implemented yet" not in str(info.value)


def _course_double(x):
    return 2 * x


def test_an_exercise_runs_its_rules_in_the_self_check_and_the_grade(capsys):
    seen = []
    rule = core.Rule("returns the input's dtype", lambda f: seen.append(f) or "dtype kept")
    exercise = core.Exercise("double", _course_double,
                             lambda gen: [core.Case((torch.ones(2),))] + ([core.Case((torch.randn(3, generator=gen),))]
                                                                        if gen is not None else []),
                             rules=[rule], checked=["doubles [1, 1]"])
    exercise.check(lambda x: x * 2)
    assert "✓ double passed" in capsys.readouterr().out and len(seen) == 1
    with pytest.raises(CheckFailure):
        exercise.grade(lambda x: x * 2 if x.numel() == 2 else x)  # only a random case reveals it
    with pytest.raises(CheckFailure, match="calls the course's own _course_double"):
        exercise.check(lambda x: _course_double(x))
