"""Transfer learning: the course's pretrained source network and the tools to reuse it.

- :class:`SourceNet`, a small BatchNorm CNN whose children are named blocks
  (``block1 -> block2 -> block3 -> pool -> head``), and :func:`load_source_model`, which loads
  the weights the course ships (``helpers/data/transfer_source.pt``, trained on 20 rendered
  letters by ``scripts/train_source_model.py``; :func:`source_record` says how).
- :func:`freeze` (frozen blocks keep their BatchNorm statistics), :func:`replace_head`,
  :func:`extract_features` at a named layer, :func:`param_groups` (a smaller learning rate for
  the pretrained layers than for the new head), :func:`fine_tune`.
- :func:`precision_at_k` for content-based image retrieval with the features.

Shapes: images ``x`` are ``(N, 1, 28, 28)`` (any ``H, W >= 4`` works, the pooling is global);
``block1 -> (N, W, H/2, W/2)``, ``block2 -> (N, 2W, H/4, W/4)``, ``block3 -> (N, 4W, H/4, W/4)``,
``pool -> (N, 4W)``, ``head -> (N, K)`` logits, for width ``W`` (16) and ``K`` classes.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict

import torch
from torch import nn

from . import _validate as check

__all__ = ["LAYERS", "SOURCE_WEIGHTS", "SourceNet", "source_record", "load_source_model", "freeze",
           "replace_head", "extract_features", "param_groups", "fine_tune", "precision_at_k", "target_set",
           "target_trial", "augmentation"]

LAYERS = ("block1", "block2", "block3", "pool", "head")
_DATA = os.path.join(os.path.dirname(os.path.realpath(__file__)), "data")
SOURCE_WEIGHTS = os.path.join(_DATA, "transfer_source.pt")
SOURCE_RECORD = os.path.join(_DATA, "transfer_source.json")


def _block(c_in: int, c_out: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    return nn.Sequential(*layers, *([nn.MaxPool2d(2)] if pool else []))


class SourceNet(nn.Sequential):
    """conv-BN-ReLU blocks, global average pooling and a linear head, as named children.

    ``block1``: (N, C, H, W) -> (N, width, H/2, W/2); ``block2`` -> (N, 2 width, H/4, W/4);
    ``block3`` -> (N, 4 width, H/4, W/4); ``pool`` -> (N, 4 width); ``head`` -> (N, n_classes).

    A block whose parameters are all frozen (``requires_grad`` False) and that was put in eval
    mode stays in eval mode when ``model.train()`` is called (as every training loop does), so its
    BatchNorm keeps the source's running statistics.
    """

    def __init__(self, n_classes: int = 20, width: int = 16, in_channels: int = 1):
        check.integer("SourceNet", "n_classes", n_classes, minimum=1)
        check.integer("SourceNet", "width", width, minimum=1)
        super().__init__()
        self.block1 = _block(in_channels, width, pool=True)
        self.block2 = _block(width, 2 * width, pool=True)
        self.block3 = _block(2 * width, 4 * width, pool=False)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * width, n_classes)

    def __getitem__(self, index):
        """``model[i]`` is a child; ``model[:k]`` a plain ``nn.Sequential`` of the first children."""
        if isinstance(index, slice):
            return nn.Sequential(OrderedDict(list(self.named_children())[index]))
        return super().__getitem__(index)

    def train(self, mode: bool = True) -> "SourceNet":
        frozen = [child for child in self.children() if not child.training and _is_frozen(child)]
        super().train(mode)
        for child in frozen:
            child.eval()
        return self


def _is_frozen(module: nn.Module) -> bool:
    params = list(module.parameters())
    return bool(params) and not any(p.requires_grad for p in params)


def source_record() -> dict:
    """How the shipped weights were made: seed, classes, data, epochs, measured source accuracy."""
    with open(SOURCE_RECORD, encoding="utf-8") as f:
        return json.load(f)


def load_source_model(device=None) -> SourceNet:
    """The course's pretrained :class:`SourceNet` (20 letters), in eval mode, on ``device``.

    Args:
        device: where to put it; None means :func:`helpers.device.get_device`.
    """
    from .device import get_device

    record = source_record()
    model = SourceNet(len(record["classes"]), record["width"])
    state = torch.load(SOURCE_WEIGHTS, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(get_device() if device is None else device).eval()


def _layer_index(where: str, model: nn.Module, layer: str) -> int:
    names = [name for name, _ in model.named_children()]
    if layer not in names:
        raise ValueError(f"{where}: layer must be one of {names}, got {layer!r}")
    return names.index(layer)


def freeze(model: nn.Module, upto: str) -> nn.Module:
    """Freeze the children of ``model`` up to and including ``upto``; make the rest trainable.

    Frozen children get ``requires_grad = False`` and eval mode (their BatchNorm running
    statistics stay as they are); the others get ``requires_grad = True`` and the model's mode.

    Args:
        model: an ``nn.Sequential`` with named children, e.g. a :class:`SourceNet`.
        upto: the name of the last child to freeze, e.g. ``"block2"``.
    Returns:
        ``model``, changed in place.
    """
    last = _layer_index("freeze", model, upto)
    for i, child in enumerate(model.children()):
        frozen = i <= last
        child.requires_grad_(not frozen)
        child.train(model.training and not frozen)
    return model


def replace_head(model: nn.Module, n_classes: int, freeze_backbone: bool = True) -> nn.Module:
    """Give ``model`` a new, randomly initialised ``head``: ``nn.Linear(in_features, n_classes)``.

    Args:
        model: a :class:`SourceNet` (its ``head`` is an ``nn.Linear``).
        n_classes: the target task's number of classes.
        freeze_backbone: freeze every child before the head (feature extraction / partial
            fine-tuning); False leaves them trainable (full fine-tuning).
    Returns:
        ``model``, changed in place; the new head is trainable and on the model's device.
    """
    check.integer("replace_head", "n_classes", n_classes, minimum=1)
    old = model.head
    model.head = nn.Linear(old.in_features, n_classes).to(old.weight.device, old.weight.dtype)
    names = [name for name, _ in model.named_children()]
    if freeze_backbone:
        freeze(model, names[names.index("head") - 1])
    else:
        model.requires_grad_(True)
        model.train(model.training)
    return model


def extract_features(model: nn.Module, x: torch.Tensor, layer: str = "pool", batch_size: int = 512) -> torch.Tensor:
    """The output of ``layer`` (run through every child up to and including it), flattened.

    Args:
        model: an ``nn.Sequential`` with named children, e.g. a :class:`SourceNet`.
        x: (N, C, H, W) images.
        layer: the name of the child whose output is wanted; ``"pool"`` gives (N, 4 width).
        batch_size: images per forward pass.
    Returns:
        (N, D) detached features on the device of ``x``, computed in eval mode (the model's
        mode is restored afterwards).
    """
    check.tensor("extract_features", "x", x, min_dim=4, max_dim=4)
    last = _layer_index("extract_features", model, layer)
    children = list(model.children())[:last + 1]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = []
            for batch in x.split(batch_size):
                h = batch.to(device)
                for child in children:
                    h = child(h)
                out.append(h.flatten(1).to(x.device))
    finally:
        model.train(was_training)
    return torch.cat(out)


def param_groups(model: nn.Module, lr_backbone: float, lr_head: float) -> list[dict]:
    """Two optimizer parameter groups: the trainable pretrained parameters, then the head's.

    Returns:
        ``[{"params": [...], "lr": lr_backbone}, {"params": [...], "lr": lr_head}]``; frozen
        parameters are left out. Give it to any optimizer: ``torch.optim.Adam(param_groups(...))``.
    """
    head = [p for p in model.head.parameters() if p.requires_grad]
    head_ids = {id(p) for p in model.head.parameters()}
    backbone = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    return [{"params": backbone, "lr": lr_backbone}, {"params": head, "lr": lr_head}]


def fine_tune(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr_backbone: float = 1e-3,
              lr_head: float = 1e-2, batch_size: int = 32, seed: int = 0, transform=None, progress: bool = False):
    """Train ``model`` on ``(x, y)`` with Adam and two learning rates (:func:`param_groups`).

    Args:
        x: (N, C, H, W) images; y: (N,) long labels.
        epochs: passes over the data; batches of ``batch_size`` shuffled with ``seed``.
        transform: optional augmentation of each training batch.
    Returns:
        the :class:`helpers.training.History`.
    """
    from .training import fit, make_loader

    optimizer = torch.optim.Adam(param_groups(model, lr_backbone, lr_head))
    loader = make_loader(x, y, batch_size=batch_size, seed=seed, transform=transform)
    return fit(model, loader, optimizer=optimizer, epochs=epochs, progress=progress, desc="fine-tuning")


def precision_at_k(features: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Mean precision@k of retrieval by cosine similarity, every item querying all the others.

    For each item, rank the *other* items by the cosine similarity of their features to its own
    and count how many of the ``k`` most similar share its label; return the mean of count / k.

    Args:
        features: (N, D) float; labels: (N,) int; k: 1 <= k <= N - 1.
    Returns:
        a float in [0, 1].
    """
    check.tensor("precision_at_k", "features", features, min_dim=2, max_dim=2)
    check.integer("precision_at_k", "k", k, minimum=1)
    if k > len(features) - 1:
        raise ValueError(f"precision_at_k: k must be at most N - 1 = {len(features) - 1}, got {k}")
    unit = nn.functional.normalize(features, dim=1)
    similarity = unit @ unit.T
    similarity.fill_diagonal_(float("-inf"))              # an item never retrieves itself
    nearest = similarity.topk(k, dim=1).indices           # (N, k)
    return (labels[nearest] == labels[:, None]).float().mean().item()


