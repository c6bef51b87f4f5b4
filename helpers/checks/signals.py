"""Checks for notebook 01 (1D convolution and denoising).

Each exercise is one :class:`~helpers.checks.core.Exercise` (``PAD``, ``CONV1D`` ...): its visible
self-check (``pad(student)``) runs the fixed cases and every rule of the contract (bad input refused,
same dtype as x, from scratch, vectorised, causal, the course's own version never an answer); the
hidden test (``grade_pad(student)``) runs the same rules and adds seeded random cases. ``MISTAKES``
lists the known wrong answers used to explain a failure.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import signals as ref
from . import core
from .core import Case, Exercise, Mistake, Rule

D = torch.float64


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=D)


def _rand(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=D)


# ============================================================================= kernels
def _ma_divides_by_2m(M):
    return torch.full((2 * M + 1,), 1.0 / (2 * M) if M else float("inf"), dtype=D)


def _ma_length_2m(M):
    return torch.full((2 * M,), 1.0 / (2 * M) if M else 1.0, dtype=D)


def _ma_unnormalised(M):
    return torch.ones(2 * M + 1, dtype=D)


def _tri_not_squared(M):
    m = torch.arange(-M, M + 1, dtype=D)
    return (M + 1 - m.abs()) / (M + 1)


def _tri_off_by_one(M):
    m = torch.arange(-M, M + 1, dtype=D)
    return (M - m.abs()) / (M + 1) ** 2


def _tri_no_abs(M):
    m = torch.arange(-M, M + 1, dtype=D)
    return (M + 1 - m) / (M + 1) ** 2


MISTAKES = {
    "moving_average_kernel": [
        Mistake("divides by 2M", "the weights are 1/(2M): there are 2M + 1 of them, so each is 1/(2M + 1)",
                _ma_divides_by_2m),
        Mistake("length 2M", "you built 2M weights: m runs over -M..M inclusive, that is 2M + 1 values "
                "(range(-M, M) stops one short)", _ma_length_2m),
        Mistake("not normalised", "the weights are all 1 and sum to 2M + 1: divide by 2M + 1 so they sum to 1",
                _ma_unnormalised),
    ],
    "triangle_kernel": [
        Mistake("not squared", "you divided by M + 1; the seed divides by (M + 1)**2, which makes the weights sum to 1",
                _tri_not_squared),
        Mistake("off by one", "the end weights are 0: the numerator is M + 1 - |m|, not M - |m|", _tri_off_by_one),
        Mistake("no abs", "the weights are not symmetric: use |m| (m.abs()) in M + 1 - |m|", _tri_no_abs),
    ],
}


def _kernel_cases(gen: torch.Generator | None) -> list[Case]:
    Ms = [1, 2, 4, 10, 0] + (list(range(3, 41)) if gen is not None else [])
    return [Case((M,), label=f"M={M}") for M in Ms]


def _refuses(name: str, case: Case, what: str, hint: str, error: type[Exception] = ValueError) -> Rule:
    """A rule of the contract: ``case`` is bad input, which the function must refuse with ``error``."""
    return Rule(what, lambda student: core.expect_error(name, student, case, error, hint))


def _kernel_exercise(name: str, course: Callable, checked: list[str]) -> Exercise:
    return Exercise(name, lambda M: course(M, dtype=D), _kernel_cases, MISTAKES[name],
                    rules=[_refuses(name, Case((-1,)), "M = -1 raises ValueError",
                                    "A negative half-width makes no kernel: raise ValueError('M must be >= 0').")],
                    checked=checked, course_versions=[course])


MOVING_AVERAGE_KERNEL = _kernel_exercise("moving_average_kernel", ref.moving_average_kernel, [
    "M = 0, 1, 2, 4, 10: length 2M + 1, every weight 1/(2M + 1), so they sum to 1"])
TRIANGLE_KERNEL = _kernel_exercise("triangle_kernel", ref.triangle_kernel, [
    "M = 1 gives [1/4, 1/2, 1/4] (the seed's fact)",
    "M = 0, 2, 4, 10: w_m = (M + 1 - |m|) / (M + 1)^2, symmetric, sums to 1"])


def moving_average_kernel(student: Callable) -> None:
    """Self-check of ``moving_average_kernel(M) -> (2M + 1,)``."""
    MOVING_AVERAGE_KERNEL.check(student)


def grade_moving_average_kernel(student: Callable) -> None:
    """Hidden test: M = 0..40 and the self-check's rules."""
    MOVING_AVERAGE_KERNEL.grade(student)


