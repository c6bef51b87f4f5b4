"""Offline images: generated shapes (circle, star, square, triangle), scikit-image's sample photographs,
letters rendered from the fonts inside matplotlib (:func:`glyph_images`, notebook 07's source and target tasks)
and scikit-learn's handwritten digits.

Nothing here touches the network. :func:`shape_images` draws its random numbers from a seeded
``torch.Generator`` (the same stream on every machine) and rasterises each shape on a 4x finer
grid with ``skimage.draw.polygon`` (``skimage.draw.disk`` for the circle), then averages each
4x4 block, so edges are anti-aliased.

Geometry of one shape in a ``size x size`` image: its outer radius is ``R = scale * size / 2``
(every vertex lies on the circle of radius R; the circle is that disk), its centre is
uniform over the positions that keep that circle inside the image, and it is turned by a
uniform angle when ``rotate`` is True. The square and triangle are regular polygons, the star
has 5 points with inner radius ``STAR_INNER * R``. For the same R the areas are, in units of
R^2: circle pi ~ 3.14, square 2, triangle 1.30, star 1.18.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import numpy as np
import skimage.color
import skimage.data
import skimage.draw
import skimage.transform
import skimage.util
import torch

from . import _validate as check

SHAPES = ("circle", "star", "square", "triangle")
STAR_INNER = 0.4
SUPERSAMPLE = 4
SAMPLE_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "coins", "moon", "page", "text", "clock",
                 "brick", "grass", "gravel", "rocket", "horse")

__all__ = ["SHAPES", "STAR_INNER", "SAMPLE_IMAGES", "draw_shape", "shape_images", "sample_image", "sample_photo"]


def _outline(kind: str, radius: float, angle: float) -> np.ndarray:
    """Polygon vertices (V, 2) as (row, col) offsets from the centre, counter-clockwise on screen.

    The square and triangle have their vertices at distance ``radius``; the star alternates
    ``radius`` and ``STAR_INNER * radius`` over 10 vertices. At ``angle = 0`` the triangle and the
    star point up; ``angle`` (radians) turns them counter-clockwise.
    """
    corners, first = {"star": (10, 90.0), "square": (4, 45.0), "triangle": (3, 90.0)}[kind]
    theta = angle + np.deg2rad(first) + 2 * np.pi * np.arange(corners) / corners
    r = np.full(corners, float(radius))
    if kind == "star":
        r[1::2] *= STAR_INNER
    return np.stack([-r * np.sin(theta), r * np.cos(theta)], axis=1)    # up is -row


def draw_shape(kind: str, size: int = 32, center=None, scale: float = 0.8, angle: float = 0.0) -> torch.Tensor:
    """One filled white shape on black, anti-aliased: (size, size) float64 in [0, 1].

    Args:
        kind: one of :data:`SHAPES`.
        size: image height and width in pixels.
        center: (row, col) in pixels (pixel ``i`` covers ``[i, i + 1)``); default the image centre.
        scale: outer radius as a fraction of half the image, ``R = scale * size / 2``.
        angle: rotation in radians, counter-clockwise.
    """
    check.choice("draw_shape", "kind", kind, SHAPES)
    check.integer("draw_shape", "size", size, minimum=1)
    center = (size / 2, size / 2) if center is None else center
    fine = size * SUPERSAMPLE
    # fine-grid coordinates: sub-pixel r is centred at r, which is (r + 0.5) / SUPERSAMPLE in pixels
    middle = np.asarray(center, dtype=float) * SUPERSAMPLE - 0.5
    radius = scale * size / 2
    if kind == "circle":
        rows, cols = skimage.draw.disk(middle, radius * SUPERSAMPLE, shape=(fine, fine))
    else:
        vertices = _outline(kind, radius, angle) * SUPERSAMPLE + middle
        rows, cols = skimage.draw.polygon(vertices[:, 0], vertices[:, 1], shape=(fine, fine))
    canvas = np.zeros((fine, fine))
    canvas[rows, cols] = 1.0
    blocks = canvas.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))
    return torch.from_numpy(blocks)


def shape_images(n: int, size: int = 32, kinds=SHAPES, seed: int = 0, noise: float = 0.05,
                 min_scale: float = 0.45, max_scale: float = 0.9, rotate: bool = True,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """A balanced, labelled data set of noisy shapes (see the module docstring for the geometry).

    Args:
        n: number of images; labels cycle through ``kinds`` (0, 1, ..., 0, 1, ...).
        size: height and width in pixels (>= 8).
        kinds: names from :data:`SHAPES`; label ``k`` means ``kinds[k]``.
        seed: the same seed gives the same images on any machine.
        noise: standard deviation of the Gaussian noise added before clipping to [0, 1].
        min_scale, max_scale: the range of ``scale`` (outer radius / half the image), in (0, 1].
        rotate: turn each shape by a uniform random angle (else every shape stands upright).
    Returns:
        images: (n, 1, size, size) in [0, 1] with ``dtype``; labels: (n,) int64.
    """
    kinds = _check_shape_args(n, size, kinds, seed, noise, min_scale, max_scale, rotate)
    dtype = check.float_dtype("shape_images", dtype)
    gen = torch.Generator().manual_seed(seed)
    scales = min_scale + (max_scale - min_scale) * torch.rand(n, generator=gen, dtype=torch.float64)
    angles = 2 * math.pi * torch.rand(n, generator=gen, dtype=torch.float64) * float(rotate)
    where = torch.rand(n, 2, generator=gen, dtype=torch.float64)       # centre, as a fraction of the free room
    speckle = torch.randn(n, 1, size, size, generator=gen, dtype=torch.float64)
    labels = torch.arange(n) % len(kinds)
    images = torch.zeros(n, 1, size, size, dtype=torch.float64)
    for i in range(n):
        radius = float(scales[i]) * size / 2
        center = radius + (size - 2 * radius) * where[i]
        images[i, 0] = draw_shape(kinds[labels[i]], size, center.tolist(), float(scales[i]), float(angles[i]))
    return (images + noise * speckle).clamp(0.0, 1.0).to(dtype), labels


def sample_image(name: str = "camera", size=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A photograph that ships with scikit-image, grayscale: (1, H, W) in [0, 1].

    Args:
        name: one of :data:`SAMPLE_IMAGES` (colour ones go through ``skimage.color.rgb2gray``).
        size: None (the original, e.g. camera 512 x 512), an int (square) or an (H, W) pair;
            resized with ``skimage.transform.resize(..., anti_aliasing=True)``.
    """
    check.choice("sample_image", "name", name, SAMPLE_IMAGES)
    dtype = check.float_dtype("sample_image", dtype)
    image = skimage.util.img_as_float(getattr(skimage.data, name)())
    if image.ndim == 3:
        image = skimage.color.rgb2gray(image)
    if size is not None:
        shape = check.pair("sample_image", "size", size, minimum=1)
        image = skimage.transform.resize(image, shape, anti_aliasing=True)
    return torch.from_numpy(np.clip(image, 0.0, 1.0)).to(dtype)[None]


