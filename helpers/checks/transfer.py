"""Checks for notebook 07 (transfer learning).

Each exercise is one :class:`core.Exercise` (``FREEZE``, ``REPLACE_HEAD``, ``EXTRACT_FEATURES``,
``PARAM_GROUPS``, ``PRECISION``, ``FINE_TUNE``) feeding its visible self-check (``freeze`` ...)
and its hidden test (``grade_<exercise>``, which adds seeded cases; ``grade_fine_tune`` also the
graded margin). Exercises that change a model in place are compared through an *outcome*: a few
readable lines (which blocks are frozen, which are in eval mode, what one training step changed),
so a counterexample says what differs, and the student edition compares with stored lines.
An exercise that calls an earlier one (``replace_head`` calls ``freeze``) is checked with the
course's earlier function bound in its place. ``MISTAKES`` lists the known wrong answers that
explain a failure.
"""

from __future__ import annotations

import copy
import inspect
from typing import Callable

import torch
from torch import nn

from .. import transfer as ref
from . import core
from .core import Case, CheckFailure, Mistake

MISTAKES: dict[str, list[Mistake]] = {}
MARGIN = 0.10            # graded: fine-tuned beats from scratch by 10 points at 10 labels per class


class _Net(ref.SourceNet):
    """A small SourceNet that prints in one line in a counterexample."""

    def __repr__(self) -> str:
        frozen = [n for n, c in self.named_children() if _flags(c) == "frozen"]
        return (f"SourceNet(width {self.block1[0].out_channels}, {self.head.out_features} classes, "
                f"{'train' if self.training else 'eval'} mode, frozen: {', '.join(frozen) or 'none'})")


def _model(seed: int = 0, classes: int = 3, width: int = 4, train: bool = True,
           frozen: tuple[str, ...] = ()) -> ref.SourceNet:
    """A small float64 SourceNet; the children named in ``frozen`` have requires_grad False and are in eval mode
    (the state a correct ``freeze`` leaves them in; the cases need no answer to build it)."""
    torch.manual_seed(seed)
    model = _Net(classes, width).double()
    with torch.no_grad():                         # BatchNorm statistics that are not the defaults
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    model.train(train)
    for name in frozen:
        model.get_submodule(name).requires_grad_(False).eval()
    return model


def _partly_frozen(seed: int, upto: str) -> ref.SourceNet:
    """``_model(seed)`` frozen up to and including ``upto``."""
    return _model(seed, frozen=ref.LAYERS[:ref.LAYERS.index(upto) + 1])


