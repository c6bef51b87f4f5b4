"""Known-wrong answers for notebook 06's design exercises (``layer_output_shape``, ``vgg_block``,
``cheap_block``; checks in ``helpers/checks/design.py``). Same format as :mod:`banks.nb01`."""

from __future__ import annotations

from .nb01 import M, Mutant

ASSIGNMENT = "06_architectures"

MUTANTS: list[Mutant] = [
    # ---- layer_output_shape
    M("layer_output_shape", "padding once", ("2 * ph", "ph"), ("2 * pw", "pw"), explains="added on both sides"),
    M("layer_output_shape", "no dilation", ("- dh * (kh - 1) - 1", "- kh"), ("- dw * (kw - 1) - 1", "- kw"),
      explains="a dilation D spreads"),
    M("layer_output_shape", "channels kept",
      ("channels = layer.out_channels if isinstance(layer, nn.Conv2d) else in_shape[0]", "channels = in_shape[0]"),
      explains="out_channels channels"),
    M("layer_output_shape", "runs the layer", explains="refuses to run", source='''
def layer_output_shape(layer, in_shape):
    return tuple(layer(torch.zeros(1, *in_shape)).shape[1:])
'''),
    M("layer_output_shape", "Flatten forgotten", ("    if isinstance(layer, nn.Flatten):\n        size = 1\n"
                                                  "        for n in in_shape:\n            size *= n\n"
                                                  "        return (int(size),)\n", "")),
    # ---- vgg_block
    M("vgg_block", "no padding", ("3, padding=1)", "3)"), explains="padding=1 keeps H and W"),
    M("vgg_block", "no ReLU", (", nn.ReLU()]", "]"), explains="followed by nn.ReLU()"),
    M("vgg_block", "pool stride 1", ("nn.MaxPool2d(2, stride=2)", "nn.MaxPool2d(2, stride=1)"),
      explains="kernel 2, stride 2"),
    M("vgg_block", "every conv from in_channels", ("in_channels if i == 0 else out_channels", "in_channels")),
    M("vgg_block", "the course's own", explains="course's own vgg_block", source='''
def vgg_block(in_channels, out_channels, convs):
    return models.vgg_block(in_channels, out_channels, convs)
'''),
    # ---- cheap_block
    M("cheap_block", "dense 5x5 then 1x1", ("5, padding=2, groups=channels", "5, padding=2")),
    M("cheap_block", "depthwise only", explains="never mixes channels", source='''
def cheap_block(channels):
    return nn.Conv2d(channels, channels, 5, padding=2, groups=channels)
'''),
    M("cheap_block", "3x3 depthwise", ("5, padding=2, groups=channels), nn.ReLU(),", "3, padding=1, groups=channels),"),
      explains="a 3x3 kernel sees 3x3"),
    M("cheap_block", "two dense 3x3", explains="18/25 = 72%", source='''
def cheap_block(channels):
    return nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(channels, channels, 3, padding=1))
'''),
]
