"""The notebook 05 checks (helpers.checks.training): correct answers pass, every known mistake is
rejected with its explanation, and answers that call the course's own references are caught."""

from __future__ import annotations

import copy
import sys
import types
import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import helpers.checks.training as checks_training
from check_contract import assert_correct_answer_passes, assert_mistake_rejected, mistakes_of
from helpers import augment, data, training
from helpers.checks.core import CheckFailure


def _own_ce(logits, targets):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    return -(targets * (shifted - shifted.exp().sum(dim=1, keepdim=True).log())).sum(dim=1).mean()


def _own_cnn(dropout=0.25):
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, 10))


def _own_epoch(model, loader, loss_fn, optimizer):
    device = next(model.parameters()).device
    model.train()
    total, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        correct += (logits.argmax(dim=1) == y).sum().item()
        seen += len(y)
    return total / seen, correct / seen


def _own_evaluate(model, loader, loss_fn):
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            seen += len(y)
    model.train(was_training)
    return total / seen, correct / seen


class _OwnStopper:
    def __init__(self, patience, min_delta=0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.counter, self.epoch, self.best_state = float("inf"), -1, 0, 0, None

    def step(self, val_loss, model):
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.counter = val_loss, self.epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.counter += 1
        self.epoch += 1
        return self.counter >= self.patience

    def restore(self, model):
        model.load_state_dict(self.best_state)


def _own_shift(x, max_shift, generator):
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator)
    return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


REFERENCES = {"softmax_cross_entropy": _own_ce, "build_cnn": _own_cnn, "train_one_epoch": _own_epoch,
              "evaluate": _own_evaluate, "EarlyStopping": _OwnStopper, "random_shift": _own_shift}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_self_check_and_grading_pass_a_correct_answer(name, capsys):
    assert_correct_answer_passes(checks_training, name, REFERENCES[name], capsys)


@pytest.mark.parametrize("name,mistake", mistakes_of(checks_training),
                         ids=[f"{n}-{m.name}" for n, m in mistakes_of(checks_training)])
def test_every_known_mistake_is_rejected_and_explained(name, mistake):
    assert_mistake_rejected(checks_training, name, mistake)


@pytest.mark.parametrize("name,answer", [
    ("softmax_cross_entropy", lambda z, t: F.cross_entropy(z, t)),
    ("build_cnn", lambda dropout=0.25: training.digits_cnn(dropout)),
    ("train_one_epoch", lambda m, l, f, o: training.train_epoch(m, l, f, o)),
    ("evaluate", lambda m, l, f: training.evaluate(m, l, f)),
    ("random_shift", lambda x, m, g: augment.random_shift(x, m, g)),
])
@pytest.mark.parametrize("check", ["", "grade_"])
def test_the_self_check_and_grading_reject_calling_the_reference(name, answer, check):
    with pytest.raises(CheckFailure, match="yourself|from scratch"):
        getattr(checks_training, f"{check}{name}")(answer)


@pytest.mark.parametrize("check", ["", "grade_"])
def test_the_self_check_and_grading_reject_the_reference_stopper(check):
    class Mine(training.EarlyStopping):
        pass

    class Wrapped:
        def __init__(self, patience, min_delta=0.0):
            self.inner = training.EarlyStopping(patience, min_delta)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    for answer in (Mine, Wrapped):
        with pytest.raises(CheckFailure, match="yourself"):
            getattr(checks_training, f"{check}EarlyStopping")(answer)


@pytest.mark.parametrize("name,answer", [("train_one_epoch", _own_epoch), ("evaluate", _own_evaluate)])
@pytest.mark.parametrize("check", ["", "grade_"])
def test_batches_must_be_moved_to_the_models_device(name, answer, check):
    """Observable on a CPU-only machine: the probe's batches record every .to(device) (issue 15, section 3)."""
    source = inspect.getsource(answer).replace("x, y = x.to(device), y.to(device)", "pass")
    namespace = {"torch": torch}
    exec(source, namespace)  # noqa: S102 - our own answer, one line removed
    with pytest.raises(CheckFailure, match="moved to the model's device"):
        getattr(checks_training, f"{check}{name}")(namespace[answer.__name__])


