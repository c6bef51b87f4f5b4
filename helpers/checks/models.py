"""Checks for notebook 06 (case-study architectures).

Each exercise is one :class:`core.Exercise` (``COUNT_PARAMETERS``, ``LENET5`` ...) feeding both the
self-check (``checks.models.lenet5(lenet5)``) and the hidden test (``fresh("models").grade_lenet5``):
the same rules and fixed cases, the hidden test adding seeded random ones; ``MISTAKES`` explain a
wrong answer. The counting exercises (``count_parameters``, ``conv_multiplications``) compare
numbers (the models counted are parameter skeletons, no architecture's code). Four exercises
build ``nn.Module``s (``lenet5``, ``ResidualBlock``, ``Inception``, ``UpBlock``); each case's
*outcome* is a pair:

1. **structure**: the parameter shapes in creation order, compared first (a bias too many, a
   projection missing ...);
2. **behaviour**: the output with deterministic weights, set position by position (float64, batch
   norm's running statistics included), in eval and train mode. So the check finds what a
   parameter count cannot: max instead of average pooling, a ReLU before the addition, a stride on
   the wrong convolution, branches swapped.

Outcomes are plain data, so the student edition compares with stored ones and ships no model.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from typing import Callable

import torch
from torch import nn

from .. import inspect_models as ref_inspect
from .. import models as ref
from . import core
from .core import Case, CheckFailure, Mistake

D = torch.float64


def _int(gen: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=gen))


def _randn(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=D)


_OWN_WORK = ("Write it yourself with torch and torch.nn: helpers.models and helpers.inspect_models hold the "
             "course's own answers.")


def _course_answers() -> list[Callable]:
    """Every function and method of helpers.models and helpers.inspect_models (a student may not call them)."""
    found = []
    for module in (ref, ref_inspect):
        for obj in vars(module).values():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                found.append(obj)
            elif inspect.isclass(obj):
                found += [f for f in vars(obj).values() if inspect.isfunction(f)]
    return found


def _own_work(name: str, fn: Callable, case: Case) -> None:
    core.assert_from_scratch(name, fn, case, banned_functions=_course_answers(), why=_OWN_WORK)


def _own_work_rule(name: str, case: Callable[[], Case]) -> core.Rule:
    """The rule: none of the course's own answers runs (``case()`` builds the input it is checked on)."""
    return core.Rule("written by you: no call to helpers.models or helpers.inspect_models",
                     lambda student: _own_work(name, student, case()))