def _images(n: int = 6, size: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _flags(module: nn.Module) -> str:
    flags = [p.requires_grad for p in module.parameters()]
    return "no parameters" if not flags else "trainable" if all(flags) else "frozen" if not any(flags) else \
        "partly frozen (" + ", ".join(n for n, p in module.named_parameters() if p.requires_grad) + " trainable)"


def _one_step(model: nn.Module) -> dict[str, tuple[bool, bool]]:
    """model.train() (as every training loop does), one SGD step; what changed, per child."""
    before = copy.deepcopy(model.state_dict())
    model.train()
    params = list(filter(lambda p: p.requires_grad, model.parameters()))
    x = _images(4, 12, seed=5).to(next(model.parameters()).dtype)
    y = torch.arange(4) % model(x[:1]).shape[1]
    if params:
        optimizer = torch.optim.SGD(params, lr=0.5)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    else:
        model(x)
    after = model.state_dict()
    changed = {}
    for name, _ in model.named_children():
        keys = [k for k in before if k.startswith(name + ".")]
        stats = [k for k in keys if k.endswith(("running_mean", "running_var"))]
        weights = [k for k in keys if k not in stats and not k.endswith("num_batches_tracked")]
        changed[name] = (any(not torch.equal(before[k], after[k]) for k in weights),
                         any(not torch.equal(before[k], after[k]) for k in stats))
    return changed


def _describe_children(model: nn.Module) -> list[str]:
    changed = _one_step(model)
    lines = []
    for name, child in model.named_children():
        weights, stats = changed[name]
        line = f"{name}: {_flags(child)}, {'train' if child.training else 'eval'} mode during training"
        if any(True for _ in child.parameters()):
            line += f", one step {'changes' if weights else 'keeps'} its weights"
        if any(isinstance(m, nn.BatchNorm2d) for m in child.modules()):
            line += f" and {'changes' if stats else 'keeps'} its BatchNorm statistics"
        lines.append(line)
    return lines


def _compare_lines(got, expected) -> str | None:
    if not isinstance(got, str):
        return f"expected a description, got {type(got).__name__}"
    for g, e in zip(got.split("\n"), expected.split("\n")):
        if g != e:
            return f"expected '{e}', got '{g}'"
    return None if got == expected else "the descriptions differ in length"


def _modes(model: nn.Module) -> str:
    """Each child's mode as the answer left it, read before anything calls ``model.train()`` again."""
    return "modes: " + ", ".join(f"{n} {'train' if c.training else 'eval'}" for n, c in model.named_children())


def _course_answers(*allowed: Callable) -> list[Callable]:
    """The course's answers to this notebook's exercises (helpers.transfer), but those in ``allowed``."""
    answers = (ref.freeze, ref.replace_head, ref.extract_features, ref.param_groups, ref.precision_at_k, ref.fine_tune)
    return [f for f in answers if f not in allowed]


def _own_work(name: str, case: Case, *allowed: Callable) -> core.Rule:
    """The rule: none of the course's own answers is called (``allowed`` ones may be, e.g. ``freeze`` swapped in
    for ``replace_head``)."""
    def test(student):
        core.assert_not_the_course_version(name, student, case, _course_answers(*allowed))
    return core.Rule("written by you: no call to helpers.transfer", test)


class _Recorder:
    """Stands in for the student's earlier function (``freeze``, ``param_groups``): runs the course's version
    (so an earlier mistake is not counted twice) and records the arguments of every call."""

    def __init__(self, course: Callable):
        self.course, self.calls = course, []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self.course(*args, **kwargs)


def _uses_own(student: Callable, name: str, earlier: str, course: Callable, run: Callable, expect: Callable) -> str:
    """Raise unless ``run(student)`` calls the student's own ``earlier`` function as the contract says;
    ``expect(args, kwargs)`` says whether one call had the right arguments."""
    recorder = _Recorder(course)
    with core.swapped_globals(student, **{earlier: recorder}):
        core.call_student(name, _as(student, lambda: run(student)), Case(()))
    if not any(expect(a, k) for a, k in recorder.calls):
        said = "was never called" if not recorder.calls else f"was called with {recorder.calls[0][0][1:]}"
        raise CheckFailure(f"{name}: the exercise asks you to use your {earlier}(...), but it {said}: call your "
                           f"own {earlier} (not helpers.transfer's) with the arguments the contract gives")
    return f"it uses your own {earlier}"


def _as(student: Callable, call: Callable) -> Callable:
    """``call`` (a closure that runs ``student``) marked as the student's, so that ``core.call_student`` reports a
    "not implemented" stub as such. (Candidate for core: a ``Case`` that calls without copying.)"""
    call.__wrapped__ = student
    return call


def _Outcome(student: Callable, outcome: Callable) -> Callable:  # noqa: N802 - reads as a type at the call
    """``outcome(student)``, the student's answer seen through what it did, still unwrapping to the student
    (so a "not implemented" stub is recognised as the student's own)."""
    if not callable(student):
        raise CheckFailure(f"expected a function, got {type(student).__name__}; did you run the cell that defines it?")
    return _as(student, outcome(student))


# ===================================================================== freeze
def _freeze_outcome(fn: Callable) -> Callable:
    def outcome(model, upto):
        out = fn(model, upto)
        if out is not model:
            return "freeze must return the model it was given (changed in place)"
        return "\n".join([_modes(model), *_describe_children(model)])
    return outcome


def _freeze_no_eval(model, upto):
    last = [n for n, _ in model.named_children()].index(upto)
    for i, child in enumerate(model.children()):
        child.requires_grad_(i > last)
    return model


def _freeze_excludes_upto(model, upto):
    last = [n for n, _ in model.named_children()].index(upto)
    for i, child in enumerate(model.children()):
        child.requires_grad_(i >= last)
        child.train(model.training and i >= last)
    return model


def _freeze_never_unfreezes(model, upto):
    last = [n for n, _ in model.named_children()].index(upto)
    for i, child in enumerate(model.children()):
        if i <= last:
            child.requires_grad_(False)
            child.eval()
    return model


def _freeze_everything(model, upto):
    model.requires_grad_(False)
    return model.eval()


def _freeze_weights_only(model, upto):
    last = [n for n, _ in model.named_children()].index(upto)
    for i, child in enumerate(model.children()):
        for name, p in child.named_parameters():
            p.requires_grad_(i > last or not name.endswith("weight"))
        child.train(model.training and i > last)
    return model


def _freeze_later_train(model, upto):
    last = [n for n, _ in model.named_children()].index(upto)
    for i, child in enumerate(model.children()):
        child.requires_grad_(i > last)
        child.train(i > last)
    return model


MISTAKES["freeze"] = [
    Mistake("BatchNorm statistics still updated", "a frozen block must also be put in eval mode (child.eval() or "
            "child.train(False)): requires_grad = False stops the weights, but in train mode BatchNorm still "
            "updates its running statistics with every batch", _freeze_no_eval),
    Mistake("upto not frozen", "freeze the blocks up to AND including `upto` (i <= index of upto)",
            _freeze_excludes_upto),
    Mistake("later blocks not made trainable", "the blocks after `upto` must be made trainable again "
            "(requires_grad = True), even if an earlier call froze them", _freeze_never_unfreezes),
    Mistake("everything frozen", "only the blocks up to `upto` are frozen: the later ones and the head must stay "
            "trainable", _freeze_everything),
    Mistake("biases left trainable", "freeze every parameter of a frozen block: the BatchNorm scales and biases too, "
            "not only the convolution weights", _freeze_weights_only),
    Mistake("later blocks put in train mode", "leave the later blocks in the model's mode "
            "(child.train(model.training)): a model handed over in eval mode stays in eval mode",
            _freeze_later_train),
]
_FREEZE_MISTAKES = [Mistake(m.name, m.explain, _freeze_outcome(m.fn)) for m in MISTAKES["freeze"]]


def _frozen_model(seed: int) -> ref.SourceNet:
    model = _model(seed)
    model.requires_grad_(False)
    return model


def _freeze_cases(count: int = 0) -> list[Case]:
    cases = [Case((_model(0), "block2"), label="freeze block1 and block2 of a model in train mode"),
             Case((_model(1), "block1"), label="freeze block1 only"),
             Case((_frozen_model(2), "block1"), label="a fully frozen model: block2 onwards must become trainable"),
             Case((_model(3), "pool"), label="freeze the whole backbone (everything but the head)"),
             Case((_model(4, train=False), "block1"), label="a model handed over in eval mode stays in eval mode")]
    for i in range(count):
        cases.append(Case((_model(10 + i), ref.LAYERS[i % 4]), label=f"random model, upto={ref.LAYERS[i % 4]!r}"))
    return cases


FREEZE = core.Exercise(
    "freeze", _freeze_outcome(ref.freeze), lambda gen: _freeze_cases(0 if gen is None else 4), _FREEZE_MISTAKES,
    [_own_work("freeze", Case((_model(0), "block2")))],
    ["blocks up to and including `upto` get requires_grad = False (weights and biases), the rest True",
     "frozen blocks are in eval mode right after the call and stay so: one training step changes neither their "
     "weights nor their BatchNorm running statistics",
     "the later blocks and the head are trainable (also after an earlier call froze them), in the model's mode "
     "(a model handed over in eval mode stays in eval mode), and change"],
    compare=_compare_lines, course_versions=[])


def freeze(student: Callable) -> None:
    """Self-check of ``freeze(model, upto) -> model``."""
    FREEZE.check(_Outcome(student, _freeze_outcome))


def grade_freeze(student: Callable) -> None:
    """Hidden test: the same rules, the self-check's cases plus one per layer name on fresh models."""
    FREEZE.grade(_Outcome(student, _freeze_outcome))


# ===================================================================== replace_head
def _head_outcome(fn: Callable) -> Callable:
    def outcome(model, n_classes, freeze_backbone=True):
        old = copy.deepcopy(model.head)
        out = fn(model, n_classes, freeze_backbone)
        if out is not model:
            return "replace_head must return the model it was given (changed in place)"
        head, modes = model.head, _modes(model)
        if not isinstance(head, nn.Linear):
            kind = f"head: a {type(head).__name__}, not an nn.Linear"
        else:
            fresh_weights = head.weight.shape != old.weight.shape or not torch.equal(head.weight, old.weight)
            kind = (f"head: nn.Linear({head.in_features} -> {head.out_features}), {head.weight.dtype}, "
                    f"{'new' if fresh_weights else 'the old'} weights")
        with torch.no_grad():
            logits = copy.deepcopy(model).eval()(_images(2, 12).to(next(model.parameters()).dtype))
        return "\n".join([kind, f"output shape {tuple(logits.shape)}", modes, *_describe_children(model)])
    return outcome


def _head_backbone_trainable(model, n_classes, freeze_backbone=True):
    model.head = nn.Linear(model.head.in_features, n_classes).to(model.head.weight.dtype)
    return model


def _head_same_classes(model, n_classes, freeze_backbone=True):
    return ref.replace_head(model, model.head.out_features, freeze_backbone)


def _head_stacked(model, n_classes, freeze_backbone=True):
    old = model.head
    ref.replace_head(model, n_classes, freeze_backbone)
    model.head = nn.Sequential(old, nn.Linear(old.out_features, n_classes).to(old.weight.dtype))
    return model


def _head_frozen(model, n_classes, freeze_backbone=True):
    ref.replace_head(model, n_classes, freeze_backbone)
    if freeze_backbone:
        model.requires_grad_(False)
        model.eval()
    return model


def _head_no_eval(model, n_classes, freeze_backbone=True):
    model.head = nn.Linear(model.head.in_features, n_classes).to(model.head.weight.dtype)
    for name, child in model.named_children():
        child.requires_grad_(name == "head" or not freeze_backbone)
    return model


def _head_keeps_frozen(model, n_classes, freeze_backbone=True):
    old = model.head
    model.head = nn.Linear(old.in_features, n_classes).to(old.weight.dtype)
    return ref.freeze(model, "pool") if freeze_backbone else model


MISTAKES["replace_head"] = [
    Mistake("earlier freezing kept", "with freeze_backbone=False every parameter must be trainable, also those an "
            "earlier call froze: model.requires_grad_(True) (full fine-tuning)", _head_keeps_frozen),
    Mistake("backbone left trainable", "the head was replaced but the backbone was left trainable: with "
            "freeze_backbone=True freeze every block before the head (your freeze(model, 'pool'))",
            _head_backbone_trainable),
    Mistake("source classes kept", "the new head must have n_classes outputs, one per target class, not the "
            "source's number of classes", _head_same_classes),
    Mistake("stacked on the old head", "replace the head, do not stack a new layer on top of it: the new "
            "nn.Linear reads the pooled features (in_features of the old head), not the source's logits",
            _head_stacked),
    Mistake("new head frozen", "the new head must stay trainable: freeze the backbone, not the whole model",
            _head_frozen),
    Mistake("frozen backbone's BatchNorm updated", "a frozen backbone must be in eval mode too, or its BatchNorm "
            "running statistics keep changing: use your freeze(model, 'pool')", _head_no_eval),
]
_HEAD_MISTAKES = [Mistake(m.name, m.explain, _head_outcome(m.fn)) for m in MISTAKES["replace_head"]]


def _head_cases(count: int = 0) -> list[Case]:
    cases = [Case((_model(0), 5), label="5 target classes, backbone frozen"),
             Case((_model(1), 5), {"freeze_backbone": False}, label="full fine-tuning: everything trainable"),
             Case((_model(2, classes=4), 2), label="2 target classes"),
             Case((_partly_frozen(3, "block2"), 4), {"freeze_backbone": False},
                  label="a partly frozen model, full fine-tuning: every block trainable again"),
             Case((_model(4, train=False), 3), label="a model handed over in eval mode")]
    for i in range(count):
        cases.append(Case((_model(20 + i, classes=3 + i), 2 + i), {"freeze_backbone": bool(i % 2)},
                          label=f"random model, {2 + i} classes"))
    return cases


def _with_course(student: Callable, fn: Callable, **names: Callable) -> Callable:
    """``fn`` run with the course's functions ``names`` in the student's globals (an exercise may call an
    earlier one: grade it on its own)."""
    def run(*args, **kwargs):
        with core.swapped_globals(student, **names):
            return fn(*args, **kwargs)
    return run


def _head_uses_freeze(student: Callable) -> str:
    return _uses_own(student, "replace_head", "freeze", ref.freeze, lambda fn: fn(_model(5), 3),
                     lambda args, kwargs: (list(args[1:]) + list(kwargs.values()))[:1] == ["pool"])


def _course_bound(**names: Callable) -> Callable:
    """An :class:`core.Exercise` context: the course's functions ``names`` bound in the student's globals while
    the student's answer (unwrapped from its outcome) is checked: an exercise that calls an earlier one is graded
    on its own. (In the student edition, where the course's function is a stub, the student's own stays.)"""
    return lambda outcome: core.swapped_globals(inspect.unwrap(outcome), **names)


def _head_own_work(outcome: Callable) -> None:
    core.assert_not_the_course_version("replace_head", inspect.unwrap(outcome), Case((_model(0), 5)),
                                       _course_answers(ref.freeze))


REPLACE_HEAD = core.Exercise(
    "replace_head", _head_outcome(ref.replace_head), lambda gen: _head_cases(0 if gen is None else 3), _HEAD_MISTAKES,
    [core.Rule("written by you: no call to helpers.transfer", _head_own_work),
     core.Rule("it uses your own freeze", lambda outcome: _head_uses_freeze(inspect.unwrap(outcome)))],
    ["the head becomes a new nn.Linear(in_features of the old head -> n_classes), same dtype, new weights",
     "freeze_backbone=True: every block before the head is frozen (and in eval mode), the head trainable",
     "freeze_backbone=False: every parameter trainable (full fine-tuning)"],
    compare=_compare_lines, course_versions=[], context=_course_bound(freeze=ref.freeze))


def replace_head(student: Callable) -> None:
    """Self-check of ``replace_head(model, n_classes, freeze_backbone=True) -> model``."""
    REPLACE_HEAD.check(_Outcome(student, _head_outcome))


def grade_replace_head(student: Callable) -> None:
    """Hidden test: the same rules, more models and class counts (the course's freeze in place of the student's)."""
    REPLACE_HEAD.grade(_Outcome(student, _head_outcome))


# ===================================================================== extract_features
def _features_after_head(model, x, layer="pool"):
    names = [n for n, _ in model.named_children()]
    return ref.extract_features(model, x, names[min(names.index(layer) + 1, len(names) - 1)])


def _features_train_mode(model, x, layer="pool"):
    names = [n for n, _ in model.named_children()]
    h = x
    with torch.no_grad():
        for child in list(model.children())[:names.index(layer) + 1]:
            h = child(h)
    return h.flatten(1)


def _features_not_flat(model, x, layer="pool"):
    names = [n for n, _ in model.named_children()]
    model.eval()
    with torch.no_grad():
        return model[:names.index(layer) + 1](x)


MISTAKES["extract_features"] = [
    Mistake("taken after the head", "these are the outputs of the layer after `layer`: run the children up to and "
            "including `layer` and stop there (features are taken before the head)", _features_after_head),
    Mistake("train mode", "features must be computed in eval mode (model.eval()): in train mode BatchNorm "
            "normalises with the batch's statistics, so an image's features depend on the rest of the batch",
            _features_train_mode),
    Mistake("not flattened", "flatten each image's output to one vector: return (N, D) with h.flatten(1)",
            _features_not_flat),
]


def _features_cases(gen: torch.Generator | None = None, count: int = 0) -> list[Case]:
    cases = [Case((_model(0), _images(5)), {"layer": "pool"}, label="pooled features of a model in train mode"),
             Case((_model(1, train=False), _images(3, 16)), {"layer": "block3"}, label="block3's maps, flattened"),
             Case((_model(2), _images(4)), {"layer": "block1"}, label="the first block"),
             Case((_model(3), _images(1, 8)), {"layer": "block2"}, label="one image")]
    for i in range(count):
        layer = ref.LAYERS[int(torch.randint(0, 4, (1,), generator=gen))]
        cases.append(Case((_model(30 + i), _images(2 + i, 8 + 4 * (i % 3), seed=i)), {"layer": layer},
                          label=f"random model, layer {layer!r}"))
    return cases


def _features_reference(model, x, layer="pool"):
    return ref.extract_features(model, x, layer)


def _features_structure(student: Callable) -> str:
    handed = [(_model(7), "in train mode"), (_model(8, train=False), "in eval mode"),
              (_partly_frozen(9, "block1"), "in train mode with block1 frozen (in eval mode)")]
    for model, how in handed:
        before = (_modes(model), [p.requires_grad for p in model.parameters()])
        out = core.call_student("extract_features", _as(student, lambda: student(model, _images(3), layer="pool")),
                                Case(()))
        if isinstance(out, torch.Tensor) and out.requires_grad:
            raise CheckFailure("extract_features: the features still track gradients; compute them under "
                               "torch.no_grad() (or return .detach()), they are data for a new classifier")
        after = (_modes(model), [p.requires_grad for p in model.parameters()])
        if after != before:
            raise CheckFailure(f"extract_features: restore its mode: a model handed over {how} must be left as it was: before, "
                               f"{before[0]}; after, {after[0]}. Remember was_training = model.training and "
                               "restore it with model.train(was_training) (not model.train())"
                               + ("" if after[1] == before[1] else "; and do not change requires_grad"))
    return "the model's mode restored: handed over in train mode, in eval mode, partly frozen"


EXTRACT_FEATURES = core.Exercise(
    "extract_features", _features_reference, lambda gen: _features_cases(gen, 0 if gen is None else 5),
    MISTAKES["extract_features"], [core.Rule("the model's mode restored", _features_structure)],
    ["the output of `layer` (children up to and including it), flattened to (N, D): pool -> (N, 4 width), "
     "block3 -> (N, 4 width * H/4 * W/4)", "computed in eval mode (BatchNorm's running statistics), without gradients"],
    seed=7, course_versions=_course_answers())


def extract_features(student: Callable) -> None:
    """Self-check of ``extract_features(model, x, layer="pool") -> (N, D)``."""
    EXTRACT_FEATURES.check(student)


def grade_extract_features(student: Callable) -> None:
    """Hidden test: the same rules, random models, layers and image sizes."""
    EXTRACT_FEATURES.grade(student)


# ===================================================================== param_groups
def _groups_outcome(fn: Callable) -> Callable:
    def outcome(model, lr_backbone, lr_head):
        names = {id(p): n for n, p in model.named_parameters()}
        groups = fn(model, lr_backbone, lr_head)
        try:
            optimizer = torch.optim.SGD(groups, lr=12345.0)
        except Exception as exc:
            return f"torch.optim.SGD(your groups) raised {type(exc).__name__}: {exc}"
        lines = [f"{len(optimizer.param_groups)} parameter group(s)"]
        for i, group in enumerate(optimizer.param_groups):
            params = sorted(names.get(id(p), "?") for p in group["params"])
            lines.append(f"group {i}: lr {group['lr']:g}, parameters {', '.join(params) or '(none)'}")
        return "\n".join(lines)
    return outcome


def _groups_one_lr(model, lr_backbone, lr_head):
    return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr_head}]