def triangle_kernel(student: Callable) -> None:
    """Self-check of ``triangle_kernel(M) -> (2M + 1,)``."""
    TRIANGLE_KERNEL.check(student)


def grade_triangle_kernel(student: Callable) -> None:
    """Hidden test: M = 0..40 (M = 1 is the seed's fact) and the self-check's rules."""
    TRIANGLE_KERNEL.grade(student)


# ================================================================================= pad
def _pad_one_side(x, M, mode="zero"):
    return torch.cat([x, x.new_zeros(*x.shape[:-1], 2 * M)], -1)


def _pad_symmetric(x, M, mode="zero"):
    if mode != "reflect" or M == 0:
        return ref.pad(x, M, mode)
    return torch.cat([x[..., :M].flip(-1), x, x[..., -M:].flip(-1)], -1)


def _pad_mode_ignored(x, M, mode="zero"):
    return ref.pad(x, M, "zero")


def _pad_half(x, M, mode="zero"):
    return ref.pad(x, M // 2, mode)


MISTAKES["pad"] = [
    Mistake("one side", "all 2M new entries went to the end; add M at the start and M at the end", _pad_one_side),
    Mistake("symmetric", "your reflect repeats the edge sample (that is 'symmetric' padding); "
            "reflect mirrors about the edge: [x2, x1 | x0, x1, x2, ...]", _pad_symmetric),
    Mistake("mode ignored", "the new entries are zeros whatever the mode: handle 'replicate' and 'reflect' too",
            _pad_mode_ignored),
    Mistake("M in total", "you added M entries in total; M is the count on *each* side", _pad_half),
]


def _pad_cases(gen: torch.Generator | None = None) -> list[Case]:
    x = _t([1.0, 2.0, 3.0, 4.0, 5.0])
    cases = [Case((x, 2, mode), label=f"mode={mode!r}") for mode in ref.PADDINGS]
    cases += [Case((x, 0, mode), label="M=0 adds nothing") for mode in ref.PADDINGS]
    cases += [Case((x, 4, "reflect"), label="reflect with M = N - 1, the largest it allows")]
    cases += [Case((_t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 2, mode), label="a batch of 2 signals, (2, 3)")
              for mode in ref.PADDINGS]
    cases += [Case((torch.arange(24.0, dtype=D).reshape(2, 3, 4) ** 1.5, 3, mode), label="two leading axes, (2, 3, 4)")
              for mode in ref.PADDINGS]
    cases += [Case((x.float(), 2, mode), label="float32: the result keeps x's dtype") for mode in ref.PADDINGS]
    cases += [Case((_t([7.0]), 3, mode), label="a single sample") for mode in ("zero", "replicate")]
    if gen is not None:
        for _ in range(30):
            N = int(torch.randint(2, 20, (1,), generator=gen))
            M = int(torch.randint(0, N, (1,), generator=gen))
            mode = ref.PADDINGS[int(torch.randint(0, 3, (1,), generator=gen))]
            batch = [int(torch.randint(1, 4, (1,), generator=gen))] * int(torch.randint(0, 3, (1,), generator=gen))
            dtype = (torch.float32, D)[int(torch.randint(0, 2, (1,), generator=gen))]
            cases.append(Case((_rand(gen, *batch, N).to(dtype), M, mode),
                              label=f"random, shape {(*batch, N)}, M={M}, {str(dtype)[6:]}"))
    return cases


PAD = Exercise("pad", ref.pad, _pad_cases, MISTAKES["pad"], seed=101,
               compare=functools.partial(core.close, dtype=True),
               rules=[_refuses("pad", Case((_t([1.0, 2.0, 3.0]), 1, "circular")), "mode='circular' raises ValueError",
                               "The modes are 'zero', 'replicate' and 'reflect': raise ValueError for any other.")],
               checked=["x = [1, 2, 3, 4, 5], M = 2 in each mode: zero [0, 0 | x | 0, 0], replicate [1, 1 | x | 5, 5], "
                        "reflect [3, 2 | x | 4, 3]; reflect with M = N - 1",
                        "M = 0 returns x unchanged; a (2, 3) batch and a (2, 3, 4) batch are padded along their "
                        "last axis; a single sample",
                        "the result has x's dtype (float32 and float64 inputs)"])


def pad(student: Callable) -> None:
    """Self-check of ``pad(x, M, mode) -> (..., N + 2M)``."""
    PAD.check(student)


def grade_pad(student: Callable) -> None:
    """Hidden test: the fixed and 30 seeded random cases (batches, M = 0, float32 and float64), the rules."""
    PAD.grade(student)


# =============================================================================== conv1d
def _conv_never_flips(x, w, mode="same", padding="zero", flip=True):
    return ref.conv1d(x, w, mode, padding, flip=False)


def _conv_always_flips(x, w, mode="same", padding="zero", flip=True):
    return ref.conv1d(x, w, mode, padding, flip=True)


def _conv_valid_short(x, w, mode="same", padding="zero", flip=True):
    y = ref.conv1d(x, w, mode, padding, flip)
    return y[..., :-1] if mode == "valid" else y


def _conv_full_as_same(x, w, mode="same", padding="zero", flip=True):
    return ref.conv1d(x, w, "same" if mode == "full" else mode, padding, flip)


def _conv_zero_padding(x, w, mode="same", padding="zero", flip=True):
    return ref.conv1d(x, w, mode, "zero", flip)


MISTAKES["conv1d"] = [
    Mistake("not flipped", "your output equals the cross-correlation: the kernel was not flipped "
            "(true convolution pairs x[n - m] with w[m])", _conv_never_flips),
    Mistake("always flipped", "your output equals the true convolution, but flip=False asks for the "
            "cross-correlation sum_m x[n + m] w[m] (do not flip the kernel then)", _conv_always_flips),
    Mistake("valid one short", "your 'valid' output misses its last sample: it has N - 2M samples", _conv_valid_short),
    Mistake("full as same", "your 'full' output has N samples: for 'full' pad 2M on each side, giving N + 2M",
            _conv_full_as_same),
    Mistake("padding ignored", "the edges were computed with zero padding whatever the padding argument: "
            "pad with the requested mode", _conv_zero_padding),
]
MISTAKES["conv1d_vectorized"] = MISTAKES["conv1d"]


def _conv_cases(gen: torch.Generator | None = None, batched: bool = False, random_count: int = 40) -> list[Case]:
    x = _t([1.0, 2.0, 0.0, -1.0, 3.0, 1.0])
    w = _t([1.0, 2.0, 3.0])  # not symmetric, so flipping shows
    cases = [Case((x, w, mode, padding, flip), label=f"mode={mode!r}, padding={padding!r}, flip={flip}")
             for flip in (True, False) for mode in ref.MODES for padding in ref.PADDINGS]
    cases.append(Case((x, _t([0.5])), label="a kernel of length 1 (M = 0)"))
    cases.append(Case((x[:3], w, "valid"), label="N = K, a single valid output"))
    cases.append(Case((_t([4.0, 1.0, 0.0, 2.0, 7.0, 3.0, 5.0]), _t([1.0, -2.0, 0.5]), "full", "zero", True),
                      label="np.convolve(x, w, 'full')"))
    if batched:
        cases.append(Case((torch.stack([x, 2 * x, -x]), w, "same", "reflect"), label="a batch of 3 signals, (3, 6)"))
        cases.append(Case((torch.stack([x, -x]).reshape(2, 1, 6).expand(2, 2, 6) * _t([1.0, 0.5])[:, None],
                           _t([1.0, 0.0, -1.0, 2.0, 0.5]), "full", "replicate", False),
                          label="two leading axes, (2, 2, 6), K = 5"))
        cases.append(Case((torch.stack([x, 2 * x]), w, "valid", "zero", False), label="F.conv1d's cross-correlation"))
    if gen is not None:
        for _ in range(random_count):
            M = int(torch.randint(0, 4, (1,), generator=gen))
            N = int(torch.randint(2 * M + 1, 2 * M + 12, (1,), generator=gen))
            mode = ref.MODES[int(torch.randint(0, 3, (1,), generator=gen))]
            padding = ref.PADDINGS[int(torch.randint(0, 3 if N > 2 * M else 2, (1,), generator=gen))]
            shape = (int(torch.randint(1, 4, (1,), generator=gen)), N) if batched else (N,)
            cases.append(Case((_rand(gen, *shape), _rand(gen, 2 * M + 1), mode, padding,
                               bool(torch.rand(1, generator=gen) < 0.5)), label=f"random, N={N}, M={M}"))
    return cases


_CONV_BUILTINS = (torch.conv1d, F.conv1d, torch.conv_transpose1d, torch.convolution, torch.nn.functional.conv_transpose1d,
                  torch.conv2d, torch.conv3d)
_CONV_NAMES = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "convolution", "_convolution",
               "conv_tbc", "Conv1d", "Conv2d", "convolve", "correlate", "convolve1d", "correlate1d", "fftconvolve",
               "oaconvolve", "lfilter", "aten")