@contextlib.contextmanager
def _one_thread():
    """Run on one CPU thread: these tiny models are 10-20x slower when several threads wait for each other
    on a busy machine (the notebook's thread count is restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ===================================================================== count_parameters
class _Shown:
    """Gives a model a short repr for counterexamples (``count_parameters(<LeNet-5>)``)."""

    @staticmethod
    def label(model: nn.Module, text: str) -> nn.Module:
        cls = type(model)
        model.__class__ = type(cls.__name__, (cls,), {"__repr__": lambda self: f"<{text}>"})
        return model


def _skeleton(params: dict[str, tuple], buffers: dict[str, tuple] = {}, frozen: tuple[str, ...] = ()) -> nn.Module:
    """A tree of empty modules holding parameters and buffers of these dotted names and shapes (zeros), the
    parameters under a name that starts with one of ``frozen`` with requires_grad False.

    All that ``count_parameters`` reads of a model, without a model's code: the counting cases need no
    architecture (the student edition ships none of the course's LeNet-5 or residual block).
    """
    root = nn.Module()
    for table, make in ((params, lambda shape: nn.Parameter(torch.zeros(shape))), (buffers, torch.zeros)):
        for dotted, shape in table.items():
            *path, leaf = dotted.split(".")
            module = root
            for part in path:
                if not hasattr(module, part):
                    module.add_module(part, nn.Module())
                module = getattr(module, part)
            tensor = make(shape)
            if isinstance(tensor, nn.Parameter):
                tensor.requires_grad_(not dotted.startswith(frozen))
                module.register_parameter(leaf, tensor)
            else:
                module.register_buffer(leaf, tensor)
    return root


# LeNet-5's parameters (nn.Sequential positions 0, 3: convolutions; 7, 9, 11: linear layers): 61,706 numbers
_LENET_PARAMS = {"0.weight": (6, 1, 5, 5), "0.bias": (6,), "3.weight": (16, 6, 5, 5), "3.bias": (16,),
                 "7.weight": (120, 400), "7.bias": (120,), "9.weight": (84, 120), "9.bias": (84,),
                 "11.weight": (10, 84), "11.bias": (10,)}


def _block_skeleton(c_in: int, c_out: int, frozen: tuple[str, ...] = ()) -> nn.Module:
    """The parameters and batch-norm buffers of ResidualBlock(c_in, c_out, stride=2) (a projection shortcut)."""
    params = {"conv1.weight": (c_out, c_in, 3, 3), "conv2.weight": (c_out, c_out, 3, 3),
              "shortcut.0.weight": (c_out, c_in, 1, 1)}
    buffers = {}
    for bn in ("bn1", "bn2", "shortcut.1"):
        params.update({f"{bn}.weight": (c_out,), f"{bn}.bias": (c_out,)})
        buffers.update({f"{bn}.running_mean": (c_out,), f"{bn}.running_var": (c_out,), f"{bn}.num_batches_tracked": ()})
    return _skeleton(params, buffers, frozen)


class _Tied(nn.Module):
    """Two linear layers, the first registered under a second name too (its parameters count once)."""

    def __init__(self):
        super().__init__()
        self.encode, self.decode = nn.Linear(6, 4), nn.Linear(4, 6)
        self.tied = self.encode                   # the same layer under a second name

    def forward(self, x):
        return self.decode(self.encode(x))


def _count_models() -> list[tuple[nn.Module, str]]:
    return [(_skeleton(_LENET_PARAMS), "LeNet-5"),
            (_block_skeleton(4, 8), "ResidualBlock(4, 8, stride=2), with batch norm"),
            (_skeleton(_LENET_PARAMS, frozen=("0.", "3.")), "LeNet-5 with its convolutions frozen"),
            (_Tied(), "two Linear layers, one of them under two names"),
            (nn.Linear(3, 2, bias=False), "nn.Linear(3, 2, bias=False)"), (nn.Sequential(), "an empty nn.Sequential()"),
            (_block_skeleton(3, 4, frozen=("shortcut.",)), "ResidualBlock(3, 4, stride=2), shortcut frozen")]


def _extra_count_models() -> list[tuple[nn.Module, str]]:
    """The hidden test's bigger models (torchvision's on the meta device: nothing allocated)."""
    import torchvision  # 1.5 s to import: only the hidden test needs it

    with torch.device("meta"):
        vgg, alex = torchvision.models.vgg16(weights=None), torchvision.models.alexnet(weights=None)
    return [(vgg, "torchvision's VGG-16 on the meta device"), (alex, "torchvision's AlexNet on the meta device"),
            (ref.Inception(192, 64, 96, 128, 16, 32, 32), "seed 001's Inception module")]


def _count_cases(models=None) -> list[Case]:
    cases = []
    for model, text in models or _count_models():
        shown = _Shown.label(model, text)
        cases += [Case((shown,), label=text), Case((shown, True), label=f"{text}, trainable_only=True")]
    return cases


def _count_weights_only(model, trainable_only=False):
    return sum(p.numel() for name, p in model.named_parameters() if name.endswith("weight")
               and (p.requires_grad or not trainable_only))


def _count_per_module(model, trainable_only=False):
    return sum(p.numel() for m in model.modules() for p in m.parameters() if p.requires_grad or not trainable_only)


MISTAKES = {
    "count_parameters": [
        Mistake("weights only", "biases are parameters too: count every tensor of model.parameters(), "
                "not only the weights", _count_weights_only),
        Mistake("counted per module", "every parameter was counted several times: model.parameters() already "
                "walks through all submodules, so do not add up module.parameters() over model.modules()",
                _count_per_module),
        Mistake("tensors not numbers", "you counted parameter tensors; count the numbers in them (p.numel())",
                lambda model, trainable_only=False: len([p for p in model.parameters()
                                                         if p.requires_grad or not trainable_only])),
        Mistake("buffers counted", "buffers (batch norm's running mean and variance) are not learned: count "
                "model.parameters() only, not model.buffers() or the state_dict",
                lambda model, trainable_only=False: ref_inspect.count_parameters(model, trainable_only)
                + sum(b.numel() for b in model.buffers())),
        Mistake("trainable_only ignored", "with trainable_only=True count only the parameters with "
                "p.requires_grad (frozen ones are left out)",
                lambda model, trainable_only=False: ref_inspect.count_parameters(model)),
        Mistake("trainable_only inverted", "trainable_only=True keeps the parameters with requires_grad=True "
                "and leaves the frozen ones out; you did the opposite",
                lambda model, trainable_only=False: sum(p.numel() for p in model.parameters()
                                                        if (not p.requires_grad) == trainable_only
                                                        or not trainable_only)),
        Mistake("shared counted twice", "a tensor shared by two layers (or one layer under two names) holds "
                "one set of numbers: count it once, as model.parameters() does",
                lambda model, trainable_only=False: sum(p.numel() for _, p in model.named_parameters(
                    remove_duplicate=False) if p.requires_grad or not trainable_only)),
    ],
}


COUNT_PARAMETERS = core.Exercise(
    "count_parameters", ref_inspect.count_parameters,
    lambda gen: _count_cases(_count_models() + ([] if gen is None else _extra_count_models())),
    MISTAKES["count_parameters"], [_own_work_rule("count_parameters", lambda: _count_cases()[2])],
    ["LeNet-5: 61,706 (weights and biases); with its convolutions frozen, trainable_only=True gives 59,134",
     "a residual block with batch norm: the running statistics (buffers) are not counted",
     "a weight shared by two layers is counted once; no parameters at all gives 0"], course_versions=[])


@_one_thread()
def count_parameters(student: Callable) -> None:
    """Self-check of ``count_parameters(model, trainable_only=False) -> int``."""
    COUNT_PARAMETERS.check(student)


@_one_thread()
def grade_count_parameters(student: Callable) -> None:
    """Hidden test: the same rules and models, meta VGG-16 and AlexNet with their seed facts, an Inception module."""
    COUNT_PARAMETERS.grade(student)
    vgg, alex, _ = _count_cases(_extra_count_models())[::2]
    core.run_cases("count_parameters", student, lambda *a: 138_357_544, [vgg])
    core.run_cases("count_parameters", student, lambda *a: 61_100_840, [alex])


# ===================================================================== conv_multiplications
def _mults(in_shape, out_channels, kernel_size, stride=1, padding=0):
    return ref_inspect.conv_multiplications(tuple(in_shape), out_channels, kernel_size, stride, padding)


def _out(n, k, s, p):
    return (n + 2 * p - k) // s + 1


MISTAKES["conv_multiplications"] = [
    Mistake("input size", "count one dot product per *output* value: use H_out = (H + 2P - K) // S + 1 (and W_out), "
            "not the input's H and W", lambda shp, co, k, s=1, p=0: shp[1] * shp[2] * co * k * k * shp[0]),
    Mistake("C_in missing", "each kernel spans all C_in input channels: a dot product has K * K * C_in "
            "multiplications", lambda shp, co, k, s=1, p=0: _out(shp[1], k, s, p) * _out(shp[2], k, s, p) * co * k * k),
    Mistake("bias counted", "adding the bias is an addition, not a multiplication: K * K * C_in per output, not "
            "K * K * C_in + 1", lambda shp, co, k, s=1, p=0: _out(shp[1], k, s, p) * _out(shp[2], k, s, p) * co
            * (k * k * shp[0] + 1)),
    Mistake("kernel not squared", "a K x K kernel has K * K weights per input channel, not K",
            lambda shp, co, k, s=1, p=0: _out(shp[1], k, s, p) * _out(shp[2], k, s, p) * co * k * shp[0]),
    Mistake("stride ignored", "the stride was ignored: H_out = (H + 2P - K) // S + 1",
            lambda shp, co, k, s=1, p=0: _mults(shp, co, k, 1, p)),
    Mistake("padding ignored", "the padding was ignored: a 'same' convolution keeps H_out = H, "
            "H_out = (H + 2P - K) // S + 1", lambda shp, co, k, s=1, p=0: _mults(shp, co, k, s, 0)),
    Mistake("C_out missing", "every one of the C_out kernels does its own dot products: multiply by out_channels",
            lambda shp, co, k, s=1, p=0: _mults(shp, 1, k, s, p)),
    Mistake("ceil", "H_out rounds DOWN: (H + 2P - K) // S + 1 (a window that does not fit is not computed), not "
            "up with ceil", lambda shp, co, k, s=1, p=0: _ceil_out(shp[1], k, s, p) * _ceil_out(shp[2], k, s, p)
            * co * k * k * shp[0]),
    Mistake("true division", "the count is a whole number: use floor division (//) for H_out and return an int, "
            "not the float of (H + 2P - K) / S + 1",
            lambda shp, co, k, s=1, p=0: ((shp[1] + 2 * p - k) / s + 1) * ((shp[2] + 2 * p - k) / s + 1)
            * co * k * k * shp[0]),
]


def _ceil_out(n, k, s, p):
    return -(-(n + 2 * p - k) // s) + 1


def _mult_cases(gen: torch.Generator | None = None, count: int = 0) -> list[Case]:
    cases = [Case(((192, 28, 28), 32, 5, 1, 2), label="seed 001: 28x28x192, 5x5 same, 32 filters -> 120,422,400"),
             Case(((192, 28, 28), 16, 1), label="seed 001's bottleneck: 1x1, 16 filters -> 2,408,448"),
             Case(((16, 28, 28), 32, 5, 1, 2), label="then 5x5 same, 32 filters -> 10,035,200"),
             Case(((3, 227, 227), 96, 11, 4), label="AlexNet's first layer: 11x11, stride 4, valid -> 55x55x96"),
             Case(((1, 32, 32), 6, 5), label="LeNet-5's first layer: valid 5x5 -> 28x28x6"),
             Case(((8, 9, 7), 4, 3, 2, 1), label="non-square 9x7, stride 2, padding 1"),
             Case(((3, 10, 11), 4, 3, 2), label="stride 2 that does not divide H + 2P - K = 7: H_out = 7 // 2 + 1 = 4")]
    for _ in range(count):
        k, s = _int(gen, 1, 7), _int(gen, 1, 3)
        p = _int(gen, 0, k // 2)
        shape = (_int(gen, 1, 64), _int(gen, max(1, k - 2 * p), 40), _int(gen, max(1, k - 2 * p), 40))
        cases.append(Case((shape, _int(gen, 1, 64), k, s, p), label="random"))
    return cases


def _bottleneck(student: Callable) -> None:
    total = core.call_student("conv_multiplications", student, Case(((192, 28, 28), 16, 1))) + \
        core.call_student("conv_multiplications", student, Case(((16, 28, 28), 32, 5, 1, 2)))
    if total != 12_443_648:
        raise CheckFailure(f"conv_multiplications: the bottleneck of seed 001 costs 12,443,648 multiplications, "
                           f"your function gives {total:,}")


CONV_MULTIPLICATIONS = core.Exercise(
    "conv_multiplications", _mults,
    lambda gen: _mult_cases() + ([] if gen is None else _mult_cases(gen, 50)[len(_mult_cases()):]),
    MISTAKES["conv_multiplications"],
    [_own_work_rule("conv_multiplications", lambda: _mult_cases()[3]),
     core.Rule("seed 001's 1x1 bottleneck of 16 then the 5x5: 2,408,448 + 10,035,200 = 12,443,648", _bottleneck)],
    ["seed 001: 28x28x192 -> 5x5 same, 32 filters: 120,422,400",
     "valid convolutions (LeNet-5), stride 4 (AlexNet), stride 2 with padding on a non-square input",
     "a stride that does not divide the size: H_out rounds down (//); the result is a Python int"],
    seed=61, course_versions=[])


@_one_thread()
def conv_multiplications(student: Callable) -> None:
    """Self-check of ``conv_multiplications(in_shape, out_channels, kernel_size, stride=1, padding=0) -> int``."""
    CONV_MULTIPLICATIONS.check(student)


@_one_thread()
def grade_conv_multiplications(student: Callable) -> None:
    """Hidden test: the same rules, the fixed cases and 50 seeded random convolutions."""
    CONV_MULTIPLICATIONS.grade(student)


# ===================================================================== modules: structure and behaviour
def _shapes(model: nn.Module) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(p.shape) for p in model.parameters())


@torch.no_grad()
def _fill(model: nn.Module, seed: int = 0) -> nn.Module:
    """Deterministic float64 weights by position: the same for any two models with the same parameter shapes."""
    gen = torch.Generator().manual_seed(seed)
    model.to(D)
    for p in model.parameters():
        p.copy_(0.4 * torch.randn(p.shape, generator=gen, dtype=D))
    for name, b in model.named_buffers():
        if b.is_floating_point():
            b.copy_(0.5 + torch.rand(b.shape, generator=gen, dtype=D) if name.endswith("var")
                    else 0.2 * torch.randn(b.shape, generator=gen, dtype=D))
    return model


class _Modules:
    """The common machinery of the four model exercises (one instance per exercise).

    A model is checked through its *outcome* on a case ``(args, inputs, train)``: the pair
    ``(parameter shapes in creation order, output with the fixed weights)``, the output being the
    text of the error when the forward pass fails. :meth:`compare` reads the shapes first (a
    counterexample then says which parameters differ), then the outputs.
    """

    def __init__(self, name: str, crash_hint: str, forward=None):
        self.name, self.crash_hint = name, crash_hint
        self.forward = forward or (lambda model, inputs: model(*inputs))

    def build(self, factory: Callable, args: tuple) -> nn.Module:
        model = factory(*args)
        if not isinstance(model, nn.Module):
            raise CheckFailure(f"{self.name}{args}: expected an nn.Module, got {type(model).__name__}")
        return model

    def probe(self, factory: Callable) -> Callable:
        """``fn(args, inputs, train) -> (shapes, output)`` of the model built by ``factory`` with the fixed weights."""
        def run(args, inputs, train=False):
            model = self.build(factory, args)
            shapes = _shapes(model)
            try:
                return shapes, self.forward(_fill(model).train(train), inputs)
            except NotImplementedError:
                raise                                   # the student's stub: "not implemented yet"
            except RuntimeError as exc:                 # wrong sizes: shown after the shapes, with the hint
                return shapes, f"the forward pass raised RuntimeError: {exc}\n  hint: {self.crash_hint}"
        # a class's stub raises in its own methods: unwrap to its own __init__ so core sees the student's code
        # (not an inherited one: a subclass of the course's class is not the student's stub)
        run.__wrapped__ = vars(factory).get("__init__", factory) if isinstance(factory, type) else factory
        run.factory = factory
        return run

    def compare(self, got, expected) -> str | None:
        """The parameter shapes, then the outputs (or the same error) of two outcomes of :meth:`probe`."""
        (got_shapes, got_out), (shapes, out) = got, expected
        if got_shapes != shapes:
            return (f"the parameters (in the order the layers are created) have the wrong shapes.\n"
                    f"  expected: {list(shapes)}\n  got:      {list(got_shapes)}")
        if isinstance(got_out, str) or isinstance(out, str):
            return None if got_out == out else got_out if isinstance(got_out, str) else f"expected {out}"
        return core.close(got_out, out)

    def own_work(self, cases: Callable) -> core.Rule:
        """The rule: the model's code calls none of the course's answers (checked on the first fixed case)."""
        return _own_work_rule(self.name, lambda: cases(None)[0])


class _Inputs(tuple):
    """The input tensors of a forward pass, shown by their shapes in counterexamples."""

    def __repr__(self) -> str:
        return "(" + ", ".join(f"tensor of shape {tuple(t.shape)}" for t in self) + ")"


def _case(args: tuple, inputs: tuple, train: bool, label: str) -> Case:
    return Case((args, _Inputs(inputs), train), label=label + (", train mode" if train else ""))


# ===================================================================== lenet5
class _LeNet:
    """Wrong LeNet-5s; each returns an nn.Sequential with a mistake."""

    @staticmethod
    def build(act=nn.Tanh, pool=nn.AvgPool2d, pad=0, fc_act=True, bias=True, c2=16) -> nn.Sequential:
        fc = [act()] if fc_act else []
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=pad, bias=bias), act(), pool(2),
                             nn.Conv2d(6, c2, 5, bias=bias), act(), pool(2), nn.Flatten(),
                             nn.Linear(c2 * 25, 120, bias=bias), *fc, nn.Linear(120, 84, bias=bias), *fc,
                             nn.Linear(84, 10, bias=bias))


MISTAKES["lenet5"] = [
    Mistake("max pooling", "LeNet-5 pools by averaging: nn.AvgPool2d(2), not nn.MaxPool2d (same shapes and count, "
            "different outputs)", lambda: _LeNet.build(pool=nn.MaxPool2d)),
    Mistake("ReLU", "LeNet-5 uses tanh (nn.Tanh()) after each convolution and hidden linear layer, not ReLU",
            lambda: _LeNet.build(act=nn.ReLU)),
    Mistake("sigmoid", "LeNet-5 here uses tanh (nn.Tanh()), not the sigmoid", lambda: _LeNet.build(act=nn.Sigmoid)),
    Mistake("no activation between the linear layers", "put a tanh after the 120- and the 84-unit layers too: "
            "without it the three linear layers collapse into one", lambda: _LeNet.build(fc_act=False)),
    Mistake("no bias", "every convolution and linear layer of LeNet-5 has a bias (the default bias=True)",
            lambda: _LeNet.build(bias=False)),
]
_LENET = _Modules("lenet5", "LeNet-5's convolutions are valid (no padding): 32 -> 28 -> 14 -> 10 -> 5, "
                  "so the first linear layer reads 16 * 5 * 5 = 400 numbers")


def _lenet_cases(gen: torch.Generator | None) -> list[Case]:
    """Random 32x32 images (seed 0); the hidden test adds 5 in [0, 1] from its ``gen``."""
    images = torch.Generator().manual_seed(0)
    cases = [_case((), (_randn(images, 3, 1, 32, 32),), False, "a batch of 3 random 32x32 images"),
             _case((), (_randn(images, 1, 1, 32, 32),), True, "one image")]
    if gen is not None:
        cases.append(_case((), (torch.rand(5, 1, 32, 32, generator=gen, dtype=D),), False, "5 images in [0, 1]"))
    return cases


def _lenet_count(probe: Callable) -> str:
    count = sum(math.prod(shape) for shape in _shapes(core.call_student("lenet5", probe.factory, Case(()))))
    if count != 61_706:
        raise CheckFailure(f"lenet5: LeNet-5 has 61,706 parameters, yours {count:,}")
    return (f"{count:,} parameters, in the shapes and order of conv 5x5 (6), conv 5x5 (16), 400 -> 120 -> 84 -> 10")


LENET5 = core.Exercise(
    "lenet5", _LENET.probe(ref.lenet5), _lenet_cases,
    [Mistake(m.name, m.explain, _LENET.probe(m.fn)) for m in MISTAKES["lenet5"]],
    [_LENET.own_work(_lenet_cases), core.Rule("61,706 parameters", _lenet_count)],
    ["with fixed weights, the same outputs as the reference on random 32x32 images: tanh activations, average "
     "pooling, valid convolutions"],
    seed=62, compare=_LENET.compare, course_versions=[])


@_one_thread()
def lenet5(student: Callable) -> None:
    """Self-check of ``lenet5() -> nn.Module`` mapping (N, 1, 32, 32) to (N, 10)."""
    LENET5.check(_LENET.probe(student))


@_one_thread()
def grade_lenet5(student: Callable) -> None:
    """Hidden test: the same rules, the self-check's images and 5 more in [0, 1]."""
    LENET5.grade(_LENET.probe(student))


