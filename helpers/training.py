"""Training a network: loaders, one epoch, evaluation, early stopping, a history and ``fit``.

Everything here is device-agnostic: a batch goes to ``device`` (by default the device of the
model's first parameter), and nothing assumes CUDA. The loss functions are the usual
mean-reducing ones (``nn.CrossEntropyLoss()``), so a batch of ``n`` samples contributes
``n * loss`` to an epoch's total and the returned figures are per-sample means.

Epochs are counted from 0: ``history.val_loss[history.best_epoch]`` is the best validation loss,
``EarlyStopping.best_epoch`` indexes the same lists. Plots show epochs counted from 1.

``fit`` shows a ``tqdm.auto`` progress bar over the epochs (off while nbgrader runs a notebook,
whose graders score any text on stderr).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from . import _validate as check
from .device import under_nbgrader

__all__ = ["make_loader", "train_epoch", "evaluate", "predict", "EarlyStopping", "History", "fit",
           "confusion_matrix", "model_device", "count_parameters", "build_cnn", "digits_cnn", "DIGITS_CNN_SPEC",
           "feature_maps"]

# The notebook's CNN for the 8x8 digits: (layer, output shape for one image, parameters).
DIGITS_CNN_SPEC = (
    ("Conv2d(1, 16, 3, padding=1)", (16, 8, 8), 16 * 9 + 16),
    ("ReLU", (16, 8, 8), 0),
    ("MaxPool2d(2)", (16, 4, 4), 0),
    ("Conv2d(16, 32, 3, padding=1)", (32, 4, 4), 32 * 16 * 9 + 32),
    ("ReLU", (32, 4, 4), 0),
    ("MaxPool2d(2)", (32, 2, 2), 0),
    ("Flatten", (128,), 0),
    ("Linear(128, 64)", (64,), 128 * 64 + 64),
    ("ReLU", (64,), 0),
    ("Dropout(p)", (64,), 0),
    ("Linear(64, 10)", (10,), 64 * 10 + 10),
)


def build_cnn(dropout: float = 0.25) -> nn.Sequential:
    """The notebook's reference CNN for (N, 1, 8, 8) digits -> (N, 10) logits (see ``DIGITS_CNN_SPEC``).

    Two conv -> ReLU -> max-pool blocks (16 and 32 channels, 3x3 kernels, padding 1) and two fully
    connected layers (128 -> 64 -> 10) with dropout before the last; 13,706 parameters. It returns
    logits: the softmax belongs to the loss (``nn.CrossEntropyLoss``), not to the model.
    """
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"build_cnn: dropout must be a probability in [0, 1), got {dropout!r}")
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, 10))


# Named after notebook 05's exercise, so that the student edition, which stubs the course's version of every
# exercise by its name, ships it without its body; ``digits_cnn`` is the same function.
digits_cnn = build_cnn


def feature_maps(model: nn.Sequential, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """The output of every layer of a ``nn.Sequential`` for the batch ``x``, in eval mode, without gradients.

    Returns:
        ``[(layer name, output), ...]``: e.g. ``("0 Conv2d", (N, 16, 8, 8))`` for ``digits_cnn``.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"feature_maps: model must be an nn.Sequential, got {type(model).__name__}")
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with torch.no_grad():
            for index, layer in enumerate(model):
                x = layer(x)
                outputs.append((f"{index} {type(layer).__name__}", x))
    finally:
        model.train(was_training)
    return outputs


