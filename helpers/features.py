"""Edge kernels and the edge-histogram features of notebook 02 (seeds 001 and 002).

Direction convention (what "pointing at theta" means here): kernels are applied as a
cross-correlation (``F.conv2d``, which :func:`helpers.conv.conv2d_unfold` equals), rows run down
the image and columns to the right, so "east" is +column and "north" is -row (up on the screen). A kernel *points at*
theta when it responds positively where the image gets brighter in direction theta.

``directional_kernels()[0]`` is the Sobel derivative pointing east (0 degrees)::

    [[-1, 0, 1],
     [-2, 0, 2],
     [-1, 0, 1]]

and kernel ``i`` is kernel 0 with its outer ring of 8 entries turned ``i`` places counter-clockwise
(45 degrees each): kernel 2 points north, kernel 4 west (= -kernel 0), kernel 6 south. The
centre is 0 and every kernel sums to 0, so a flat image gives no response. Turning an image by 90
degrees counter-clockwise (``torch.rot90(x, 1, (-2, -1))``) therefore moves feature ``i`` to
feature ``i + 2 (mod 8)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _validate as check

# the outer ring of a 3x3 kernel, counter-clockwise from east: E, NE, N, NW, W, SW, S, SE
RING_ROWS = (1, 0, 0, 0, 1, 2, 2, 2)
RING_COLS = (2, 2, 1, 0, 0, 0, 1, 2)

__all__ = ["edge_kernels", "directional_kernels", "ring_turns", "edge_maps", "edge_histogram", "patch_features"]


def edge_kernels(dtype: torch.dtype | None = None, device=None) -> dict[str, torch.Tensor]:
    """Seed 001's 3x3 kernels, each (3, 3): ``"vertical"`` ``[[1, 0, -1]] * 3`` (bright on the left
    of a vertical edge gives a positive response), ``"horizontal"`` (its transpose) and ``"identity"``."""
    dtype = check.float_dtype("edge_kernels", dtype)
    vertical = torch.tensor([[1.0, 0.0, -1.0]] * 3, dtype=dtype, device=device)
    identity = torch.zeros(3, 3, dtype=dtype, device=device)
    identity[1, 1] = 1.0
    return {"vertical": vertical, "horizontal": vertical.T.contiguous(), "identity": identity}


def directional_kernels(dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """The 8 directional derivative kernels at 0, 45, ..., 315 degrees (see the module docstring).

    Returns:
        w: (8, 3, 3); ``w[0]`` is the Sobel kernel pointing east, ``w[i]`` its ring turned ``i``
        places counter-clockwise, ``w[i + 4] == -w[i]``.
    """
    dtype = check.float_dtype("directional_kernels", dtype)
    east = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=dtype, device=device)
    return ring_turns(east)


def ring_turns(base: torch.Tensor) -> torch.Tensor:
    """``base`` and its 7 turns by 45 degrees: the outer ring of 8 entries moved ``i`` places counter-clockwise.

    Args:
        base: (3, 3) kernel.
    Returns:
        (8, 3, 3); entry ``q`` of the ring of kernel ``i`` is entry ``q - i`` of ``base``'s ring;
        the centre stays where it is.
    """
    check.tensor("ring_turns", "base", base, min_dim=2, max_dim=2)
    if tuple(base.shape) != (3, 3):
        raise ValueError(f"ring_turns: base must have shape (3, 3), got {tuple(base.shape)}")
    rows, cols = torch.tensor(RING_ROWS, device=base.device), torch.tensor(RING_COLS, device=base.device)
    ring = base[rows, cols]                                              # (8,) values E, NE, ..., SE
    kernels = base.expand(8, 3, 3).clone()
    for i in range(8):
        kernels[i, rows, cols] = ring.roll(i)                            # entry q takes ring[q - i]
    return kernels


def edge_maps(x: torch.Tensor, kernels: torch.Tensor | None = None) -> torch.Tensor:
    """``relu(x * w_i)`` for each kernel: cross-correlation with zero "same" padding, then ReLU.

    Args:
        x: (N, 1, H, W) or (N, H, W) grayscale images.
        kernels: (K, kH, kW) with odd kH, kW (padding kH // 2, kW // 2: 1 for 3x3);
            default :func:`directional_kernels` in x's dtype and device.
    Returns:
        maps: (N, K, H, W), all >= 0.
    """
    return _maps("edge_maps", x, kernels)


def edge_histogram(x: torch.Tensor, kernels: torch.Tensor | None = None) -> torch.Tensor:
    """Seed 002's features ``f_i = sum over all pixels of max(0, x * w_i)``.

    Args:
        x: (N, 1, H, W) or (N, H, W); kernels: (K, kH, kW) or None (the 8 directional kernels).
    Returns:
        f: (N, K).
    """
    return _maps("edge_histogram", x, kernels).sum(dim=(2, 3))


def patch_features(x: torch.Tensor, kernels: torch.Tensor | None = None, patch=8, stride=None) -> torch.Tensor:
    """Edge histograms per patch, concatenated: ``f_{i,j} = sum over patch j of max(0, x * w_i)``.

    Args:
        x: (N, 1, H, W) or (N, H, W); kernels: (K, kH, kW) or None (the 8 directional kernels).
        patch: patch size, an int or an (h, w) pair.
        stride: step between patches, an int or a pair; None means ``patch`` (non-overlapping);
            smaller than ``patch`` gives overlapping patches. Patches that would run past the
            bottom or right border are left out, as in pooling.
    Returns:
        f: (N, K * n_patches), patch-major: column ``j * K + i`` is kernel ``i`` in patch ``j``,
        patches numbered row by row from the top-left (``j = row * patches_per_row + col``).
    """
    maps = _maps("patch_features", x, kernels)                           # (N, K, H, W)
    ph, pw = check.pair("patch_features", "patch", patch, minimum=1)
    sh, sw = (ph, pw) if stride is None else check.pair("patch_features", "stride", stride, minimum=1)
    check.sliding_output("patch_features", "patch", maps.shape[2:], (ph, pw), (0, 0), (sh, sw), (1, 1))
    sums = maps.unfold(2, ph, sh).unfold(3, pw, sw).sum(dim=(-2, -1))   # (N, K, rows, cols)
    return sums.permute(0, 2, 3, 1).reshape(maps.shape[0], -1)         # (N, rows * cols * K)


def _maps(where: str, x, kernels) -> torch.Tensor:
    """:func:`edge_maps` with errors naming ``where``: x and the kernels checked, kernels default on x's device."""
    check.tensor(where, "x", x, min_dim=3, max_dim=4)
    if x.dim() == 4 and x.shape[1] != 1:
        raise ValueError(f"{where}: x must be grayscale, (N, 1, H, W) or (N, H, W), got shape {tuple(x.shape)}")
    x = x if x.dim() == 4 else x[:, None]
    if kernels is None:
        kernels = directional_kernels(x.dtype, x.device)
    check.tensor(where, "kernels", kernels, min_dim=3, max_dim=3)
    check.same_device(where, x=x, kernels=kernels)
    if kernels.shape[1] % 2 == 0 or kernels.shape[2] % 2 == 0:
        raise ValueError(f"{where}: kernels must have odd height and width so that 'same' padding centres them, "
                         f"got shape {tuple(kernels.shape)}")
    pad = (kernels.shape[1] // 2, kernels.shape[2] // 2)
    return F.conv2d(x, kernels[:, None], padding=pad).relu()  # equal to conv.conv2d_unfold, and faster
