"""The architectures of notebook 06, small enough to read: LeNet-5 to ResNet, Inception, U-Net and ConvNeXt.

Every model takes images ``(N, C, H, W)`` (``(N, C, T, H, W)`` for video) and keeps the dtype and
device of its parameters. Big ImageNet models (AlexNet, VGG-16) come from torchvision built with
``weights=None``; build them under ``with torch.device("meta"):`` to trace shapes and count
parameters without allocating them (see :mod:`helpers.inspect_models`).

- :func:`lenet5`: LeNet-5 (LeCun et al., 1998), 32x32x1 -> 10 classes, 61,706 parameters.
- :func:`vgg_block`, :func:`vgg16`: VGG's repeated pattern (3x3 same convolutions, 2x2 pooling).
- :func:`alexnet`, :func:`zfnet`: AlexNet, and ZFNet's changes to it, as in seed 001.
- :class:`ResidualBlock`: ``a[l+2] = g(z[l+2] + a[l])`` with an identity or a 1x1 projection shortcut;
  :class:`DeepNet` stacks plain or residual blocks for the depth experiment.
- :class:`Inception`, :class:`AuxHead`: GoogLeNet's module and auxiliary classifier.
- :class:`UpBlock`, :class:`SmallUNet`: a U-Net with transposed convolutions and skip connections.
- :class:`ConvNeXtBlock`: depthwise 7x7, LayerNorm, inverted bottleneck MLP, layer scale, residual.
"""

from __future__ import annotations

import torch
from torch import nn

from . import _validate as check

__all__ = ["lenet5", "vgg_block", "vgg16", "alexnet", "zfnet", "ResidualBlock", "DeepNet", "Inception", "AuxHead",
           "double_conv", "UpBlock", "SmallUNet", "ConvNeXtBlock"]


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


def vgg16(classes: int = 1000) -> nn.Sequential:
    """VGG-16 from :func:`vgg_block`: (N, 3, 224, 224) -> (N, classes); 138,357,544 parameters for 1000 classes.

    Blocks of 2, 2, 3, 3, 3 convolutions with 64, 128, 256, 512, 512 channels (224 -> 7), then
    7x7x512 = 25088 -> 4096 -> 4096 -> classes. Build it on the meta device to inspect it.
    """
    widths, convs, blocks, c = (64, 128, 256, 512, 512), (2, 2, 3, 3, 3), [], 3
    for width, n in zip(widths, convs):
        blocks.append(vgg_block(c, width, n))
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
        residual: False gives the *plain* block (the same layers, ``relu(z)``, no shortcut) for the
            depth experiment.
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


class DeepNet(nn.Module):
    """A stem, ``blocks`` plain or residual blocks of constant width, global average pooling, a classifier.

    (N, in_channels, H, W) -> (N, classes). It has ``2 * blocks + 2`` weight layers; with
    ``residual=False`` deep versions train worse than shallow ones, with ``residual=True`` they do not.
    """

    def __init__(self, blocks: int, width: int = 16, residual: bool = True, in_channels: int = 1, classes: int = 10):
        super().__init__()
        _channels("DeepNet", width=width, in_channels=in_channels, classes=classes)
        check.integer("DeepNet", "blocks", blocks, minimum=0)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU())
        self.blocks = nn.Sequential(*(ResidualBlock(width, width, residual=residual) for _ in range(blocks)))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes))

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