class _BatchTransform:
    """``collate_fn`` that stacks a batch of ``(x, y)`` samples and applies ``transform`` to ``x``."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, samples):
        x = torch.stack([s[0] for s in samples])
        y = torch.stack([s[1] for s in samples])
        return (x if self.transform is None else self.transform(x)), y


def make_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int = 64, shuffle: bool = True,
                seed: int = 0, transform=None) -> DataLoader:
    """A ``DataLoader`` of mini-batches ``(x_batch, y_batch)`` from two tensors.

    Args:
        x: (N, C, H, W) float images (any float tensor with N first works).
        y: (N,) long class labels.
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: draw a new order each epoch (training) or keep the order (evaluation).
        seed: seeds the loader's own generator, so the order of batches is reproducible.
        transform: None, or a callable applied to every (B, C, H, W) image batch on the fly, e.g.
            an augmentation pipeline from :mod:`helpers.augment`; labels are never touched.
            Give it to the training loader only.

    Returns:
        a ``DataLoader`` yielding ``(x_batch (B, C, H, W), y_batch (B,))`` on the device of ``x``.
    """
    check.tensor("make_loader", "x", x, min_dim=2)
    if not isinstance(y, torch.Tensor) or y.dim() != 1 or y.dtype != torch.long:
        raise TypeError("make_loader: y must be a (N,) torch.long tensor of class labels, got "
                        f"{type(y).__name__} {getattr(y, 'dtype', '')} {tuple(getattr(y, 'shape', ()))}; "
                        "convert it with y.long()")
    if len(x) != len(y):
        raise ValueError(f"make_loader: x has {len(x)} samples but y has {len(y)}; they must match")
    check.integer("make_loader", "batch_size", batch_size, minimum=1)
    check.boolean("make_loader", "shuffle", shuffle)
    check.integer("make_loader", "seed", seed)
    if transform is not None and not callable(transform):
        raise TypeError(f"make_loader: transform must be None or a callable on a batch, got {type(transform).__name__}")
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, generator=generator,
                      collate_fn=_BatchTransform(transform))


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer), the CPU for a model with neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) scalar parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _checked(where: str, model, loader, device) -> torch.device:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{where}: model must be a torch.nn.Module, got {type(model).__name__}")
    if not hasattr(loader, "__iter__"):
        raise TypeError(f"{where}: loader must be an iterable of (x, y) batches such as make_loader(...), "
                        f"got {type(loader).__name__}")
    return model_device(model) if device is None else torch.device(device)


def train_epoch(model: nn.Module, loader, loss_fn, optimizer: torch.optim.Optimizer,
                device=None) -> tuple[float, float]:
    """One pass over ``loader`` in train mode: forward, loss, ``zero_grad``, backward, step per batch.

    Args:
        model: maps (B, C, H, W) images to (B, K) logits.
        loader: yields ``(x (B, C, H, W), y (B,))`` batches.
        loss_fn: mean-reducing loss on (logits (B, K), labels (B,)), e.g. ``nn.CrossEntropyLoss()``.
        optimizer: holds the model's parameters.
        device: where to compute; None means the model's device.

    Returns:
        ``(mean loss over samples, accuracy in [0, 1])`` measured on the fly during the epoch.
    """
    device = _checked("train_epoch", model, loader, device)
    model.train()
    total_loss, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        optimizer.step()
        total_loss += loss.detach() * len(y)
        correct += (logits.detach().argmax(dim=1) == y).sum()
        seen += len(y)
    if seen == 0:
        raise ValueError("train_epoch: the loader yielded no batches; give it at least one sample")
    return total_loss.item() / seen, correct.item() / seen


def evaluate(model: nn.Module, loader, loss_fn=None, device=None) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``loader``, in eval mode and without gradients.

    Args:
        model: maps (B, C, H, W) images to (B, K) logits.
        loader: yields ``(x (B, C, H, W), y (B,))`` batches.
        loss_fn: mean-reducing loss; None means ``nn.CrossEntropyLoss()``.
        device: where to compute; None means the model's device.

    Returns:
        ``(mean loss over samples, accuracy in [0, 1])``. The model's train/eval mode is restored
        afterwards.
    """
    device = _checked("evaluate", model, loader, device)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    was_training = model.training
    model.eval()
    try:
        total_loss, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
        with torch.no_grad():
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                logits = model(x)
                total_loss += loss_fn(logits, y) * len(y)
                correct += (logits.argmax(dim=1) == y).sum()
                seen += len(y)
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("evaluate: the loader yielded no batches; give it at least one sample")
    return total_loss.item() / seen, correct.item() / seen