def _groups_swapped(model, lr_backbone, lr_head):
    return ref.param_groups(model, lr_head, lr_backbone)


def _groups_head_twice(model, lr_backbone, lr_head):
    return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr_backbone},
            {"params": list(model.head.parameters()), "lr": lr_head}]


def _groups_frozen_included(model, lr_backbone, lr_head):
    head = {id(p) for p in model.head.parameters()}
    return [{"params": [p for p in model.parameters() if id(p) not in head], "lr": lr_backbone},
            {"params": list(model.head.parameters()), "lr": lr_head}]


MISTAKES["param_groups"] = [
    Mistake("one learning rate", "the optimizer has one learning rate for all parameters: make two groups, the "
            "pretrained parameters with lr_backbone and the head's with lr_head", _groups_one_lr),
    Mistake("learning rates swapped", "the pretrained parameters take the small lr_backbone, the new head the "
            "larger lr_head", _groups_swapped),
    Mistake("head in both groups", "each parameter goes in exactly one group: leave the head's parameters out of "
            "the backbone group", _groups_head_twice),
    Mistake("frozen parameters included", "leave frozen parameters (requires_grad False) out of the groups",
            _groups_frozen_included),
]
_GROUPS_MISTAKES = [Mistake(m.name, m.explain, _groups_outcome(m.fn)) for m in MISTAKES["param_groups"]]