_SCIPY = ("scipy.ndimage", "scipy.signal")
_WITH_COURSE_PAD = ("checked with the course's pad, so a mistake in your pad is reported by the pad check "
                    "alone")
_FROM_SCRATCH = ("Compute each output as a sum of products x[...] * w[...] yourself; "
                 "you may call your own pad.")


def _from_scratch(name: str) -> Rule:
    case = Case((_t([4.0, 1.0, 0.0, 2.0, 7.0]), _t([1.0, 2.0, 3.0]), "same", "zero", True), label="from scratch")
    return Rule("no library convolution: F.conv1d or F.conv2d however called, torch.ops.aten, np.convolve, "
                "scipy, helpers.signals",
                lambda student: core.assert_from_scratch(
                    name, student, case, banned_builtins=_CONV_BUILTINS, banned_functions=_banned_functions(),
                    why=_FROM_SCRATCH, banned_ops=core.is_convolution_op, banned_names=_CONV_NAMES,
                    banned_packages=_SCIPY, no_threads=True))


def _banned_functions():
    return (ref.conv1d, ref.causal_conv1d, np.convolve, np.correlate)


def _with_course_pad(student: Callable):
    return core.swapped_globals(student, pad=ref.pad)  # one mistake in pad costs once


CONV1D = Exercise("conv1d", ref.conv1d, _conv_cases, MISTAKES["conv1d"], seed=202, context=_with_course_pad,
                  rules=[_from_scratch("conv1d")],
                  checked=["x = [1, 2, 0, -1, 3, 1], w = [1, 2, 3] in every mode (valid/same/full), padding "
                           "(zero/replicate/reflect) and flip (True/False): 18 cases",
                           "len(valid) = N - 2M, len(same) = N, len(full) = N + 2M; 'full' equals np.convolve",
                           "a kernel of length 1 and N = K", _WITH_COURSE_PAD])