def sample_photo(name: str = "chelsea", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A photograph that ships with scikit-image, in colour: (3, H, W) in [0, 1] (grey ones repeated to 3 channels).

    Args:
        name: one of :data:`SAMPLE_IMAGES` (``"chelsea"`` is a cat, 300 x 451; ``"coffee"`` 400 x 600).
        dtype: floating-point dtype. Resize (and normalise) with :func:`helpers.pretrained.preprocess`.
    """
    check.choice("sample_photo", "name", name, SAMPLE_IMAGES)
    dtype = check.float_dtype("sample_photo", dtype)
    image = torch.from_numpy(skimage.util.img_as_float(getattr(skimage.data, name)())).to(dtype)
    return image.permute(2, 0, 1)[:3] if image.dim() == 3 else image[None].repeat(3, 1, 1)


def _check_shape_args(n, size, kinds, seed, noise, min_scale, max_scale, rotate) -> tuple[str, ...]:
    where = "shape_images"
    check.integer(where, "n", n, minimum=1)
    check.integer(where, "size", size, minimum=8)
    check.integer(where, "seed", seed)
    check.boolean(where, "rotate", rotate)
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds or len(set(kinds)) != len(kinds):
        raise ValueError(f"{where}: kinds must be distinct names from {SHAPES}, got {kinds!r}")
    for kind in kinds:
        check.choice(where, "each of kinds", kind, SHAPES)
    for name, value in (("noise", noise), ("min_scale", min_scale), ("max_scale", max_scale)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{where}: {name} must be a number >= 0, got {value!r}")
    if not 0 < min_scale <= max_scale <= 1:
        raise ValueError(f"{where}: need 0 < min_scale <= max_scale <= 1, got min_scale={min_scale}, "
                         f"max_scale={max_scale}")
    return kinds


# ================================================================ digits (offline) and MNIST (opt-in)
# scikit-learn's 1797 real handwritten 8x8 digits ship with the package: no download. MNIST and
# Fashion-MNIST come through torchvision only when asked for (download=True) on a machine online.
DIGIT_CLASSES = tuple(str(k) for k in range(10))
TORCHVISION_DATASETS = {"MNIST": tuple(str(k) for k in range(10)),
                        "FashionMNIST": ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                                         "sneaker", "bag", "ankle boot")}
__all__ += ["DIGIT_CLASSES", "TORCHVISION_DATASETS", "Split", "DatasetUnavailable", "load_digits", "load_torchvision",
            "stratified_split"]


class DatasetUnavailable(RuntimeError):
    """An opt-in dataset is not on disk and could not be downloaded (offline, or download=False)."""


@dataclass(frozen=True)
class Split:
    """A dataset split once into training, validation and test sets.

    ``x_*``: (N, 1, H, W) float images in [0, 1]; ``y_*``: (N,) long labels; ``classes``: the
    class names, ``classes[k]`` for label ``k``. All tensors live on the CPU.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]

    def __repr__(self) -> str:
        return (f"Split(train={len(self.y_train)}, val={len(self.y_val)}, test={len(self.y_test)}, "
                f"image={tuple(self.x_train.shape[1:])}, classes={len(self.classes)})")