def _groups_cases(count: int = 0) -> list[Case]:
    cases = [Case((_partly_frozen(0, "block1"), 1e-4, 1e-2), label="block1 frozen; lr 1e-4 and 1e-2"),
             Case((_model(1), 0.001, 0.01), label="nothing frozen"),
             Case((_partly_frozen(2, "pool"), 3e-4, 3e-3), label="the whole backbone frozen: an empty first group")]
    for i in range(count):
        cases.append(Case((_partly_frozen(40 + i, ref.LAYERS[i % 3]), 10.0 ** -(3 + i % 2), 0.05),
                          label=f"frozen up to {ref.LAYERS[i % 3]}"))
    return cases


PARAM_GROUPS = core.Exercise(
    "param_groups", _groups_outcome(ref.param_groups), lambda gen: _groups_cases(0 if gen is None else 3),
    _GROUPS_MISTAKES, [_own_work("param_groups", Case((_model(1), 0.001, 0.01)))],
    ["two groups an optimizer accepts: the trainable pretrained parameters with lr_backbone, then the head's "
     "with lr_head", "frozen parameters left out; each parameter in exactly one group"],
    compare=_compare_lines, course_versions=[])


def param_groups(student: Callable) -> None:
    """Self-check of ``param_groups(model, lr_backbone, lr_head) -> [backbone group, head group]``."""
    PARAM_GROUPS.check(_Outcome(student, _groups_outcome))