# ===================================================================== ResidualBlock
class _Block(ref.ResidualBlock):
    """The reference block with one forward mistake, selected by ``variant``."""

    variant = ""

    def forward(self, a):
        if self.variant == "relu before add":
            return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(a)))))) + self.shortcut(a)
        z = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(a)))))
        if self.variant == "no final relu":
            return z + self.shortcut(a)
        if self.variant == "no inner relu":
            return torch.relu(self.bn2(self.conv2(self.bn1(self.conv1(a)))) + self.shortcut(a))
        if self.variant == "shortcut from z":
            return torch.relu(z + z)
        return super().forward(a)


def _block_variant(variant: str) -> Callable:
    return type(f"Block_{variant.replace(' ', '_')}", (_Block,), {"variant": variant})


class _StrideLate(ref.ResidualBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        self.conv1.stride, self.conv2.stride = (1, 1), (stride, stride)


class _ShapedBlock(ref.ResidualBlock):
    """Structural mistakes: biases on the convolutions, projection always / without batch norm / with a bias."""

    def __init__(self, in_channels, out_channels, stride=1, bias=False, always=False, proj_bn=True, proj_bias=False):
        nn.Module.__init__(self)
        self.residual = True
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=bias)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=bias)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if always or stride != 1 or in_channels != out_channels:
            proj = [nn.Conv2d(in_channels, out_channels, 1, stride, bias=proj_bias)]
            self.shortcut = nn.Sequential(*proj, *([nn.BatchNorm2d(out_channels)] if proj_bn else []))