@pytest.mark.parametrize("check", ["", "grade_"])
def test_figures_must_be_python_floats(check):
    def tensors(model, loader, loss_fn):
        loss, accuracy = _own_evaluate(model, loader, loss_fn)
        return torch.tensor(loss), accuracy

    with pytest.raises(CheckFailure, match="Python float"):
        getattr(checks_training, f"{check}evaluate")(tensors)


@pytest.mark.parametrize("check", ["", "grade_"])
def test_a_log_softmax_answer_is_refused_by_the_self_check_too(check):
    with pytest.raises(CheckFailure, match="from scratch"):
        getattr(checks_training, f"{check}softmax_cross_entropy")(
            lambda z, t: -(t * F.log_softmax(z, dim=1)).sum(dim=1).mean())


def _fashion_cnn() -> nn.Sequential:
    """The capstone recipe's model: (N, 1, 28, 28) -> (N, 10), 50,282 parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 10))


def test_final_model_accepts_a_trained_capstone_and_rejects_an_untrained_one(capsys):
    torch.manual_seed(0)
    model = _fashion_cnn()
    for check in (checks_training.final_model, checks_training.grade_final_model):
        with pytest.raises(CheckFailure, match="below"):
            check(model)
    train = data.load_fashion_mnist("train", source="subset", verbose=False)
    loader = training.make_loader(train.images[:6000], train.labels[:6000], batch_size=64)
    training.fit(model, loader, optimizer=torch.optim.Adam(model.parameters(), 2e-3), epochs=1, progress=False)
    checks_training.final_model(model)
    assert "final_model passed" in capsys.readouterr().out
    checks_training.grade_final_model(model)


@pytest.mark.parametrize("model, message", [
    (None, "not written yet"),
    (nn.ModuleList([nn.Flatten(), nn.Linear(784, 10)]), "nn.Sequential"),
    (nn.Sequential(nn.Flatten(), nn.Linear(784, 1000), nn.Linear(1000, 10)), "100,000"),
    (nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Softmax(dim=1)), "ends in a softmax"),
    (nn.Sequential(nn.Flatten(), nn.Linear(784, 5)), r"\(2000, 10\) logits"),
    (nn.Sequential(nn.Flatten(), nn.Linear(28, 10)), "raised RuntimeError"),
])
@pytest.mark.parametrize("check", ["final_model", "grade_final_model"])
def test_final_model_rules_hold_in_the_self_check_and_the_grade(model, message, check):
    with pytest.raises(CheckFailure, match=message):
        getattr(checks_training, check)(model)


def test_a_stopper_defined_in_a_notebook_passes(monkeypatch):
    """A notebook's classes live in a module without a file (inspect.getfile raises): not an error."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    mine = type("EarlyStopping", (), dict(vars(_OwnStopper), __module__="__main__"))
    checks_training.EarlyStopping(mine)
    checks_training.grade_EarlyStopping(mine)


def _evaluate_through_scores(model, loader, loss_fn):
    """A working evaluate made of predict's new ``scores`` outputs (what fit measures with)."""
    outputs, true = training.predict(model, loader, scores=True)
    return loss_fn(outputs, true).item(), (outputs.argmax(dim=1) == true).sum().item() / len(true)


@pytest.mark.parametrize("check", ["evaluate", "grade_evaluate"])
def test_an_evaluate_through_predicts_scores_is_refused(check):
    """fit measures its validation figures with predict(..., scores=True), not with 05's evaluate (the student
    edition stubs that): the option must not be a way around evaluate's own-work rule."""
    with pytest.raises(CheckFailure, match="course.s own predict"):
        getattr(checks_training, check)(_evaluate_through_scores)


def test_fit_measures_what_evaluate_returns():
    torch.manual_seed(0)
    x, y = torch.rand(70, 1, 8, 8), torch.randint(0, 10, (70,))
    model, val = _own_cnn(0.5), training.make_loader(x[:45], y[:45], batch_size=16, shuffle=False)
    history = training.fit(model, training.make_loader(x[45:], y[45:], batch_size=8), val, progress=False,
                           optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=1)
    loss, accuracy = training.evaluate(model, val)
    assert history.val_loss[0] == pytest.approx(loss, rel=1e-5) and history.val_acc[0] == accuracy
    assert model.training