def grade_param_groups(student: Callable) -> None:
    """Hidden test: the same rules, more frozen depths and learning rates."""
    PARAM_GROUPS.grade(_Outcome(student, _groups_outcome))


# ===================================================================== precision_at_k
def _pk_with_query(features, labels, k):
    unit = nn.functional.normalize(features, dim=1)
    nearest = (unit @ unit.T).topk(k, dim=1).indices
    return (labels[nearest] == labels[:, None]).float().mean().item()


def _pk_farthest(features, labels, k):
    unit = nn.functional.normalize(features, dim=1)
    similarity = (unit @ unit.T).fill_diagonal_(float("inf"))
    nearest = similarity.topk(k, dim=1, largest=False).indices
    return (labels[nearest] == labels[:, None]).float().mean().item()


def _pk_euclidean(features, labels, k):
    distance = torch.cdist(features, features).fill_diagonal_(float("inf"))
    nearest = distance.topk(k, dim=1, largest=False).indices
    return (labels[nearest] == labels[:, None]).float().mean().item()


def _pk_hits(features, labels, k):
    return ref.precision_at_k(features, labels, k) * k


MISTAKES["precision_at_k"] = [
    Mistake("query included", "the query itself was retrieved (its similarity with itself is the largest): leave it "
            "out, e.g. set the diagonal of the similarity matrix to -inf", _pk_with_query),
    Mistake("farthest items", "you took the k LEAST similar items: retrieval returns the k most similar",
            _pk_farthest),
    Mistake("Euclidean distance", "rank by cosine similarity (normalise the features to unit length first), not by "
            "Euclidean distance", _pk_euclidean),
    Mistake("not divided by k", "precision@k is the FRACTION of the k retrieved items with the query's label: "
            "divide the count by k", _pk_hits),
]