class _NoProjection(ref.ResidualBlock):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        self.shortcut = nn.Identity()


def _shaped(**kw) -> Callable:
    return lambda i, o, s=1: _ShapedBlock(i, o, s, **kw)


MISTAKES["ResidualBlock"] = [
    Mistake("ReLU before the addition", "apply the ReLU after the addition: a_out = relu(z + shortcut(a)); "
            "relu(z) + shortcut(a) lets the block output negative values and breaks g(z[l+2] + a[l])",
            _block_variant("relu before add")),
    Mistake("no final ReLU", "the block ends with g, a ReLU, after the addition: relu(z + shortcut(a))",
            _block_variant("no final relu")),
    Mistake("no inner ReLU", "there is a ReLU between the two convolutions: relu(bn1(conv1(a)))",
            _block_variant("no inner relu")),
    Mistake("stride on the second convolution", "the stride belongs to the first convolution (conv1), as in "
            "ResNet: conv2 always has stride 1", _StrideLate),
    Mistake("biases on the convolutions", "the 3x3 convolutions have no bias (bias=False): the batch norm right "
            "after each one has its own shift, so a bias would be wasted", _shaped(bias=True)),
    Mistake("projection missing", "when stride != 1 or C_in != C_out, z and a have different shapes: the "
            "shortcut must be a projection, nn.Sequential(nn.Conv2d(C_in, C_out, 1, stride, bias=False), "
            "nn.BatchNorm2d(C_out))", _NoProjection),
    Mistake("projection always", "use the identity shortcut (nn.Identity()) when the shapes agree (stride 1 and "
            "C_in == C_out); a projection only when they do not", _shaped(always=True)),
    Mistake("projection without batch norm", "the projection is a 1x1 convolution (bias=False) followed by "
            "nn.BatchNorm2d(C_out)", _shaped(proj_bn=False)),
    Mistake("projection with a bias", "the projection's 1x1 convolution has no bias (bias=False); batch norm "
            "follows it", _shaped(proj_bias=True)),
]
_BLOCK = _Modules("ResidualBlock",
                  "z and shortcut(a) must have the same shape to be added: keep the size with padding=1 on the "
                  "3x3 convolutions, and when stride != 1 or C_in != C_out use a projection shortcut, a 1x1 "
                  "convolution with the block's stride (and batch norm)")