# ------------------------------------------------------------------ the target task and one trial
TARGET_TEST_SEED = 1000


def target_set(labels_per_class: int, seed: int = 0, chars: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A few labelled images of the target letters (``data.TARGET_GLYPHS``): (5 n, 1, 28, 28), (5 n,).

    ``seed`` picks the images (seed + 1 for the training set of trial ``seed``); the test set is
    ``target_set(200, TARGET_TEST_SEED)`` (1000 images), never used for training.
    """
    from . import data

    chars = data.TARGET_GLYPHS if chars is None else chars
    check.integer("target_set", "labels_per_class", labels_per_class, minimum=1)
    return data.glyph_images(labels_per_class * len(chars), chars, seed=seed)


def augmentation(seed: int = 0):
    """The training augmentation every target run uses (pretrained or not): small shift, turn, contrast."""
    from .augment import Augment

    return Augment(max_shift=2, max_degrees=10.0, max_delta=0.1, max_scale=0.1, seed=seed)


def target_trial(train, seed: int = 0, labels_per_class: int = 10, pretrained: bool = True, test=None,
                 train_set=None) -> float:
    """Accuracy on the target test set after ``train(model, x, y)`` on ``labels_per_class`` images per class.

    Args:
        train: a callable that trains ``model`` in place on ``x: (N, 1, 28, 28)``, ``y: (N,)``.
        seed: the trial: picks the training images and seeds torch before the model is built.
        pretrained: start from :func:`load_source_model` with a new head (everything trainable), or
            from a randomly initialised :class:`SourceNet` of the same architecture.
        test: ``(x, y)`` to measure on; None means ``target_set(200, TARGET_TEST_SEED)``.
        train_set: ``(x, y)`` to train on instead of ``target_set(labels_per_class, seed + 1)``.
    Returns:
        the accuracy in [0, 1].
    """
    from .device import seed_everything
    from .training import make_loader, predict

    x, y = target_set(labels_per_class, seed=seed + 1) if train_set is None else train_set
    test = target_set(200, TARGET_TEST_SEED) if test is None else test
    seed_everything(seed)
    classes = int(y.max()) + 1
    if pretrained:
        model = replace_head(load_source_model("cpu").train(), classes, freeze_backbone=False)
    else:
        model = SourceNet(classes, source_record()["width"])
    train(model, x, y)
    # predict, not 05's evaluate: the student edition ships that exercise without its body
    predicted, true = predict(model, make_loader(*test, batch_size=500, shuffle=False))
    return (predicted == true).double().mean().item()