def _constructed() -> tuple[torch.Tensor, torch.Tensor]:
    """Two tight clusters of different lengths along two directions, one stray item of each class."""
    f = torch.tensor([[1.0, 0.0], [2.0, 0.1], [3.0, -0.1], [0.1, 1.0], [-0.1, 5.0], [0.0, 0.5],
                      [0.3, 0.1], [0.1, 0.2]], dtype=torch.float64)
    return f, torch.tensor([0, 0, 0, 1, 1, 1, 1, 0])


def _pk_cases(gen: torch.Generator | None = None, count: int = 0) -> list[Case]:
    f, y = _constructed()
    cases = [Case((f, y, 1), label="constructed: two directions, lengths differ, k=1"),
             Case((f, y, 2), label="constructed, k=2"), Case((f, y, 3), label="constructed, k=3"),
             Case((f[:3], y[:3], 2), label="three items of one class: precision 1")]
    for i in range(count):
        n, d = 6 + 3 * i, 2 + i % 4
        feats = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.rand(n, 1, generator=gen) * 4
        labels = torch.randint(0, 3, (n,), generator=gen)
        cases.append(Case((feats, labels, 1 + i % 4), label=f"random {n} items in {d} dimensions"))
    return cases


PRECISION = core.Exercise(
    "precision_at_k", ref.precision_at_k, lambda gen: _pk_cases() + ([] if gen is None else _pk_cases(gen, 8)[4:]),
    MISTAKES["precision_at_k"], [_own_work("precision_at_k", _pk_cases()[0])],
    ["a constructed case: two clusters along two directions with different lengths (cosine, not distance), "
     "k = 1, 2, 3", "the query is never its own answer; precision is hits / k averaged over the queries, a Python "
     "float"], seed=11)