_BLOCK_CONFIGS = [(4, 4, 1), (3, 6, 1), (4, 4, 2), (3, 5, 2)]


def _block_cases(gen: torch.Generator | None, count: int = 16) -> list[Case]:
    """The fixed blocks (inputs of seed 0); the hidden test adds ``count`` random ones from its ``gen``."""
    cases = _fixed_block_cases(torch.Generator().manual_seed(0))
    for _ in range(count if gen is not None else 0):
        c_in, c_out, s = _int(gen, 1, 6), _int(gen, 1, 6), _int(gen, 1, 2)
        h, w = _int(gen, 1, 9), _int(gen, 1, 9)
        cases.append(_case((c_in, c_out, s), (_randn(gen, _int(gen, 2, 3), c_in, h, w),), bool(_int(gen, 0, 1)),
                           f"random: C_in {c_in}, C_out {c_out}, stride {s}, {h}x{w}"))
    return cases


def _fixed_block_cases(gen: torch.Generator) -> list[Case]:
    cases = []
    for c_in, c_out, s in _BLOCK_CONFIGS:
        kind = "identity" if (c_in, s) == (c_out, 1) else "projection"
        for train in (False, True):
            cases.append(_case((c_in, c_out, s), (_randn(gen, 2, c_in, 6, 5),), train,
                               f"{kind} shortcut: C_in {c_in}, C_out {c_out}, stride {s}"))
    return cases