def predict(model: nn.Module, loader, device=None, scores: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted and true labels of every sample of ``loader`` (eval mode, no gradients).

    Args:
        scores: return the model's (N, K) outputs (logits) instead of the predicted labels.

    Returns:
        ``(predicted (N,), true (N,))`` long tensors on the CPU, in the loader's order; with ``scores``,
        ``(outputs (N, K), true (N,))`` on the device the model ran on. The model's train/eval mode is
        restored afterwards.
    """
    device = _checked("predict", model, loader, device)
    check.boolean("predict", "scores", scores)
    was_training = model.training
    model.eval()
    predicted, true = [], []
    try:
        with torch.no_grad():
            for x, y in loader:
                out = model(x.to(device))
                predicted.append(out if scores else out.argmax(dim=1).cpu())
                true.append(y.to(device) if scores else y.cpu())
    finally:
        model.train(was_training)
    if not true:
        raise ValueError("predict: the loader yielded no batches; give it at least one sample")
    return torch.cat(predicted), torch.cat(true)


def _measure(model: nn.Module, loader, loss_fn, device) -> tuple[float, float]:
    """``fit``'s validation figures (mean loss, accuracy) from :func:`predict`'s outputs, all at once.

    Not :func:`evaluate`: that is notebook 05's exercise, which the student edition ships without its
    body, while its demonstrations and notebook 07 train with ``fit``. A mean-reducing loss of the
    whole set's outputs is the per-sample mean ``evaluate`` returns.
    """
    outputs, true = predict(model, loader, device, scores=True)
    return loss_fn(outputs, true).item(), (outputs.argmax(dim=1) == true).sum().item() / len(true)


def confusion_matrix(predicted: torch.Tensor, true: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    Args:
        predicted, true: (N,) integer labels.
        num_classes: K; None means ``max(label) + 1``.

    Returns:
        (K, K) long tensor on the device of ``true``; row sums are the class sizes, the diagonal
        the correct predictions.
    """
    if predicted.shape != true.shape or predicted.dim() != 1:
        raise ValueError(f"confusion_matrix: predicted and true must be (N,) tensors of the same shape, "
                         f"got {tuple(predicted.shape)} and {tuple(true.shape)}")
    k = int(max(predicted.max(), true.max()).item()) + 1 if num_classes is None else num_classes
    check.integer("confusion_matrix", "num_classes", k, minimum=1)
    flat = true.long() * k + predicted.long().to(true.device)
    return torch.bincount(flat, minlength=k * k).reshape(k, k)


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs; keep the best weights.

    Call :meth:`step` once per epoch with the validation loss. A loss counts as an improvement
    when it is below ``best_loss - min_delta``: then ``counter`` resets to 0 and a deep copy of the
    model's ``state_dict`` is kept; otherwise ``counter`` grows by one, and ``step`` returns True
    once it reaches ``patience``. :meth:`restore` loads the kept weights back.

    Attributes:
        best_loss: lowest validation loss so far (``inf`` before the first step).
        best_epoch: the epoch (counted from 0, one per ``step``) of ``best_loss``; -1 before.
        counter: epochs since the last improvement.
        epoch: steps taken so far.
        best_state: the copied ``state_dict`` of the best epoch (None before the first).

    Example: patience 2 and losses 1.0, 0.5, 0.6, 0.7 stop at epoch 3 with best epoch 1.
    """

    def __init__(self, patience: int, min_delta: float = 0.0):
        self.patience = check.integer("EarlyStopping", "patience", patience, minimum=1)
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0, got {min_delta!r}")
        self.min_delta = float(min_delta)
        self.best_loss = math.inf
        self.best_epoch = -1
        self.counter = 0
        self.epoch = 0
        self.best_state = None

    def step(self, val_loss: float, model: nn.Module) -> bool:
        """Record this epoch's validation loss; True when training should stop now."""
        val_loss = float(val_loss)
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.counter = val_loss, self.epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.counter += 1
        self.epoch += 1
        return self.counter >= self.patience

    def restore(self, model: nn.Module) -> nn.Module:
        """Load the best weights into ``model`` (in place) and return it."""
        if self.best_state is None:
            raise RuntimeError("EarlyStopping.restore: no weights kept yet; call step(val_loss, model) first")
        model.load_state_dict(self.best_state)
        return model

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, best_loss={self.best_loss:.4g}, "
                f"best_epoch={self.best_epoch}, counter={self.counter})")