def precision_at_k(student: Callable) -> None:
    """Self-check of ``precision_at_k(features, labels, k) -> float``."""
    PRECISION.check(student)


def grade_precision_at_k(student: Callable) -> None:
    """Hidden test: the same rules, the constructed case and seeded random features."""
    PRECISION.grade(student)


# ===================================================================== fine_tune
def _steps_outcome(fn: Callable) -> Callable:
    """One epoch of one batch on a model frozen up to block1: how far each part moved (Adam's first
    step moves every parameter with a gradient by about its learning rate)."""
    def outcome(lr_backbone, lr_head):
        model = _partly_frozen(0, "block1").float()
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        x = _images(6, 12).float()
        torch.manual_seed(0)
        fn(model, x, torch.arange(6) % 3, 1, lr_backbone=lr_backbone, lr_head=lr_head)
        moved = {}
        for name, p in model.named_parameters():
            part = "block1 (frozen)" if name.startswith("block1") else "head" if name.startswith("head") else \
                "block2 and block3"
            moved[part] = max(moved.get(part, 0.0), (p.detach() - before[name]).abs().max().item())
        return "\n".join(f"{part}: largest change {value:.1g}" for part, value in sorted(moved.items()))
    return outcome


def _ft_one_lr(model, x, y, epochs, lr_backbone=1e-3, lr_head=1e-2, transform=None):
    return ref.fine_tune(model, x, y, epochs, lr_head, lr_head, transform=transform)


def _ft_swapped(model, x, y, epochs, lr_backbone=1e-3, lr_head=1e-2, transform=None):
    return ref.fine_tune(model, x, y, epochs, lr_head, lr_backbone, transform=transform)


def _ft_head_only(model, x, y, epochs, lr_backbone=1e-3, lr_head=1e-2, transform=None):
    return ref.fine_tune(model, x, y, epochs, 0.0, lr_head, transform=transform)


MISTAKES["fine_tune"] = [
    Mistake("one learning rate", "the pretrained blocks moved as far as the head: give the optimizer your "
            "param_groups(model, lr_backbone, lr_head), not one learning rate for all", _ft_one_lr),
    Mistake("learning rates swapped", "the pretrained blocks moved more than the head: lr_backbone (small) is for "
            "the pretrained blocks, lr_head for the head", _ft_swapped),
    Mistake("backbone not trained", "the trainable pretrained blocks did not move: pass their group with "
            "lr_backbone to the optimizer too", _ft_head_only),
]
_FT_MISTAKES = [Mistake(m.name, m.explain, _steps_outcome(m.fn)) for m in MISTAKES["fine_tune"]]


def _ft_reference(model, x, y, epochs, lr_backbone=1e-3, lr_head=1e-2, transform=None):
    return ref.fine_tune(model, x, y, epochs, lr_backbone, lr_head, transform=transform)


def _ft_cases() -> list[Case]:
    return [Case((1e-3, 1e-2), label="one Adam step: lr_backbone 1e-3, lr_head 1e-2"),
            Case((1e-4, 3e-2), label="lr_backbone 1e-4, lr_head 3e-2")]


def _with_groups(student: Callable, fn: Callable) -> Callable:
    return _with_course(student, fn, param_groups=ref.param_groups)


def _learns(outcome: Callable) -> None:
    student = inspect.unwrap(outcome)
    torch.manual_seed(0)
    model = _model(3, classes=2, width=4).float()
    x = _images(16, 12, seed=3).float()
    y = (x.mean(dim=(1, 2, 3)) > x.mean()).long()
    history = student(model, x, y, 30, lr_backbone=1e-2, lr_head=5e-2)
    with torch.no_grad():                          # the training accuracy, BatchNorm with its running statistics
        logits = model.eval()(x)
    accuracy = (logits.argmax(dim=1) == y).double().mean().item()
    if accuracy < 0.9:
        raise CheckFailure(f"fine_tune: after 30 epochs on 16 images (bright vs dark) the training accuracy is only "
                           f"{accuracy:.2f}; did it train for `epochs` epochs on (x, y)?")
    if not hasattr(history, "train_loss"):
        raise CheckFailure("fine_tune: return the History that fit(...) returns")


def _ft_loader_arguments(student: Callable) -> str:
    """The transform is applied to the training batches, which hold 32 images (the contract's loader)."""
    sizes = []

    def transform(batch):
        sizes.append(len(batch))
        return batch

    model = _partly_frozen(0, "block1").float()
    x, y = _images(40, 12).float(), torch.arange(40) % 3
    core.call_student("fine_tune", _as(student, lambda: _with_groups(student, student)(
        model, x, y, 1, lr_backbone=1e-3, lr_head=1e-2, transform=transform)), Case(()))
    if not sizes:
        raise CheckFailure("fine_tune: the transform argument was never applied: pass it to the loader, "
                           "make_loader(x, y, batch_size=32, transform=transform)")
    if max(sizes) != 32:
        raise CheckFailure(f"fine_tune: the training batches held up to {max(sizes)} images for 40 images; the "
                           "contract's loader is make_loader(x, y, batch_size=32, transform=transform)")
    return "the transform is applied to training batches of 32 images"