def _definition(probe: Callable) -> None:
    """The student's block equals relu(bn2(conv2(relu(bn1(conv1(a))))) + shortcut(a)) computed from its own layers."""
    student, gen = probe.factory, torch.Generator().manual_seed(1)
    for c_in, c_out, s in _BLOCK_CONFIGS:
        block = _fill(student(c_in, c_out, s)).eval()
        a = _randn(gen, 2, c_in, 7, 7)
        z = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(a)))))
        problem = core.close(block(a), torch.relu(z + block.shortcut(a)))
        if problem:
            raise CheckFailure(f"ResidualBlock({c_in}, {c_out}, {s}): the output is not g(z + shortcut(a)) with "
                               f"z = bn2(conv2(relu(bn1(conv1(a))))): {problem}")
        if (c_in, s) == (c_out, 1):
            _is_identity(block.shortcut, a, (c_in, c_out, s))
        elif not isinstance(block.shortcut, nn.Sequential):
            raise CheckFailure(f"ResidualBlock({c_in}, {c_out}, {s}): the projection shortcut should be an "
                               f"nn.Sequential(conv 1x1, batch norm), got {type(block.shortcut).__name__}")


def _is_identity(shortcut: nn.Module, a: torch.Tensor, args: tuple) -> None:
    """Any shortcut without parameters that returns its input unchanged is the identity (nn.Identity(), or the
    widely copied nn.Sequential())."""
    if any(True for _ in shortcut.parameters()) or not torch.equal(shortcut(a), a):
        raise CheckFailure(f"ResidualBlock{args}: when stride is 1 and C_in == C_out the shortcut is the identity "
                           f"(nn.Identity(), no parameters), got {type(shortcut).__name__} with "
                           f"{sum(p.numel() for p in shortcut.parameters())} parameters")


RESIDUAL_BLOCK = core.Exercise(
    "ResidualBlock", _BLOCK.probe(ref.ResidualBlock), _block_cases,
    [Mistake(m.name, m.explain, _BLOCK.probe(m.fn)) for m in MISTAKES["ResidualBlock"]],
    [_BLOCK.own_work(_block_cases),
     core.Rule("the output is relu(z + shortcut(a)) computed from your own layers: the ReLU comes after the addition",
               _definition)],
    ["identity shortcut for (4, 4, stride 1); 1x1 projection with batch norm for (3, 6, 1), (4, 4, 2), (3, 5, 2)",
     "the parameters have the reference's shapes (no conv biases); with the same weights, the same outputs "
     "in eval and train mode, stride 2 on odd sizes included"],
    seed=63, compare=_BLOCK.compare, course_versions=[])


@_one_thread()
def ResidualBlock(student: Callable) -> None:  # noqa: N802 (named after the exercise)
    """Self-check of ``ResidualBlock(in_channels, out_channels, stride=1)``: (N, C_in, H, W) -> (N, C_out, H', W')."""
    RESIDUAL_BLOCK.check(_BLOCK.probe(student))


@_one_thread()
def grade_ResidualBlock(student: Callable) -> None:  # noqa: N802
    """Hidden test: structure and behaviour on the fixed and 16 seeded random blocks, the definition g(z + a)."""
    RESIDUAL_BLOCK.grade(_BLOCK.probe(student))


# ===================================================================== Inception
class _Inception(ref.Inception):
    """The reference module with one forward mistake."""

    variant = ""

    def forward(self, x):
        b1, b3, b5, bp = self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)
        if self.variant == "order":
            return torch.cat([b1, b5, b3, bp], dim=1)
        if self.variant == "batch axis":
            return torch.cat([b1, b3, b5, bp], dim=0)
        if self.variant == "width axis":
            return torch.cat([b1, b3, b5, bp], dim=-1)
        if self.variant == "added":
            return b1 + b3 + b5 + bp
        if self.variant == "pool after":
            return torch.cat([b1, b3, b5, nn.functional.max_pool2d(self.branch_pool[1:](x), 3, 1, 1)], dim=1)
        return super().forward(x)


