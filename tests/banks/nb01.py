"""Known-wrong answers for notebook 01: the mistakes students really make.

Each :class:`Mutant` edits the instructor's answer of one solution cell (exact text
replacements, each of which must apply) or replaces it whole. Autograded as a student, its
target test cell ``test_<cell>`` must lose its points. ``explains``, when given, is text the
self-check must print for it (the likely mistake it diagnoses). The visible self-check must reject
every mutant too (tests/test_grading.py measures the agreement), except those marked
``hidden_only`` with the reason only a random case of the hidden test can reveal them.
``breaks`` names later exercises that are built on this one by design and lose their points with
it (05's capstone trains with the student's own ``train_one_epoch``): no other cell may.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ASSIGNMENT = "01_conv1d_denoising"


@dataclass(frozen=True)
class Mutant:
    cell: str
    name: str
    edits: tuple[tuple[str, str], ...] = ()
    source: str | None = None  # a whole new cell, instead of edits
    explains: str | None = None
    # Why only the hidden test's random cases can reveal it (the self-check passes it): must be justified.
    hidden_only: str | None = None
    breaks: tuple[str, ...] = ()   # later cells that use this answer by design and fail with it

    @property
    def student(self) -> str:
        # an id `cnn-course collect` keeps as it is (ASCII letters, digits, _ . -)
        return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{self.cell}__{self.name}")

    def apply(self, answer: str) -> str:
        if self.source is not None:
            return self.source
        for old, new in self.edits:
            if old not in answer:
                raise ValueError(f"mutant {self.student}: {old!r} is not in the answer of {self.cell}")
            answer = answer.replace(old, new)
        return answer


def M(cell, name, *edits, explains=None, source=None, hidden_only=None, breaks=()):
    return Mutant(cell, name, tuple(edits), source, explains, hidden_only, tuple(breaks))


def course_version(cell: str, signature: str, call: str) -> Mutant:
    """The answer that calls the course's own implementation (``signals.pad(x, M, mode)``): never an answer."""
    own = call.split(".", 1)[1].split("(")[0]
    return M(cell, "the course's version", explains=f"course's own {own}",
             source=f"\ndef {signature}:\n    return {call}\n")


def hidden_from_the_profiler(source: str) -> str:
    """``source`` whose function first switches off ``sys.setprofile``, the recorder the checks count calls with."""
    head, sep, body = source.partition("):\n")
    return "\nimport sys\n" + head + sep + "    sys.setprofile(None)\n" + body


CONV1D_LOOP = '''
def conv1d_vectorized(x, w, mode="same", padding="zero", flip=True):
    K = w.shape[0]
    M = (K - 1) // 2
    P = {"valid": 0, "same": M, "full": 2 * M}[mode]
    xp = pad(x, P, padding)
    taps = w.flip(0) if flip else w
    return torch.stack([(xp[..., j:j + K] * taps).sum(-1) for j in range(xp.shape[-1] - K + 1)], dim=-1)
'''
CONV1D_F = '''
def conv1d_vectorized(x, w, mode="same", padding="zero", flip=True):
    M = (w.shape[0] - 1) // 2
    P = {"valid": 0, "same": M, "full": 2 * M}[mode]
    xp = pad(x, P, padding)
    taps = w.flip(0) if flip else w
    flat = xp.reshape(-1, 1, xp.shape[-1])
    return F.conv1d(flat, taps[None, None]).reshape(*x.shape[:-1], -1)
'''