def _ft_uses_groups(student: Callable) -> str:
    def run(fn):
        fn(_partly_frozen(0, "block1").float(), _images(6, 12).float(), torch.arange(6) % 3, 1,
           lr_backbone=2e-4, lr_head=3e-2)

    return _uses_own(student, "fine_tune", "param_groups", ref.param_groups, run,
                     lambda args, kwargs: list(args[1:]) + list(kwargs.values()) == [2e-4, 3e-2])


def _ft_own_work(outcome: Callable) -> None:
    student = inspect.unwrap(outcome)
    model = _partly_frozen(0, "block1").float()     # built here: nothing of the course runs inside the recording
    x, y = _images(6, 12).float(), torch.arange(6) % 3
    core.assert_not_the_course_version("fine_tune", lambda: student(model, x, y, 1), Case(()),
                                       _course_answers(ref.param_groups))


def _source_with_new_head(classes: int) -> nn.Module:
    """The course's source model with a freshly initialised head of ``classes`` outputs, all trainable.

    Built from :class:`SourceNet` and the source weights, not with the course's ``replace_head`` (an
    exercise of this notebook, which the student edition does not ship)."""
    source = ref.load_source_model("cpu")
    model = ref.SourceNet(classes, ref.source_record()["width"])
    model.load_state_dict({k: v for k, v in source.state_dict().items() if not k.startswith("head.")}, strict=False)
    return model.train()


def _beats_scratch(student: Callable, margin: float = MARGIN) -> str:
    """The graded margin, in the self-check and the hidden test alike (about 1 s): the source model fine-tuned
    with the student's function on 10 target images per class beats the recorded from-scratch baseline by
    ``margin`` on 300 held-out target images. The recipe's augmentation without its shift: ``random_shift``
    is notebook 05's exercise, which the student edition does not ship."""
    from ..augment import Augment
    from ..device import seed_everything

    record = ref.source_record()["target"]
    x, y = ref.target_set(10, seed=1)
    test_x, test_y = ref.target_set(60, ref.TARGET_TEST_SEED)
    seed_everything(0)
    model = _source_with_new_head(int(y.max()) + 1)
    turn_and_contrast = Augment(max_shift=0, max_degrees=10.0, max_delta=0.1, max_scale=0.1, seed=0)  # no shift:
    _with_groups(student, student)(model, x, y, record["epochs"], lr_backbone=record["lr_backbone"],  # 05's exercise
                                   lr_head=record["lr_head"], transform=turn_and_contrast)
    with torch.no_grad():
        accuracy = (model.eval()(test_x).argmax(1) == test_y).double().mean().item()
    baseline = record["scratch_accuracy"][0]
    if accuracy < baseline + margin:
        raise CheckFailure(f"fine_tune: fine-tuned at 10 labels per class the pretrained model reaches {accuracy:.3f}; "
                           f"from scratch reaches {baseline:.3f}; transfer should win by {margin:.2f} or more")
    return f"fine-tuned {accuracy:.3f} on 300 held-out images against {baseline:.3f} from scratch"


FINE_TUNE = core.Exercise(
    "fine_tune", _steps_outcome(_ft_reference), lambda gen: _ft_cases(), _FT_MISTAKES,
    [core.Rule("it trains for `epochs` epochs: 30 epochs fit 16 images and it returns fit's History", _learns),
     core.Rule("written by you: no call to helpers.transfer but param_groups", _ft_own_work),
     core.Rule("it uses your own param_groups", lambda outcome: _ft_uses_groups(inspect.unwrap(outcome))),
     core.Rule("the loader's arguments", lambda outcome: _ft_loader_arguments(inspect.unwrap(outcome))),
     core.Rule(f"transfer wins: fine-tuned at 10 labels per class, the course's pretrained model beats the "
               f"from-scratch baseline by {MARGIN:.2f} or more", lambda outcome: _beats_scratch(inspect.unwrap(outcome)))],
    ["Adam with two learning rates: after one step the pretrained blocks moved by about lr_backbone, the head "
     "by about lr_head, the frozen block not at all"],
    compare=_compare_lines, course_versions=[], context=_course_bound(param_groups=ref.param_groups))


def fine_tune(student: Callable) -> None:
    """Self-check of ``fine_tune(model, x, y, epochs, lr_backbone, lr_head, transform) -> History``."""
    FINE_TUNE.check(_Outcome(student, _steps_outcome))


def grade_fine_tune(student: Callable) -> None:
    """Hidden test: the same rules (the one-step learning rates, the graded margin) and cases.

    Returns None: a test cell's last value would count as partial credit in nbgrader.
    """
    FINE_TUNE.grade(_Outcome(student, _steps_outcome))