def _inception_variant(variant: str) -> Callable:
    return type(f"Inception_{variant.replace(' ', '_')}", (_Inception,), {"variant": variant})


class _NoReduceReLU(ref.Inception):
    def __init__(self, *args):
        super().__init__(*args)
        self.branch3 = nn.Sequential(self.branch3[0], self.branch3[2], self.branch3[3])
        self.branch5 = nn.Sequential(self.branch5[0], self.branch5[2], self.branch5[3])


class _AvgPoolBranch(ref.Inception):
    def __init__(self, *args):
        super().__init__(*args)
        self.branch_pool[0] = nn.AvgPool2d(3, stride=1, padding=1)


MISTAKES["Inception"] = [
    Mistake("branches in another order", "concatenate the branches in the order of the contract: 1x1, 3x3, 5x5, "
            "pooling", _inception_variant("order")),
    Mistake("concatenated along the batch", "concatenate along the channels, dim=1: (N, C, H, W) has the batch "
            "on dim 0", _inception_variant("batch axis")),
    Mistake("concatenated along the width", "concatenate along the channels, dim=1 (the last axis, -1, is the "
            "width)", _inception_variant("width axis")),
    Mistake("branches added", "the branches are concatenated (torch.cat(..., dim=1)), not added: the output has "
            "c1 + c3 + c5 + pool_proj channels", _inception_variant("added")),
    Mistake("pooling after the 1x1", "the pooling branch pools first (3x3 max pooling, stride 1, padding 1), "
            "then projects with the 1x1 convolution", _inception_variant("pool after")),
    Mistake("no ReLU after the reductions", "every convolution is followed by a ReLU, the 1x1 reductions before "
            "the 3x3 and 5x5 convolutions too", _NoReduceReLU),
    Mistake("average pooling", "the pooling branch uses max pooling (nn.MaxPool2d(3, stride=1, padding=1))",
            _AvgPoolBranch),
]
_INCEPTION = _Modules("Inception",
                      "every branch must keep H and W so that torch.cat can join them along the channels (dim=1): "
                      "padding=1 for the 3x3 convolution, padding=2 for the 5x5, and for the pooling "
                      "nn.MaxPool2d(3, stride=1, padding=1) (its stride defaults to the kernel size, 3)")
_SEED_INCEPTION = (192, 64, 96, 128, 16, 32, 32)
_INCEPTION_CONFIGS = [(4, 3, 3, 3, 3, 3, 3), (6, 2, 3, 4, 2, 3, 2), (1, 1, 2, 1, 1, 2, 1)]


def _inception_cases(gen: torch.Generator | None, count: int = 12) -> list[Case]:
    """The fixed modules (inputs of seed 0); the hidden test adds ``count`` random ones from its ``gen``."""
    fixed = torch.Generator().manual_seed(0)
    cases = [_case(args, (_randn(fixed, 2, args[0], 7, 6),), False, f"Inception{args} on 7x6 maps")
             for args in _INCEPTION_CONFIGS]
    cases.append(_case(_SEED_INCEPTION, (_randn(fixed, 1, 192, 28, 28),), False, "seed 001: 28x28x192 -> 28x28x256"))
    for _ in range(count if gen is not None else 0):
        args = tuple(_int(gen, 1, 5) for _ in range(7))
        h, w = _int(gen, 1, 8), _int(gen, 1, 8)
        cases.append(_case(args, (_randn(gen, _int(gen, 1, 3), args[0], h, w),), False, f"random, {h}x{w} maps"))
    return cases


INCEPTION = core.Exercise(
    "Inception", _INCEPTION.probe(ref.Inception), _inception_cases,
    [Mistake(m.name, m.explain, _INCEPTION.probe(m.fn)) for m in MISTAKES["Inception"]],
    [_INCEPTION.own_work(_inception_cases),
     core.Rule("seed 001's module: 28x28x192 -> 28x28x256 (64 + 128 + 32 + 32 channels)",
               lambda probe: _seed_shape(probe.factory))],
    ["the parameters have the reference's shapes in the order branch 1x1, 3x3, 5x5, pooling; with the same "
     "weights, the same outputs (ReLUs, max pooling first in its branch, concatenation order and axis)"],
    seed=64, compare=_INCEPTION.compare, course_versions=[])


@_one_thread()
def Inception(student: Callable) -> None:  # noqa: N802
    """Self-check of ``Inception(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)``."""
    INCEPTION.check(_INCEPTION.probe(student))


@_one_thread()
def grade_Inception(student: Callable) -> None:  # noqa: N802
    """Hidden test: structure and outputs on the fixed and 12 seeded random modules, the seed's shape."""
    INCEPTION.grade(_INCEPTION.probe(student))


def _seed_shape(student: Callable) -> None:
    model = core.call_student("Inception", student, Case(_SEED_INCEPTION))
    with torch.no_grad():
        shape = tuple(model(torch.zeros(1, 192, 28, 28)).shape)
    if shape != (1, 256, 28, 28):
        raise CheckFailure(f"Inception{_SEED_INCEPTION}: 28x28x192 must give (1, 256, 28, 28), got {shape}")


# ===================================================================== UpBlock
class _Up(ref.UpBlock):
    variant = ""

    def forward(self, x, skip):
        up = self.up(x)
        if self.variant == "skip first":
            return self.conv(torch.cat([skip, up], dim=1))
        return super().forward(x, skip)


def _up_variant(variant: str) -> Callable:
    return type(f"Up_{variant.replace(' ', '_')}", (_Up,), {"variant": variant})