def stratified_split(y: torch.Tensor, fractions, seed: int = 0) -> list[torch.Tensor]:
    """Indices that split the samples into parts with the same class proportions.

    Args:
        y: (N,) integer labels.
        fractions: the share of each part but the first, e.g. ``(0.2, 0.2)`` for
            train / validation / test = 60 / 20 / 20 %; the first part takes the rest.
        seed: seeds the permutation of each class.

    Returns:
        one (N_part,) long index tensor per part (``len(fractions) + 1`` of them), each in a
        random order; together they hold every index once.
    """
    check.integer("stratified_split", "seed", seed)
    fractions = tuple(fractions)
    if any(isinstance(f, bool) or not isinstance(f, (int, float)) or f < 0 for f in fractions) or sum(fractions) >= 1:
        raise ValueError(f"stratified_split: fractions must be numbers >= 0 that sum to less than 1, got {fractions}")
    gen = torch.Generator().manual_seed(seed)
    parts: list[list[torch.Tensor]] = [[] for _ in range(len(fractions) + 1)]
    for label in torch.unique(y).tolist():
        members = torch.nonzero(y == label).flatten()
        members = members[torch.randperm(len(members), generator=gen)]
        start = len(members)
        for k in range(len(fractions), 0, -1):   # the last parts first; the first part keeps the rest
            count = round(fractions[k - 1] * len(members))
            parts[k].append(members[start - count:start])
            start -= count
        parts[0].append(members[:start])
    out = []
    for chunks in parts:
        indices = torch.cat(chunks)
        out.append(indices[torch.randperm(len(indices), generator=gen)])
    return out


def _resized(x: torch.Tensor, size) -> torch.Tensor:
    if size is None or tuple(x.shape[-2:]) == check.pair("load", "size", size, minimum=1):
        return x
    return torch.nn.functional.interpolate(x, size=check.pair("load", "size", size, minimum=1), mode="bilinear",
                                           align_corners=False).clamp(0.0, 1.0)


def _split(x: torch.Tensor, y: torch.Tensor, val_fraction: float, test_fraction: float, seed: int,
           classes: tuple[str, ...]) -> Split:
    train, val, test = stratified_split(y, (val_fraction, test_fraction), seed)
    return Split(x[train], y[train], x[val], y[val], x[test], y[test], classes)


