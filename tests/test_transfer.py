"""helpers.transfer and the generated glyph tasks: the shipped source weights, freezing, parameter
groups, features and retrieval."""

from __future__ import annotations

import copy
import os

import pytest
import torch
from torch import nn

from helpers import data, transfer
from helpers.training import evaluate, make_loader


# ------------------------------------------------------------------ generated glyphs
def test_glyph_images_are_seeded_balanced_and_in_range():
    x, y = data.glyph_images(40, "ABCD", seed=3)
    assert x.shape == (40, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.long
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    assert torch.bincount(y).tolist() == [10] * 4
    assert torch.equal(x, data.glyph_images(40, "ABCD", seed=3)[0])
    assert not torch.equal(x, data.glyph_images(40, "ABCD", seed=4)[0])


def test_glyph_template_draws_a_centred_glyph():
    t = data.glyph_template("O")
    assert t.shape == (data.GLYPH_CANVAS, data.GLYPH_CANVAS) and float(t.max()) > 0.9
    rows = torch.nonzero(t.sum(1) > 0).flatten()
    assert abs((rows.min() + rows.max()).item() / 2 - data.GLYPH_CANVAS / 2) <= 2


def test_source_and_target_letters_are_disjoint():
    assert not set(data.SOURCE_GLYPHS) & set(data.TARGET_GLYPHS)


@pytest.mark.parametrize("kwargs,match", [({"chars": "AA"}, "distinct"), ({"fonts": ("Comic.ttf",)}, "fonts"),
                                          ({"min_scale": 0.0}, "min_scale"), ({"n": 0}, "n must")])
def test_glyph_images_name_the_bad_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        data.glyph_images(**{"n": 4, **kwargs})


# ------------------------------------------------------------------ shipped weights
def test_shipped_weights_are_small_and_recorded():
    assert os.path.getsize(transfer.SOURCE_WEIGHTS) < 2_000_000
    record = transfer.source_record()
    assert record["classes"] == data.SOURCE_GLYPHS and 0.9 < record["test_accuracy"] <= 1
    assert record["script"] == "scripts/train_source_model.py"


def test_shipped_weights_load_and_reach_the_recorded_accuracy(device):
    record = transfer.source_record()
    model = transfer.load_source_model(device)
    x, y = data.glyph_images(record["test_images"], record["classes"], record["size"], seed=record["test_seed"])
    _, accuracy = evaluate(model, make_loader(x, y, batch_size=500, shuffle=False))
    assert accuracy >= record["test_accuracy"] - 0.005, (accuracy, record["test_accuracy"])


def test_shipped_record_says_transfer_beats_scratch_by_ten_points():
    target = transfer.source_record()["target"]
    median = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    assert median(target["pretrained_accuracy"]) - median(target["scratch_accuracy"]) >= 0.10


# ------------------------------------------------------------------ freezing and heads
def _model(device, seed=0):
    torch.manual_seed(seed)
    return transfer.SourceNet(4, 4).to(device).train()


def _step(model, device):
    x = torch.rand(6, 1, 12, 12, device=device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.5)
    model.train()                                  # as every training loop does
    nn.functional.cross_entropy(model(x), torch.arange(6, device=device) % 4).backward()
    optimizer.step()


def test_freeze_keeps_frozen_weights_and_batchnorm_statistics_after_a_step(device):
    model = transfer.freeze(_model(device), "block2")
    before = copy.deepcopy(model.state_dict())
    _step(model, device)
    after = model.state_dict()
    for key in before:
        if key.endswith("num_batches_tracked"):
            continue
        same = torch.equal(before[key], after[key])
        assert same == key.startswith(("block1", "block2")), key
    assert [c.training for c in model.children()] == [False, False, True, True, True]
    assert [p.requires_grad for p in model.block2.parameters()] == [False] * 3
    assert all(p.requires_grad for p in model.head.parameters())


def test_freeze_unfreezes_the_later_blocks(device):
    model = _model(device)
    model.requires_grad_(False)
    transfer.freeze(model, "block1")
    assert all(p.requires_grad for p in model.block2.parameters())
    with pytest.raises(ValueError, match="layer must be one of"):
        transfer.freeze(model, "block9")


def test_replace_head_makes_a_new_trainable_head_on_a_frozen_backbone(device):
    model = transfer.replace_head(_model(device), 7)
    assert isinstance(model.head, nn.Linear) and model.head.out_features == 7 and model.head.weight.device.type == device.type
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]
    full = transfer.replace_head(_model(device), 7, freeze_backbone=False)
    assert all(p.requires_grad for p in full.parameters())


def test_param_groups_give_the_optimizer_two_learning_rates(device):
    model = transfer.freeze(_model(device), "block1")
    optimizer = torch.optim.Adam(transfer.param_groups(model, 1e-4, 1e-2))
    assert [g["lr"] for g in optimizer.param_groups] == [1e-4, 1e-2]
    ids = [{id(p) for p in g["params"]} for g in optimizer.param_groups]
    assert ids[1] == {id(p) for p in model.head.parameters()}
    assert ids[0] == {id(p) for n, p in model.named_parameters() if n.startswith(("block2", "block3"))}


def test_fine_tune_moves_backbone_and_head_by_their_learning_rates(device):
    model = transfer.freeze(_model(device), "block1")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x = torch.rand(6, 1, 12, 12, device=device)
    transfer.fine_tune(model, x, torch.arange(6, device=device) % 4, 1, lr_backbone=1e-4, lr_head=1e-2)
    moved = {n: (p.detach() - before[n]).abs().max().item() for n, p in model.named_parameters()}
    assert moved["block1.0.weight"] == 0
    assert moved["block3.0.weight"] == pytest.approx(1e-4, rel=0.05)
    assert moved["head.weight"] == pytest.approx(1e-2, rel=0.05)


# ------------------------------------------------------------------ features and retrieval
def test_extract_features_shapes_eval_mode_and_restored_mode(device):
    model = _model(device)
    x = torch.rand(3, 1, 28, 28, device=device)
    assert transfer.extract_features(model, x, "pool").shape == (3, 16)
    assert transfer.extract_features(model, x, "block3").shape == (3, 16 * 7 * 7)
    one = transfer.extract_features(model, x[:1], "pool")
    torch.testing.assert_close(one, transfer.extract_features(model, x, "pool")[:1])   # eval: no batch effect
    assert model.training and not transfer.extract_features(model, x).requires_grad


def test_precision_at_k_on_a_constructed_case(device):
    f = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]], device=device)
    assert transfer.precision_at_k(f, torch.tensor([0, 0, 1, 1], device=device), 1) == 1.0
    assert transfer.precision_at_k(f, torch.tensor([0, 1, 0, 1], device=device), 1) == 0.0
    # k = 2: the second neighbour is from the other class for every query (the query itself excluded)
    assert transfer.precision_at_k(f, torch.tensor([0, 0, 1, 1], device=device), 2) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at most N - 1"):
        transfer.precision_at_k(f, torch.tensor([0, 0, 1, 1], device=device), 4)