class _UpValid(ref.UpBlock):
    def __init__(self, i, s, o):
        super().__init__(i, s, o)
        for layer in self.conv:
            if isinstance(layer, nn.Conv2d):
                layer.padding = (0, 0)


class _UpNoSkip(ref.UpBlock):
    def __init__(self, i, s, o):
        super().__init__(i, s, o)
        self.conv = ref.double_conv(o, o)

    def forward(self, x, skip):
        return self.conv(self.up(x))


class _UpKernel3(ref.UpBlock):
    def __init__(self, i, s, o):
        super().__init__(i, s, o)
        self.up = nn.ConvTranspose2d(i, o, 3, stride=2)


class _UpNoReLU(ref.UpBlock):
    def __init__(self, i, s, o):
        super().__init__(i, s, o)
        self.conv = nn.Sequential(self.conv[0], self.conv[2], self.conv[3])


class _UpSkipChannels(ref.UpBlock):
    """The transposed convolution keeps C_in channels (so the first 3x3 reads C_in + C_skip)."""

    def __init__(self, i, s, o):
        nn.Module.__init__(self)
        self.up = nn.ConvTranspose2d(i, i, 2, stride=2)
        self.conv = ref.double_conv(i + s, o)


MISTAKES["UpBlock"] = [
    Mistake("skip first", "concatenate in the order of the contract, torch.cat([up, skip], dim=1): the upsampled "
            "map first, then the skip connection", _up_variant("skip first")),
    Mistake("valid convolutions", "the 3x3 convolutions need padding=1 to keep the size: a U-Net's output must "
            "match its input", _UpValid),
    Mistake("skip ignored", "the skip connection is concatenated to the upsampled map: the first 3x3 convolution "
            "reads C_out + C_skip channels", _UpNoSkip),
    Mistake("no ReLU", "each of the two 3x3 convolutions is followed by a ReLU", _UpNoReLU),
    Mistake("transposed kernel 3", "a transposed convolution with kernel_size=2, stride=2 doubles H and W exactly, "
            "(H - 1) * 2 + 2 = 2H; kernel 3 gives 2H + 1", _UpKernel3),
    Mistake("upsampling keeps C_in", "the transposed convolution maps C_in to C_out channels "
            "(nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2))", _UpSkipChannels),
]
_UP = _Modules("UpBlock",
               "up and skip must have the same H and W to be concatenated along the channels (dim=1): "
               "nn.ConvTranspose2d(C_in, C_out, kernel_size=2, stride=2) doubles H and W exactly, "
               "(H - 1) * 2 + 2 = 2H")
_UP_CONFIGS = [(8, 4, 4), (6, 3, 5), (2, 2, 2)]


def _up_cases(gen: torch.Generator | None, count: int = 12) -> list[Case]:
    """The fixed blocks (inputs of seed 0); the hidden test adds ``count`` random ones from its ``gen``."""
    cases, fixed = [], torch.Generator().manual_seed(0)
    for (i, s, o), (h, w) in zip(_UP_CONFIGS, ((3, 4), (2, 5), (4, 4))):
        inputs = (_randn(fixed, 2, i, h, w), _randn(fixed, 2, s, 2 * h, 2 * w))
        cases.append(_case((i, s, o), inputs, False, f"UpBlock({i}, {s}, {o}): x {h}x{w}, skip {2 * h}x{2 * w}"))
    for _ in range(count if gen is not None else 0):
        i, s, o, h, w = (_int(gen, 1, 6) for _ in range(5))
        inputs = (_randn(gen, 1, i, h, w), _randn(gen, 1, s, 2 * h, 2 * w))
        cases.append(_case((i, s, o), inputs, False, f"random: UpBlock({i}, {s}, {o}), x {h}x{w}"))
    return cases


def _unet_size(probe: Callable) -> None:
    net = ref.SmallUNet(1, 2, base=4, up_block=probe.factory)
    for h, w in ((16, 16), (32, 20)):
        shape = tuple(net(torch.zeros(1, 1, h, w)).shape)
        if shape != (1, 2, h, w):
            raise CheckFailure(f"UpBlock: a SmallUNet built from your UpBlock maps (1, 1, {h}, {w}) to {shape}; "
                               f"a U-Net's output must match its input, (1, 2, {h}, {w})")


UP_BLOCK = core.Exercise(
    "UpBlock", _UP.probe(ref.UpBlock), _up_cases,
    [Mistake(m.name, m.explain, _UP.probe(m.fn)) for m in MISTAKES["UpBlock"]],
    [_UP.own_work(_up_cases),
     core.Rule("a SmallUNet built from your UpBlock maps 16x16 and 32x20 images to outputs of the same size",
               _unet_size)],
    ["x (N, C_in, H, W) and skip (N, C_skip, 2H, 2W) -> (N, C_out, 2H, 2W), non-square maps included",
     "the parameters have the reference's shapes; with the same weights, the same outputs: transposed "
     "convolution 2x2 stride 2, torch.cat([up, skip], dim=1), two 3x3 same convolutions with ReLUs"],
    seed=65, compare=_UP.compare, course_versions=[])


@_one_thread()
def UpBlock(student: Callable) -> None:  # noqa: N802
    """Self-check of ``UpBlock(in_channels, skip_channels, out_channels)``, ``forward(x, skip)``."""
    UP_BLOCK.check(_UP.probe(student))


@_one_thread()
def grade_UpBlock(student: Callable) -> None:  # noqa: N802
    """Hidden test: structure and outputs on the fixed and 12 seeded random blocks, the U-Net output size."""
    UP_BLOCK.grade(_UP.probe(student))
