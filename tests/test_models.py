"""helpers.models and helpers.inspect_models: shapes and counts of every architecture (the seed facts),
the residual block's definition, the counters and the shape tracer on any module, on every device."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from helpers import inspect_models as im
from helpers import models as m


def _dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def _meta(build):
    with torch.device("meta"):
        return build()


# ---------------------------------------------------------------------------- counting
def test_torchvision_alexnet_and_vgg16_counts_on_the_meta_device():
    alex, vgg = _meta(lambda: torchvision.models.alexnet(weights=None)), _meta(lambda: torchvision.models.vgg16(weights=None))
    assert next(vgg.parameters()).device.type == "meta"
    assert im.count_parameters(alex) == 61_100_840
    assert im.count_parameters(vgg) == 138_357_544 == im.count_parameters(_meta(m.vgg16))


def test_our_architectures_have_their_published_counts():
    assert im.count_parameters(m.lenet5()) == im.count_parameters(m.lenet5("max")) == 61_706
    assert im.count_parameters(_meta(m.alexnet)) == 62_378_344
    assert im.count_parameters(_meta(m.zfnet)) == 107_627_624


def test_count_parameters_trainable_only_shared_and_buffers():
    net = m.lenet5()
    for layer in list(net)[:6]:
        layer.requires_grad_(False)
    assert im.count_parameters(net, trainable_only=True) == 61_706 - 156 - 2_416
    block = m.ResidualBlock(4, 8, stride=2)  # batch norm buffers are not parameters
    assert im.count_parameters(block) == 4 * 8 * 9 + 8 * 8 * 9 + 4 * 8 + 3 * 2 * 8
    shared = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    shared.append(shared[0])
    assert im.count_parameters(shared) == 12
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        im.count_parameters(torch.zeros(3))
    with pytest.raises(TypeError, match="trainable_only"):
        im.count_parameters(net, trainable_only=1)


# ---------------------------------------------------------------------------- shape traces
def _spatial(rows):
    return [r.shape[1:] for r in rows if len(r.shape) == 4 and r.kind in ("Conv2d", "AvgPool2d", "MaxPool2d")]


def test_lenet5_trace_follows_seed_001():
    rows = im.trace_shapes(m.lenet5(), (1, 1, 32, 32))
    assert _spatial(rows) == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5)]
    assert [r.shape for r in rows if r.kind == "Linear"] == [(1, 120), (1, 84), (1, 10)]
    assert sum(r.params for r in rows) == 61_706
    assert "61,706" in im.format_trace(rows)


def test_alexnet_zfnet_and_vgg16_traces_on_the_meta_device():
    alex = _spatial(im.trace_shapes(_meta(m.alexnet), (1, 3, 227, 227)))
    assert alex[0] == (96, 55, 55) and (256, 27, 27) in alex and (384, 13, 13) in alex and alex[-1] == (256, 6, 6)
    zf = _spatial(im.trace_shapes(_meta(m.zfnet), (1, 3, 224, 224)))
    assert [zf[1], zf[3], zf[4], zf[5], zf[6], zf[7]] == [(96, 55, 55), (256, 13, 13), (512, 13, 13), (1024, 13, 13),
                                                          (512, 13, 13), (512, 6, 6)]
    rows = im.trace_shapes(_meta(lambda: torchvision.models.vgg16(weights=None)), (1, 3, 224, 224))
    pools = [r.shape[1:] for r in rows if r.kind == "MaxPool2d"]
    assert pools == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)]
    assert rows[-1].shape == (1, 1000) and all(len(r.shape) < 4 or r.shape[2] in (224, 112, 56, 28, 14, 7) for r in rows)


def test_trace_shapes_on_a_tensor_keeps_the_mode_and_lists_repeated_layers(device):
    shared = nn.Conv2d(2, 2, 3, padding=1)
    net = nn.Sequential(shared, nn.ReLU(), shared).to(device, _dtype(device)).train()
    rows = im.trace_shapes(net, torch.zeros(1, 2, 5, 5, device=device, dtype=_dtype(device)))
    assert [r.kind for r in rows] == ["Conv2d", "ReLU", "Conv2d"] and net.training
    with pytest.raises(TypeError, match="x must be a tensor or a shape"):
        im.trace_shapes(net, "1, 2, 5, 5")
    with pytest.raises(ValueError, match="x is on cpu but the model is on meta"):
        im.trace_shapes(_meta(lambda: nn.Conv2d(2, 2, 3)), torch.zeros(1, 2, 5, 5))


# ---------------------------------------------------------------------------- multiplications
def test_conv_multiplications_seed_001_facts():
    assert im.conv_multiplications((192, 28, 28), 32, 5, padding=2) == 120_422_400
    bottleneck = im.conv_multiplications((192, 28, 28), 16, 1) + im.conv_multiplications((16, 28, 28), 32, 5, padding=2)
    assert bottleneck == 12_443_648
    assert im.conv_multiplications((8, 6, 6), 8, 3, padding=1, groups=8) == 6 * 6 * 8 * 9
    with pytest.raises(ValueError, match="in_shape must be"):
        im.conv_multiplications((28, 28), 32, 5)
    with pytest.raises(ValueError, match="kernel_size spans"):
        im.conv_multiplications((3, 4, 4), 2, 5)


def test_model_multiplications_adds_the_layers_up(device):
    inception = m.Inception(192, 64, 96, 128, 16, 32, 32)
    convs = [((192, 28, 28), 64, 1, 0), ((192, 28, 28), 96, 1, 0), ((96, 28, 28), 128, 3, 1),
             ((192, 28, 28), 16, 1, 0), ((16, 28, 28), 32, 5, 2), ((192, 28, 28), 32, 1, 0)]
    expected = sum(im.conv_multiplications(s, c, k, padding=p) for s, c, k, p in convs)
    assert im.model_multiplications(_meta(lambda: m.Inception(192, 64, 96, 128, 16, 32, 32)), (1, 192, 28, 28)) == expected
    assert im.model_multiplications(inception, (2, 192, 28, 28)) == 2 * expected
    up = nn.ConvTranspose2d(4, 3, 2, stride=2).to(device)
    assert im.model_multiplications(up, torch.zeros(1, 4, 5, 5, device=device)) == 4 * 25 * 3 * 4
    assert im.model_multiplications(nn.Linear(7, 5), (3, 7)) == 3 * 35


# ---------------------------------------------------------------------------- blocks
@pytest.mark.parametrize("c_in,c_out,stride", [(4, 4, 1), (3, 6, 1), (4, 4, 2), (3, 5, 2)])
def test_residual_block_is_g_of_z_plus_a(c_in, c_out, stride, device):
    torch.manual_seed(0)
    block = m.ResidualBlock(c_in, c_out, stride).to(device, _dtype(device)).eval()
    with torch.no_grad():
        for bn in (block.bn1, block.bn2):
            bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
    a = torch.randn(2, c_in, 7, 6, device=device, dtype=_dtype(device))
    z = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(a)))))
    identity = (c_in, stride) == (c_out, 1)
    torch.testing.assert_close(block(a), torch.relu(z + (a if identity else block.shortcut(a))))
    assert isinstance(block.shortcut, nn.Identity) == identity
    assert block(a).shape == (2, c_out, -(-7 // stride), -(-6 // stride))
    assert block(a).device.type == device.type and block(a).dtype == _dtype(device)
    plain = m.ResidualBlock(c_in, c_out, stride, residual=False).to(device, _dtype(device)).eval()
    plain.load_state_dict(block.state_dict())
    torch.testing.assert_close(plain(a), torch.relu(z))


def test_deep_net_depth_and_shapes(device):
    net = m.DeepNet(3, width=8, residual=False).to(device)
    assert net(torch.zeros(5, 1, 8, 8, device=device)).shape == (5, 10)
    assert sum(isinstance(x, (nn.Conv2d, nn.Linear)) for x in net.modules()) == 2 * 3 + 2
    with pytest.raises(ValueError, match="blocks must be >= 0"):
        m.DeepNet(-1)


def test_inception_and_aux_head_shapes(device):
    x = torch.randn(1, 192, 28, 28, device=device)
    assert m.Inception(192, 64, 96, 128, 16, 32, 32).to(device)(x).shape == (1, 256, 28, 28)
    head = m.AuxHead(512).to(device)
    assert head(torch.zeros(2, 512, 14, 14, device=device)).shape == (2, 1000)
    assert [r.shape for r in im.trace_shapes(head, (2, 512, 14, 14)) if r.kind == "Conv2d"] == [(2, 128, 4, 4)]
    with pytest.raises(ValueError, match="c3 must be >= 1"):
        m.Inception(192, 64, 96, 0, 16, 32, 32)


def test_small_unet_output_matches_its_input(device):
    net = m.SmallUNet(3, 2, base=4).to(device, _dtype(device))
    for h, w in ((16, 16), (8, 20), (4, 4)):
        assert net(torch.zeros(2, 3, h, w, device=device, dtype=_dtype(device))).shape == (2, 2, h, w)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.zeros(1, 3, 10, 8, device=device, dtype=_dtype(device)))
    up = m.UpBlock(8, 4, 4)
    assert up(torch.zeros(1, 8, 3, 5), torch.zeros(1, 4, 6, 10)).shape == (1, 4, 6, 10)


def test_convnext_block_keeps_the_shape_and_starts_near_the_identity(device):
    block = m.ConvNeXtBlock(16).to(device)
    x = torch.randn(2, 16, 9, 7, device=device)
    assert block(x).shape == x.shape
    torch.testing.assert_close(block(x), x, atol=1e-4, rtol=0)
    with torch.no_grad():
        block.gamma.zero_()
    torch.testing.assert_close(block(x), x)
    assert block.dwconv.groups == 16 and im.count_parameters(block.dwconv) == 16 * 49 + 16


def test_vgg_block_halves_and_bad_arguments_are_named():
    assert m.vgg_block(3, 64, 2)(torch.zeros(1, 3, 32, 32)).shape == (1, 64, 16, 16)
    with pytest.raises(ValueError, match="pool must be one of"):
        m.lenet5("min")
    with pytest.raises(TypeError, match="residual must be True or False"):
        m.ResidualBlock(2, 2, residual=1)
