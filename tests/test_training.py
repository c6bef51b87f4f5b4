"""helpers.training: loaders, one epoch, evaluation, early stopping, history and fit, on every device."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch
from torch import nn

from helpers import training

matplotlib.use("Agg")


def _data(n=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=gen)
    return x, (x.mean(dim=(1, 2, 3)) > 0).long()


# ============================================================================ the model
def test_digits_cnn_matches_its_spec():
    model = training.digits_cnn()
    assert training.count_parameters(model) == 13706 == sum(p for *_, p in training.DIGITS_CNN_SPEC)
    outputs = training.feature_maps(model, torch.zeros(3, 1, 8, 8))
    assert [tuple(o.shape[1:]) for _, o in outputs] == [s for _, s, _ in training.DIGITS_CNN_SPEC]
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    with pytest.raises(ValueError, match="dropout"):
        training.digits_cnn(1.5)


# ============================================================================ make_loader
def test_make_loader_is_reproducible_and_applies_the_transform_to_images_only():
    x, y = _data()
    order = lambda loader: torch.cat([yb for _, yb in loader])
    a, b = training.make_loader(x, y, 8, seed=3), training.make_loader(x, y, 8, seed=3)
    assert torch.equal(order(a), order(b))
    assert sorted(order(a).tolist()) == sorted(y.tolist())
    plain = training.make_loader(x, y, 16, shuffle=False)
    assert [len(yb) for _, yb in plain] == [16, 16, 8]
    doubled = training.make_loader(x, y, 16, shuffle=False, transform=lambda xb: 2 * xb)
    for (xa, ya), (xb, yb) in zip(plain, doubled):
        assert torch.equal(2 * xa, xb) and torch.equal(ya, yb)


def test_make_loader_refuses_bad_input():
    x, y = _data()
    with pytest.raises(TypeError, match="y must be"):
        training.make_loader(x, y.float())
    with pytest.raises(ValueError, match="must match"):
        training.make_loader(x, y[:-1])
    with pytest.raises(ValueError, match="batch_size"):
        training.make_loader(x, y, 0)


# ============================================================================ one epoch, evaluation
def test_one_epoch_lowers_the_loss_on_a_fixed_batch(device):
    x, y = _data(32)
    torch.manual_seed(0)
    model = training.digits_cnn(0.0).to(device)
    loader = training.make_loader(x, y, 32, shuffle=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = training.evaluate(model, loader)[0]
    loss, acc = training.train_epoch(model, loader, nn.CrossEntropyLoss(), optimizer)
    after = training.evaluate(model, loader)[0]
    assert math.isclose(loss, before, rel_tol=1e-4), "one batch: the epoch's loss is the loss before the step"
    assert after < before and 0 <= acc <= 1


def test_train_epoch_averages_over_samples_and_sets_train_mode():
    x, y = _data(10)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    model.eval()
    loader = training.make_loader(x, y, 4, shuffle=False)   # batches of 4, 4, 2
    expected = nn.functional.cross_entropy(model(x), y).item()
    loss, _ = training.train_epoch(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.0))
    assert math.isclose(loss, expected, rel_tol=1e-5) and model.training


def test_evaluate_and_predict_restore_the_mode_and_record_no_gradients(device):
    x, y = _data(20)
    model = training.digits_cnn(0.5).to(device).train()
    loader = training.make_loader(x, y, 8, shuffle=False)
    first, second = training.evaluate(model, loader), training.evaluate(model, loader)
    assert first == second and model.training, "eval mode: dropout off, so two runs agree; mode restored"
    predicted, true = training.predict(model, loader)
    assert predicted.shape == true.shape == (20,) and predicted.device.type == "cpu" and torch.equal(true, y)
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    training.evaluate(model, loader)
    assert not model.training


def test_confusion_matrix_counts():
    m = training.confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
    assert m.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    with pytest.raises(ValueError, match="same shape"):
        training.confusion_matrix(torch.tensor([0]), torch.tensor([0, 1]))


# ============================================================================ early stopping
def _scripted(losses, patience, min_delta=0.0):
    stopper = training.EarlyStopping(patience, min_delta)
    model = nn.Linear(1, 1, bias=False)
    results = []
    for epoch, loss in enumerate(losses):
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        results.append(stopper.step(loss, model))
        if results[-1]:
            break
    with torch.no_grad():
        model.weight.fill_(-1.0)
    stopper.restore(model)
    return results, stopper, model.weight.item()


def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_state():
    results, stopper, weight = _scripted([1.0, 0.5, 0.6, 0.7, 0.4], patience=2)
    assert results == [False, False, False, True]
    assert stopper.best_epoch == 1 and stopper.best_loss == 0.5 and stopper.counter == 2 and weight == 1.0


def test_early_stopping_resets_its_counter_and_respects_min_delta_and_ties():
    results, stopper, weight = _scripted([1.0, 0.8, 0.9, 0.7, 0.75, 0.72, 0.71, 0.9], patience=3)
    assert results == [False] * 6 + [True] and stopper.best_epoch == 3 and weight == 3.0
    results, stopper, _ = _scripted([0.5, 0.5, 0.5], patience=2)
    assert results == [False, False, True] and stopper.best_epoch == 0
    results, stopper, _ = _scripted([1.0, 0.95, 0.94, 0.93], patience=3, min_delta=0.1)
    assert results == [False, False, False, True] and stopper.best_epoch == 0


def test_early_stopping_refuses_bad_arguments_and_restore_before_step():
    with pytest.raises(ValueError, match="patience"):
        training.EarlyStopping(0)
    with pytest.raises(ValueError, match="min_delta"):
        training.EarlyStopping(2, -0.1)
    with pytest.raises(RuntimeError, match="step"):
        training.EarlyStopping(2).restore(nn.Linear(1, 1))


# ============================================================================ fit and history
def test_fit_records_history_stops_early_and_restores(device):
    x, y = _data(64)
    torch.manual_seed(0)
    model = training.digits_cnn(0.0).to(device)
    train = training.make_loader(x[:16], y[:16], 8, seed=0)      # tiny: it overfits
    val = training.make_loader(x[16:], y[16:], 64, shuffle=False)
    stopper = training.EarlyStopping(patience=3)
    history = training.fit(model, train, val, optimizer=torch.optim.Adam(model.parameters(), 1e-2), epochs=60,
                           early_stopping=stopper, progress=False)
    assert len(history.train_loss) == len(history.val_acc) == history.epochs <= 60
    assert history.stopped_epoch == history.epochs - 1 and history.best_epoch == stopper.best_epoch
    assert history.val_loss[history.best_epoch] == min(history.val_loss) == stopper.best_loss
    assert math.isclose(training.evaluate(model, val)[0], stopper.best_loss, rel_tol=1e-5)
    fig = history.plot()
    assert len(fig.axes) == 2


def test_fit_without_validation_and_its_errors():
    x, y = _data(16)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    loader = training.make_loader(x, y, 8)
    history = training.fit(model, loader, optimizer=torch.optim.SGD(model.parameters(), 0.1), epochs=2, progress=False)
    assert history.epochs == 2 and history.val_loss == [] and history.best_epoch is None
    with pytest.raises(ValueError, match="val_loader"):
        training.fit(model, loader, optimizer=torch.optim.SGD(model.parameters(), 0.1), epochs=1,
                     early_stopping=training.EarlyStopping(1))


def test_fit_shows_no_progress_bar_under_nbgrader(monkeypatch, capsys):
    x, y = _data(16)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    training.fit(model, training.make_loader(x, y, 8), optimizer=torch.optim.SGD(model.parameters(), 0.1), epochs=2)
    assert capsys.readouterr().err == ""