MUTANTS = [
    # ---- moving_average_kernel
    M("moving_average_kernel", "divides by 2M", ("1.0 / (2 * M + 1)", "1.0 / (2 * M)"),
      explains="each is 1/(2M + 1)"),
    M("moving_average_kernel", "not normalised", ("torch.full((2 * M + 1,), 1.0 / (2 * M + 1))", "torch.ones(2 * M + 1)"),
      explains="sum to 2M + 1"),
    M("moving_average_kernel", "length 2M", ("torch.full((2 * M + 1,), 1.0 / (2 * M + 1))",
                                             "torch.full((2 * M,), 1.0 / (2 * M + 1))")),
    course_version("moving_average_kernel", "moving_average_kernel(M)", "signals.moving_average_kernel(M)"),
    M("moving_average_kernel", "negative M accepted", ("    if M < 0:\n        raise ValueError(f\"M must be >= 0, got {M}\")\n", "")),
    # ---- triangle_kernel
    M("triangle_kernel", "not squared", ("/ (M + 1) ** 2", "/ (M + 1)"), explains="(M + 1)**2"),
    M("triangle_kernel", "off by one", ("(M + 1 - m.abs())", "(M - m.abs())"), explains="M + 1 - |m|, not M - |m|"),
    M("triangle_kernel", "no abs", ("(M + 1 - m.abs())", "(M + 1 - m)"), explains="use |m|"),
    course_version("triangle_kernel", "triangle_kernel(M)", "signals.triangle_kernel(M)"),
    # ---- pad
    course_version("pad", 'pad(x, M, mode="zero")', "signals.pad(x, M, mode)"),
    M("pad", "always float64", ("return torch.cat([left, x, right], dim=-1)",
                                "return torch.cat([left, x, right], dim=-1).double()"), explains="wrong dtype"),
    M("pad", "always float32", ("return torch.cat([left, x, right], dim=-1)",
                                "return torch.cat([left, x, right], dim=-1).float()"), explains="wrong dtype"),
    M("pad", "unknown mode padded with zeros", ('if mode == "zero":', 'if mode not in ("replicate", "reflect"):'),
      explains="expected a ValueError"),
    M("pad", "one side", ("torch.cat([left, x, right], dim=-1)", "torch.cat([x, left, right], dim=-1)")),
    M("pad", "symmetric reflect", ("x[..., 1:M + 1].flip(-1)", "x[..., :M].flip(-1)"),
      ("x[..., x.shape[-1] - 1 - M:-1].flip(-1)", "x[..., x.shape[-1] - M:].flip(-1)"), explains="'symmetric' padding"),
    M("pad", "replicate as zeros", ("left = x[..., :1].expand(*x.shape[:-1], M)", "left = x.new_zeros(*x.shape[:-1], M)"),
      ("right = x[..., -1:].expand(*x.shape[:-1], M)", "right = x.new_zeros(*x.shape[:-1], M)"),
      explains="whatever the mode"),
    M("pad", "first axis", ("dim=-1", "dim=0")),
    # ---- conv1d (loops)
    M("conv1d", "not flipped", ("s = -1 if flip else 1", "s = 1"), explains="the kernel was not flipped"),
    M("conv1d", "valid one short", ("L_out = xp.shape[0] - K + 1", "L_out = xp.shape[0] - K")),
    M("conv1d", "full as same", ('"full": 2 * M', '"full": M'), explains="for 'full' pad 2M"),
    M("conv1d", "padding ignored", ("pad(x, P, padding)", 'pad(x, P, "zero")'), explains="whatever the padding"),
    M("conv1d", "calls F.conv1d", explains="from scratch", source='''
def conv1d(x, w, mode="same", padding="zero", flip=True):
    M = (w.shape[0] - 1) // 2
    P = {"valid": 0, "same": M, "full": 2 * M}[mode]
    taps = w.flip(0) if flip else w
    return F.conv1d(pad(x, P, padding)[None, None], taps[None, None])[0, 0]
'''),
    M("conv1d", "calls the reference", explains="course's own conv1d", source='''
from helpers.signals import conv1d as course_conv1d

def conv1d(x, w, mode="same", padding="zero", flip=True):
    return course_conv1d(x, w, mode, padding, flip)
'''),
    # issue 16 item 9: every way around "from scratch"
    M("conv1d", "F.conv2d on a 1xN image", explains="from scratch", source='''
def conv1d(x, w, mode="same", padding="zero", flip=True):
    M = (w.shape[0] - 1) // 2
    P = {"valid": 0, "same": M, "full": 2 * M}[mode]
    taps = w.flip(0) if flip else w
    return F.conv2d(pad(x, P, padding)[None, None, None], taps[None, None, None])[0, 0, 0]
'''),
    M("conv1d", "torch.ops.aten.convolution", explains="from scratch", source='''
def conv1d(x, w, mode="same", padding="zero", flip=True):
    M = (w.shape[0] - 1) // 2
    P = {"valid": 0, "same": M, "full": 2 * M}[mode]
    taps = w.flip(0) if flip else w
    y = torch.ops.aten.convolution(pad(x, P, padding)[None, None], taps[None, None], None, [1], [0], [1], False, [0], 1)
    return y[0, 0]
'''),
    M("conv1d", "torch._convolution", explains="from scratch", source='''
def conv1d(x, w, mode="same", padding="zero", flip=True):
    M = (w.shape[0] - 1) // 2
    P = {"valid": 0, "same": M, "full": 2 * M}[mode]
    taps = w.flip(0) if flip else w
    y = torch._convolution(pad(x, P, padding)[None, None], taps[None, None], None, [1], [0], [1], False, [0], 1,
                           False, False, True, True)
    return y[0, 0]
'''),
    M("conv1d", "scipy correlate1d", explains="from scratch", source='''
from scipy.ndimage import correlate1d

def conv1d(x, w, mode="same", padding="zero", flip=True):
    K = w.shape[0]
    M = (K - 1) // 2
    P = {"valid": 0, "same": M, "full": 2 * M}[mode]
    taps = (w.flip(0) if flip else w).numpy()
    y = correlate1d(pad(x, P, padding).numpy(), taps, mode="constant")
    return torch.from_numpy(y[M:len(y) - M].copy())
'''),
    # ---- conv1d_vectorized
    M("conv1d_vectorized", "not flipped", ("(w.flip(0) if flip else w)", "w"), explains="the kernel was not flipped"),
    M("conv1d_vectorized", "python loop", explains="not vectorised", source=CONV1D_LOOP),
    M("conv1d_vectorized", "calls F.conv1d", explains="from scratch", source=CONV1D_F),
    M("conv1d_vectorized", "loop hidden from the profiler", explains="sys.setprofile",
      source=hidden_from_the_profiler(CONV1D_LOOP)),
    M("conv1d_vectorized", "torch.ops.aten.convolution", explains="from scratch", source=CONV1D_F.replace(
        "F.conv1d(flat, taps[None, None])",
        "torch.ops.aten.convolution(flat, taps[None, None], None, [1], [0], [1], False, [0], 1)")),
    course_version("conv1d_vectorized", 'conv1d_vectorized(x, w, mode="same", padding="zero", flip=True)',
                   "signals.conv1d(x, w, mode, padding, flip)"),
    M("conv1d_vectorized", "window one short", ("unfold(-1, K, 1)", "unfold(-1, K - 1, 1)")),
    # ---- causal_conv1d
    M("causal_conv1d", "centred padding", ("F.pad(x, ((K - 1) * dilation, 0))",
                                           "F.pad(x, ((K - 1) * dilation // 2, (K - 1) * dilation - (K - 1) * dilation // 2))")),
    M("causal_conv1d", "padding ignores dilation", ("((K - 1) * dilation, 0)", "(K - 1, 0)"),
      explains="not K - 1"),
    M("causal_conv1d", "padded right", ("((K - 1) * dilation, 0)", "(0, (K - 1) * dilation)"),
      explains="anti-causal"),
    M("causal_conv1d", "bias dropped", ("F.conv1d(x, w, bias, dilation=dilation)", "F.conv1d(x, w, dilation=dilation)"),
      explains="bias was not added"),
    course_version("causal_conv1d", "causal_conv1d(x, w, bias=None, dilation=1)",
                   "signals.causal_conv1d(x, w, bias, dilation)"),
    # ---- receptive_field
    M("receptive_field", "dilation ignored", ("1 + sum((kernel_size - 1) * d for d in dilations)",
                                              "1 + (kernel_size - 1) * len(dilations)"), explains="dilations were ignored"),
    M("receptive_field", "no plus one", ("1 + sum(", "sum("), explains="output's own sample"),
    M("receptive_field", "K not K - 1", ("(kernel_size - 1) * d", "kernel_size * d"), explains="not K * d"),
    course_version("receptive_field", "receptive_field(kernel_size, dilations)",
                   "signals.receptive_field(kernel_size, dilations)"),
]