def conv1d(student: Callable) -> None:
    """Self-check of the loop version ``conv1d(x, w, mode, padding, flip) -> (L_out,)``."""
    CONV1D.check(student)


def grade_conv1d(student: Callable) -> None:
    """Hidden test: the fixed and 40 seeded random cases, and the self-check's rules (from scratch)."""
    CONV1D.grade(student)


# ===================================================================== conv1d, vectorised
def _vector_cases() -> tuple[Case, Case]:
    gen = torch.Generator().manual_seed(11)
    w = _rand(gen, 5)
    return (Case((_rand(gen, 2, 64), w, "same", "zero", True), label="N = 64"),
            Case((_rand(gen, 2, 4096), w, "same", "zero", True), label="N = 4096"))


def _vectorised(student: Callable) -> str:
    few, many = core.assert_vectorized("conv1d_vectorized", student, *_vector_cases())
    return f"vectorised: {few} function calls for N = 64 and {many} for N = 4096"


CONV1D_VECTORIZED = Exercise(
    "conv1d_vectorized", ref.conv1d, functools.partial(_conv_cases, batched=True), MISTAKES["conv1d_vectorized"],
    seed=203, context=_with_course_pad, rules=[_from_scratch("conv1d_vectorized"), Rule("vectorised", _vectorised)],
    checked=["the 18 mode/padding/flip cases of conv1d, a (3, 6) batch, a (2, 2, 6) batch with K = 5, "
             "a kernel of length 1",
             "flip=False, mode='valid' equals torch.nn.functional.conv1d", _WITH_COURSE_PAD])