@dataclass
class History:
    """Per-epoch figures of a training run (index ``e`` = epoch ``e``, counted from 0).

    Attributes:
        train_loss, train_acc: mean loss and accuracy over each training epoch.
        val_loss, val_acc: the same on the validation set (empty without one).
        best_epoch: epoch of the lowest validation loss (None without validation).
        stopped_epoch: epoch at which early stopping ended the run (None if it ran to the end).
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.train_loss)

    def plot(self, axes=None):
        """Loss (left) and accuracy (right) per epoch, training and validation; the best epoch dashed.

        Args:
            axes: None for a new figure, or two matplotlib Axes to draw into.

        Returns:
            the matplotlib Figure.
        """
        import matplotlib.pyplot as plt

        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(9, 3))
        else:
            if len(axes) != 2:
                raise ValueError(f"History.plot: axes must be two matplotlib Axes (loss, accuracy), got {len(axes)}")
            fig = axes[0].figure
        epochs = range(1, self.epochs + 1)
        for ax, (train, val, name) in zip(axes, ((self.train_loss, self.val_loss, "loss"),
                                                 (self.train_acc, self.val_acc, "accuracy"))):
            ax.plot(epochs, train, label="training")
            if val:
                ax.plot(range(1, len(val) + 1), val, label="validation")
            if self.best_epoch is not None:
                ax.axvline(self.best_epoch + 1, color="gray", linestyle="--", label="best epoch")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.legend()
        return fig


def _progress_disabled(progress: bool) -> bool:
    return not progress or under_nbgrader()


def fit(model: nn.Module, train_loader, val_loader=None, *, optimizer: torch.optim.Optimizer, epochs: int,
        loss_fn=None, device=None, early_stopping: EarlyStopping | None = None, progress: bool = True,
        desc: str = "training") -> History:
    """Train ``model`` for up to ``epochs`` epochs and record a :class:`History`.

    Each epoch runs :func:`train_epoch` on ``train_loader`` and, with a ``val_loader``, measures
    the mean loss and accuracy on it (what :func:`evaluate` returns). With ``early_stopping``
    (needs a ``val_loader``) training ends once its ``step`` says so, and the best weights are
    restored at the end.

    Args:
        model: maps (B, C, H, W) images to (B, K) logits; trained in place.
        train_loader, val_loader: yield ``(x (B, C, H, W), y (B,))`` batches.
        optimizer: holds the model's parameters.
        epochs: the most epochs to run (>= 0).
        loss_fn: mean-reducing loss; None means ``nn.CrossEntropyLoss()``.
        device: where to compute; None means the model's device.
        early_stopping: an :class:`EarlyStopping`, or None to run every epoch.
        progress: show a tqdm progress bar over the epochs (never while nbgrader runs).
        desc: the progress bar's label.

    Returns:
        the :class:`History`.
    """
    from tqdm.auto import trange

    device = _checked("fit", model, train_loader, device)
    check.integer("fit", "epochs", epochs, minimum=0)
    check.boolean("fit", "progress", progress)
    if early_stopping is not None and val_loader is None:
        raise ValueError("fit: early_stopping needs a val_loader to watch; pass val_loader=... or drop early_stopping")
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    history = History()
    bar = trange(epochs, desc=desc, disable=_progress_disabled(progress))
    for epoch in bar:
        train_loss, train_acc = train_epoch(model, train_loader, loss_fn, optimizer, device)
        history.train_loss.append(train_loss)
        history.train_acc.append(train_acc)
        postfix = {"loss": f"{train_loss:.3f}", "acc": f"{train_acc:.3f}"}
        if val_loader is not None:
            val_loss, val_acc = _measure(model, val_loader, loss_fn, device)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            postfix.update(val_loss=f"{val_loss:.3f}", val_acc=f"{val_acc:.3f}")
        bar.set_postfix(postfix)
        if early_stopping is not None and early_stopping.step(val_loss, model):
            history.stopped_epoch = epoch
            break
    bar.close()
    if history.val_loss:
        history.best_epoch = min(range(len(history.val_loss)), key=history.val_loss.__getitem__)
    if early_stopping is not None and early_stopping.best_state is not None:
        early_stopping.restore(model)
        history.best_epoch = early_stopping.best_epoch
    return history