def load_digits(size=None, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2,
                dtype: torch.dtype = torch.float32) -> Split:
    """scikit-learn's 1797 handwritten digits (8x8, 10 classes), offline, split once with a fixed seed.

    Args:
        size: None keeps 8x8; an int or ``(h, w)`` resizes with bilinear interpolation
            (``F.interpolate``), e.g. 16 or 28 for a model that expects larger images.
        seed: seeds the stratified split (same seed, same split on every machine).
        val_fraction, test_fraction: shares of each class put in the validation and test sets.
        dtype: floating-point dtype of the images.

    Returns:
        a :class:`Split`: ``x_*`` (N, 1, H, W) in [0, 1] (the raw 0..16 grey levels / 16),
        ``y_*`` (N,) long; 60/20/20 % of each class by default (1079 / 359 / 359 images).
    """
    dtype = check.float_dtype("load_digits", dtype)
    images, target = _digits_arrays()
    x = torch.as_tensor(images, dtype=dtype)[:, None] / 16.0
    y = torch.as_tensor(target, dtype=torch.long)
    return _split(_resized(x, size), y, val_fraction, test_fraction, seed, DIGIT_CLASSES)


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The digits as scikit-learn ships them: images (1797, 8, 8) of grey levels 0..16, targets (1797,).

    Read from scikit-learn's own data file without importing scikit-learn: importing it (with the
    parts of SciPy it loads) costs a kernel 30-120 MiB, and a Binder session has 2 GB for all of its
    kernels. Its loader reads the same file the same way; it is the fallback should the file move.
    """
    import importlib.util
    import os

    spec = importlib.util.find_spec("sklearn")  # locates the package without running it
    path = os.path.join(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz") if spec else ""
    if not os.path.exists(path):
        from sklearn.datasets import load_digits as sklearn_digits

        bunch = sklearn_digits()
        return bunch.images, bunch.target
    table = np.loadtxt(path, delimiter=",")   # 64 grey levels, then the label, per row
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)


def _default_root() -> str:
    import os

    return os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "cnn-course")


def _download_atomically(cls, root: str, name: str) -> None:
    """Download ``name`` into a temporary folder beside ``root/name`` and move it there in one step."""
    import os
    import shutil
    import tempfile

    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{name}-download-", dir=root)
    try:
        for train in (True, False):   # torchvision checks each file's MD5 checksum after downloading
            cls(staging, train=train, download=True)
        os.replace(os.path.join(staging, name), os.path.join(root, name))
    except Exception as exc:
        raise DatasetUnavailable(
            f"load_torchvision: could not download {name} ({type(exc).__name__}: {exc}). This machine may be "
            "offline; the course works without it: use data.load_digits() instead.") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_torchvision(name: str = "MNIST", root: str | None = None, download: bool = False, size=None,
                     seed: int = 0, val_fraction: float = 1 / 6, limit: int | None = None) -> Split:
    """MNIST or Fashion-MNIST through torchvision, opt-in (nothing in the course needs it).

    Args:
        name: ``"MNIST"`` or ``"FashionMNIST"``.
        root: folder of the files; None means ``~/.cache/cnn-course`` (``$XDG_CACHE_HOME`` respected).
        download: fetch the files when they are missing. The download goes to a temporary folder,
            torchvision checks the MD5 checksum of every file, and the folder is moved into place
            in one step, so an interrupted download never leaves a half-written dataset.
        size: None keeps 28x28; an int or ``(h, w)`` resizes bilinearly.
        seed: seeds the stratified train/validation split of the official training set.
        val_fraction: share of the official training set kept for validation (the test set is the
            official one).
        limit: keep at most this many training images (after the split), for quick runs.

    Returns:
        a :class:`Split` of (N, 1, H, W) float32 images in [0, 1] and (N,) long labels.

    Raises:
        DatasetUnavailable: the files are missing and ``download`` is False, or the download
            failed (for instance offline), with a message that says what to do.
    """
    import os

    import torchvision.datasets

    check.choice("load_torchvision", "name", name, tuple(TORCHVISION_DATASETS))
    check.boolean("load_torchvision", "download", download)
    root = _default_root() if root is None else os.fspath(root)
    cls = getattr(torchvision.datasets, name)
    if not os.path.isdir(os.path.join(root, name)):
        if not download:
            raise DatasetUnavailable(f"load_torchvision: {name} is not in {root}. Call load_torchvision({name!r}, "
                                     "download=True) on a machine with internet access, or use data.load_digits() "
                                     "(offline).")
        _download_atomically(cls, root, name)
    train, test = cls(root, train=True), cls(root, train=False)
    x = _resized(train.data[:, None].float() / 255.0, size)
    x_test = _resized(test.data[:, None].float() / 255.0, size)
    split = _split(x, train.targets.long(), val_fraction, 0.0, seed, TORCHVISION_DATASETS[name])
    keep = slice(None) if limit is None else slice(check.integer("load_torchvision", "limit", limit, minimum=1))
    return Split(split.x_train[keep], split.y_train[keep], split.x_val, split.y_val, x_test, test.targets.long(),
                 split.classes)


# ----------------------------------------------------------------------------- rendered glyphs
# Letters drawn with the fonts that ship inside matplotlib (no download), in random pose, size,
# contrast and noise: the source and target tasks of notebook 07 (transfer learning).
GLYPH_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif.ttf",
               "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf", "STIXGeneral.ttf",
               "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf")
SOURCE_GLYPHS = "ABCDEFGHJKLMNPRSTUVY"      # the source task: 20 letters
TARGET_GLYPHS = "abdhq"                     # the target task: 5 lowercase letters the source never saw
GLYPH_CANVAS = 64                           # side of the square a template is drawn on, in pixels
GLYPH_FILL = 0.8                            # the glyph's longer side, as a fraction of the canvas

__all__ += ["GLYPH_FONTS", "SOURCE_GLYPHS", "TARGET_GLYPHS", "glyph_template", "glyph_images"]


@functools.lru_cache(maxsize=None)
def glyph_template(char: str, font: str = "DejaVuSans.ttf") -> torch.Tensor:
    """One character of a matplotlib font, centred, white on black: (64, 64) float32 in [0, 1].

    The glyph's bounding box is scaled so its longer side fills ``GLYPH_FILL`` of the canvas (its
    proportions kept) and centred. Drawn once per (char, font) and cached.
    """
    if not isinstance(char, str) or len(char) != 1 or char.isspace():
        raise ValueError(f"glyph_template: char must be one visible character, got {char!r}")
    check.choice("glyph_template", "font", font, GLYPH_FONTS)
    from matplotlib import ft2font, get_data_path

    face = ft2font.FT2Font(os.path.join(get_data_path(), "fonts", "ttf", font))
    face.set_size(96, 72)                                   # 96 px high, then scaled down
    face.set_text(char)
    face.draw_glyphs_to_bitmap(antialiased=True)
    bitmap = np.asarray(face.get_image(), dtype=np.float64) / 255.0
    rows, cols = np.nonzero(bitmap > 0.05)
    if rows.size == 0:
        raise ValueError(f"glyph_template: font {font} draws nothing for {char!r}")
    bitmap = bitmap[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    side = GLYPH_FILL * GLYPH_CANVAS / max(bitmap.shape)
    h, w = (max(1, round(side * n)) for n in bitmap.shape)
    small = skimage.transform.resize(bitmap, (h, w), anti_aliasing=True)
    canvas = np.zeros((GLYPH_CANVAS, GLYPH_CANVAS))
    top, left = (GLYPH_CANVAS - h) // 2, (GLYPH_CANVAS - w) // 2
    canvas[top:top + h, left:left + w] = small
    return torch.from_numpy(np.clip(canvas, 0.0, 1.0)).float()


def glyph_images(n: int, chars: str = SOURCE_GLYPHS, size: int = 28, seed: int = 0, noise: float = 0.08,
                 max_angle: float = 20.0, min_scale: float = 0.6, max_scale: float = 1.0,
                 fonts=GLYPH_FONTS, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """A balanced, labelled data set of letters in random fonts and poses, with noise.

    Each image draws, from a seeded ``torch.Generator`` (the same images on every machine): a font
    from ``fonts``; a rotation in ``[-max_angle, max_angle]`` degrees; a size ``scale`` (the
    glyph's longer side is about ``0.8 * scale`` of the image); a shift that keeps it inside; a
    background level in [0, 0.3] and a stroke level in [0.6, 1]; then Gaussian noise of standard
    deviation ``noise``, clipped to [0, 1]. It is resampled (bilinear, 2x supersampled) from the
    cached :func:`glyph_template`.

    Args:
        n: number of images; labels cycle through ``chars`` (0, 1, ..., 0, 1, ...).
        chars: the classes, one character each; label ``k`` means ``chars[k]``.
        size: height and width in pixels (>= 8).
        seed: the same seed gives the same images on any machine.
    Returns:
        images: (n, 1, size, size) in [0, 1] with ``dtype``; labels: (n,) int64.
    """
    chars, fonts = _check_glyph_args(n, chars, size, seed, noise, max_angle, min_scale, max_scale, fonts)
    dtype = check.float_dtype("glyph_images", dtype)
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % len(chars)
    font = torch.randint(len(fonts), (n,), generator=gen)
    angle = torch.deg2rad((2 * torch.rand(n, generator=gen) - 1) * max_angle)
    scale = min_scale + (max_scale - min_scale) * torch.rand(n, generator=gen)
    shift = 0.7 * (2 * torch.rand(n, 2, generator=gen) - 1) * (1 - GLYPH_FILL * scale)[:, None].clamp(min=0)
    low = 0.3 * torch.rand(n, 1, 1, 1, generator=gen)
    high = 0.6 + 0.4 * torch.rand(n, 1, 1, 1, generator=gen)
    speckle = torch.randn(n, 1, size, size, generator=gen)
    templates = torch.stack([glyph_template(chars[c], fonts[f]) for c, f in zip(labels.tolist(), font.tolist())])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # output (x, y) in [-1, 1] -> template coordinates: rotate and zoom about the shifted centre
    rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)      # (n, 2, 2)
    theta = torch.cat([rotation, -(rotation @ shift[:, :, None])], dim=2)                     # (n, 2, 3)
    grid = torch.nn.functional.affine_grid(theta, [n, 1, 2 * size, 2 * size], align_corners=False)
    glyphs = torch.nn.functional.grid_sample(templates[:, None], grid, align_corners=False)
    glyphs = torch.nn.functional.avg_pool2d(glyphs, 2)
    images = low + (high - low) * glyphs + noise * speckle
    return images.clamp(0.0, 1.0).to(dtype), labels


def _check_glyph_args(n, chars, size, seed, noise, max_angle, min_scale, max_scale, fonts):
    where = "glyph_images"
    check.integer(where, "n", n, minimum=1)
    check.integer(where, "size", size, minimum=8)
    check.integer(where, "seed", seed)
    if not isinstance(chars, str) or not chars or len(set(chars)) != len(chars):
        raise ValueError(f"{where}: chars must be a string of distinct characters such as 'ABC', got {chars!r}")
    fonts = (fonts,) if isinstance(fonts, str) else tuple(fonts)
    if not fonts:
        raise ValueError(f"{where}: fonts must name at least one of {GLYPH_FONTS}")
    for font in fonts:
        check.choice(where, "each of fonts", font, GLYPH_FONTS)
    for name, value in (("noise", noise), ("max_angle", max_angle), ("min_scale", min_scale),
                        ("max_scale", max_scale)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{where}: {name} must be a number >= 0, got {value!r}")
    if not 0 < min_scale <= max_scale <= 1.25:
        raise ValueError(f"{where}: need 0 < min_scale <= max_scale <= 1.25, got min_scale={min_scale}, "
                         f"max_scale={max_scale}")
    return chars, fonts


# ----------------------------------------------------------------------------- Fashion-MNIST, offline
# Zalando's 28x28 grey photos of clothing (MIT licence). The full set (60,000 + 10,000) is read from
# the Debian/Ubuntu package ``dataset-fashion-mnist`` when it is installed (Binder installs it from
# binder/apt.txt); everywhere else a fixed stratified subset ships with the course (12,000 + 2,000,
# built by scripts/build_fashion_subset.py, its SHA-256 recorded in manifest.json beside it).
FASHION_CLASSES = TORCHVISION_DATASETS["FashionMNIST"]
FASHION_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
FASHION_SUBSET_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "data", "fashion_mnist")
FASHION_SUBSET = os.path.join(FASHION_SUBSET_DIR, "fashion_subset.npz")
FASHION_MANIFEST = os.path.join(FASHION_SUBSET_DIR, "manifest.json")
__all__ += ["FASHION_CLASSES", "FASHION_DEBIAN_DIR", "FASHION_SUBSET", "FASHION_MANIFEST", "Fashion", "read_idx",
            "sha256_file", "load_fashion_mnist"]


@dataclass(frozen=True)
class Fashion:
    """One split of Fashion-MNIST.

    ``images``: (N, 1, 28, 28) float in [0, 1] (grey level / 255); ``labels``: (N,) int64 in 0..9;
    ``classes``: the 10 names, ``classes[k]`` for label ``k``; ``source``: ``"debian"`` (the full
    set from the Debian package) or ``"subset"`` (the subset shipped with the course).
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: str

    def __repr__(self) -> str:
        return f"Fashion(images={tuple(self.images.shape)}, labels={tuple(self.labels.shape)}, source={self.source!r})"


def sha256_file(path: str) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_idx(path: str) -> np.ndarray:
    """An idx file (MNIST's format, gzipped or not) as a uint8 array: images (N, 28, 28), labels (N,).

    The format: 2 zero bytes, a type byte (0x08 = uint8), the number of dimensions, each dimension
    as a big-endian int32, then the values.
    """
    import gzip

    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError(f"read_idx: {path} is not a uint8 idx file (first bytes {raw[:4]!r})")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    values = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if values.size != math.prod(shape):
        raise ValueError(f"read_idx: {path} declares shape {shape} but holds {values.size} values")
    return values.reshape(shape)


def _debian_present() -> bool:
    return all(os.path.isfile(os.path.join(FASHION_DEBIAN_DIR, name)) for pair in FASHION_FILES.values()
               for name in pair)


@functools.lru_cache(maxsize=4)
def _fashion_arrays(split: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    if source == "debian":
        images, labels = (read_idx(os.path.join(FASHION_DEBIAN_DIR, name)) for name in FASHION_FILES[split])
        return images, labels
    import json

    with open(FASHION_MANIFEST) as f:
        expected = json.load(f)["output"]["sha256"]
    if sha256_file(FASHION_SUBSET) != expected:
        raise RuntimeError(f"load_fashion_mnist: {FASHION_SUBSET} does not match the SHA-256 in {FASHION_MANIFEST}; "
                           "the file is damaged: reinstall the course or rebuild it with "
                           "python scripts/build_fashion_subset.py")
    with np.load(FASHION_SUBSET) as arrays:
        return arrays[f"x_{split}"], arrays[f"y_{split}"]


def load_fashion_mnist(split: str = "train", source: str = "auto", per_class: int | None = None, seed: int = 0,
                       dtype: torch.dtype = torch.float32, verbose: bool = True) -> Fashion:
    """Fashion-MNIST offline: the full set when the Debian package is installed, else the shipped subset.

    Args:
        split: ``"train"`` (60,000 full / 12,000 subset) or ``"test"`` (10,000 / 2,000).
        source: ``"auto"`` (Debian files when present, else the subset), ``"debian"`` or
            ``"subset"``. Use ``"subset"`` where every machine must see the same images.
        per_class: keep only this many images of each class (a seeded, stratified choice), e.g. 10
            for a few-label experiment; None keeps all.
        seed: seeds that choice.
        dtype: floating-point dtype of the images.
        verbose: print one line saying which source was used.

    Returns:
        a :class:`Fashion`: ``images`` (N, 1, 28, 28) in [0, 1], ``labels`` (N,) int64,
        ``classes`` (10 names), ``source`` (``"debian"`` or ``"subset"``). The subset's
        SHA-256 is checked against its manifest before it is read.
    """
    check.choice("load_fashion_mnist", "split", split, tuple(FASHION_FILES))
    check.choice("load_fashion_mnist", "source", source, ("auto", "debian", "subset"))
    dtype = check.float_dtype("load_fashion_mnist", dtype)
    check.boolean("load_fashion_mnist", "verbose", verbose)
    if per_class is not None:
        check.integer("load_fashion_mnist", "per_class", per_class, minimum=1)
    check.integer("load_fashion_mnist", "seed", seed)
    if source == "auto":
        source = "debian" if _debian_present() else "subset"
    elif source == "debian" and not _debian_present():
        raise DatasetUnavailable(f"load_fashion_mnist: the Debian files are not in {FASHION_DEBIAN_DIR}; install "
                                 "them with apt-get install dataset-fashion-mnist, or use source='subset'")
    images, labels = _fashion_arrays(split, source)
    y = torch.from_numpy(labels.astype(np.int64))
    keep = torch.arange(len(y))
    if per_class is not None:
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(y), generator=gen)
        keep = torch.cat([order[y[order] == k][:per_class] for k in range(len(FASHION_CLASSES))])
        keep = keep[torch.randperm(len(keep), generator=gen)]
    x = torch.from_numpy(images[keep.numpy()]).to(dtype)[:, None] / 255.0
    if verbose:
        where = f"the Debian package ({FASHION_DEBIAN_DIR})" if source == "debian" else "the subset shipped with the course"
        print(f"Fashion-MNIST {split}: {len(keep):,} images from {where}")
    return Fashion(x, y[keep], FASHION_CLASSES, source)