def conv1d_vectorized(student: Callable) -> None:
    """Self-check of ``conv1d_vectorized(x, w, mode, padding, flip) -> (..., L_out)``."""
    CONV1D_VECTORIZED.check(student)


def grade_conv1d_vectorized(student: Callable) -> None:
    """Hidden test: batched fixed and 40 seeded random cases, and the rules (from scratch, vectorised)."""
    CONV1D_VECTORIZED.grade(student)


# ======================================================================= causal conv1d
def _causal_centred(x, w, bias=None, dilation=1):
    return F.conv1d(x, w, bias, padding=(w.shape[-1] - 1) * dilation // 2, dilation=dilation)


def _causal_pad_ignores_dilation(x, w, bias=None, dilation=1):
    return F.conv1d(F.pad(x, (w.shape[-1] - 1, 0)), w, bias, dilation=dilation)


def _causal_pad_right(x, w, bias=None, dilation=1):
    return F.conv1d(F.pad(x, (0, (w.shape[-1] - 1) * dilation)), w, bias, dilation=dilation)


def _causal_no_bias(x, w, bias=None, dilation=1):
    return ref.causal_conv1d(x, w, None, dilation)


def _causal_taps_reversed(x, w, bias=None, dilation=1):
    return ref.causal_conv1d(x, w.flip(-1), bias, dilation)


MISTAKES["causal_conv1d"] = [
    Mistake("centred", "your output uses future samples: a causal filter pads (K - 1) * dilation zeros "
            "on the left only", _causal_centred),
    Mistake("dilation in padding", "your output is shorter than the input: the left padding must be "
            "(K - 1) * dilation, not K - 1", _causal_pad_ignores_dilation),
    Mistake("padded right", "you padded on the right: the output at t then depends on the future "
            "(an anti-causal filter); pad on the left", _causal_pad_right),
    Mistake("no bias", "the bias was not added (add bias[o] to every output of channel o)", _causal_no_bias),
    Mistake("taps reversed", "your taps are reversed: the last tap w[..., K-1] multiplies the present sample "
            "x[t], tap i the sample (K - 1 - i) * dilation steps back", _causal_taps_reversed),
]


def _causal_cases(gen: torch.Generator | None) -> list[Case]:
    x = _t([[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]])  # an impulse shows the taps
    w = _t([[[3.0, 2.0, 1.0]]])
    cases = [Case((x, w), label="an impulse, one channel, dilation 1"),
             Case((x, w, None, 2), label="an impulse, dilation 2"),
             Case((x, w, _t([0.5]), 3), label="with a bias, dilation 3")]
    return cases + _random_causal(torch.Generator().manual_seed(5), 10) + (_random_causal(gen, 40) if gen is not None else [])


def _random_causal(gen: torch.Generator, count: int) -> list[Case]:
    cases = []
    for _ in range(count):
        n, c_in, c_out = (int(torch.randint(1, 4, (1,), generator=gen)) for _ in range(3))
        K, d = int(torch.randint(1, 4, (1,), generator=gen)), int(torch.randint(1, 5, (1,), generator=gen))
        L = int(torch.randint(1, 25, (1,), generator=gen))
        bias = _rand(gen, c_out) if bool(torch.rand(1, generator=gen) < 0.7) else None
        cases.append(Case((_rand(gen, n, c_in, L), _rand(gen, c_out, c_in, K), bias, d),
                          label=f"random, (N, C_in, L) = ({n}, {c_in}, {L}), C_out={c_out}, K={K}, dilation={d}"))
    return cases


def _causal(student: Callable) -> None:
    gen = torch.Generator().manual_seed(6)
    x, w = _rand(gen, 2, 3, 30), _rand(gen, 4, 3, 3)
    for t in (0, 9, 20):
        future = x.clone()
        future[..., t + 1:] = _rand(gen, 2, 3, 30 - t - 1)
        before = core.call_student("causal_conv1d", student, Case((x.clone(), w, None, 4)))
        after = core.call_student("causal_conv1d", student, Case((future, w, None, 4)))
        if core.close(after[..., : t + 1], before[..., : t + 1]) is not None:
            raise core.CheckFailure(f"causal_conv1d is not causal: changing x after t = {t} changed the output at "
                                    f"times <= {t}. Pad (K - 1) * dilation zeros on the left only.")


CAUSAL_CONV1D = Exercise(
    "causal_conv1d", ref.causal_conv1d, _causal_cases, MISTAKES["causal_conv1d"], seed=303,
    rules=[Rule("causality: changing x after time t never changed the output up to t", _causal)],
    checked=["an impulse [1, 0, 0, ...] through w = [3, 2, 1] gives [1, 2, 3, 0, ...] at dilation 1 "
             "and [1, 0, 2, 0, 3, 0, ...] at dilation 2",
             "a bias, and 10 random batched multi-channel cases against the reference"])


def causal_conv1d(student: Callable) -> None:
    """Self-check of ``causal_conv1d(x, w, bias, dilation) -> (N, C_out, L)``."""
    CAUSAL_CONV1D.check(student)


def grade_causal_conv1d(student: Callable) -> None:
    """Hidden test: impulses, 40 more seeded random multi-channel cases, causality."""
    CAUSAL_CONV1D.grade(student)


# ===================================================================== receptive field
MISTAKES["receptive_field"] = [
    Mistake("dilation ignored", "the dilations were ignored: a layer with dilation d adds (K - 1) * d samples",
            lambda k, ds: 1 + (k - 1) * len(list(ds))),
    Mistake("no +1", "you forgot the output's own sample: start from 1, then add (K - 1) * d per layer",
            lambda k, ds: (k - 1) * sum(ds)),
    Mistake("K not K - 1", "each layer adds (K - 1) * d new samples, not K * d", lambda k, ds: 1 + k * sum(ds)),
    Mistake("product", "receptive fields add up layer by layer (1 + sum of (K - 1) * d), they do not multiply",
            lambda k, ds: int(np.prod([k * d for d in ds])) if ds else 1),
]


def _rf_cases(gen: torch.Generator | None = None) -> list[Case]:
    cases = [Case((2, [1, 2, 4, 8]), label="WaveNet, 4 layers"), Case((3, [1, 1, 1]), label="three 3-tap layers"),
             Case((2, ref.wavenet_dilations(10)), label="WaveNet, 10 layers: 2^10"),
             Case((3, []), label="no layers"), Case((5, [1, 3]), label="K = 5"), Case((1, [4, 2]), label="K = 1")]
    if gen is None:
        return cases
    for _ in range(30):
        layers = int(torch.randint(0, 8, (1,), generator=gen))
        ds = [int(torch.randint(1, 9, (1,), generator=gen)) for _ in range(layers)]
        cases.append(Case((int(torch.randint(1, 7, (1,), generator=gen)), ds), label="random stack"))
    return cases + [Case((2, ref.wavenet_dilations(L)), label=f"WaveNet, {L} layers") for L in range(1, 13)]


RECEPTIVE_FIELD = Exercise(
    "receptive_field", ref.receptive_field, _rf_cases, MISTAKES["receptive_field"], seed=404,
    checked=["K = 2, dilations 1, 2, 4, 8 -> 16; ten WaveNet layers -> 1024 = 2^10",
             "three 3-tap layers -> 7; no layers -> 1; K = 5, dilations 1, 3 -> 17; K = 1 -> 1",
             "the result is a Python int"])


def receptive_field(student: Callable) -> None:
    """Self-check of ``receptive_field(kernel_size, dilations) -> int``."""
    RECEPTIVE_FIELD.check(student)


def grade_receptive_field(student: Callable) -> None:
    """Hidden test: the fixed stacks, 30 seeded random ones, the WaveNet fact 2^L for L = 1..12."""
    RECEPTIVE_FIELD.grade(student)
