"""Argument checks shared by the reference implementations.

Each raises an error that names the function, the argument and the fix, so a student who passes
a bad value reads what to change instead of a deep traceback.
"""

from __future__ import annotations

import torch


def integer(where: str, name: str, value, minimum: int | None = None) -> int:
    """``value`` as an int, or a TypeError/ValueError naming ``where`` and ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where}: {name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return value


def tensor(where: str, name: str, value, min_dim: int = 1, max_dim: int | None = None) -> torch.Tensor:
    """``value`` if it is a floating-point tensor with ``min_dim..max_dim`` dimensions."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{where}: {name} must be a torch.Tensor, got {type(value).__name__}; "
                        f"wrap it with torch.as_tensor(...)")
    if not value.is_floating_point():
        raise TypeError(f"{where}: {name} must hold floating-point numbers, got {value.dtype}; "
                        f"convert it with {name}.float()")
    if value.dim() < min_dim or (max_dim is not None and value.dim() > max_dim):
        wanted = f"{min_dim}" if max_dim == min_dim else f"{min_dim} to {max_dim or 'any'}"
        raise ValueError(f"{where}: {name} must have {wanted} dimensions, got shape {tuple(value.shape)}")
    return value


def boolean(where: str, name: str, value) -> bool:
    """``value`` if it is True or False (not 0, 1 or None), else a TypeError naming ``name``."""
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return value


def float_dtype(where: str, dtype: torch.dtype | None) -> torch.dtype:
    """``dtype`` (or torch's default when None) if it is a floating-point dtype, else a TypeError."""
    dtype = dtype or torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{where}: dtype must be a floating-point dtype such as torch.float64, got {dtype}")
    return dtype


def choice(where: str, name: str, value, options: tuple[str, ...]) -> str:
    """``value`` if it is one of ``options``, else a ValueError listing them."""
    if value not in options:
        raise ValueError(f"{where}: {name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


def same_device(where: str, **tensors: torch.Tensor) -> None:
    """A ValueError if the named tensors live on different devices or have different dtypes."""
    items = [(n, t) for n, t in tensors.items() if t is not None]
    first_name, first = items[0]
    for name, t in items[1:]:
        if t.device != first.device:
            raise ValueError(f"{where}: {name} is on {t.device} but {first_name} is on {first.device}; "
                             f"move both with .to(device)")
        if t.dtype != first.dtype:
            raise ValueError(f"{where}: {name} has dtype {t.dtype} but {first_name} has {first.dtype}; "
                             f"convert with .to({first_name}.dtype)")


def pair(where: str, name: str, value, minimum: int | None = None) -> tuple[int, int]:
    """An int or an ``(h, w)`` pair of ints as ``(h, w)``; 3 -> (3, 3).

    Raises a TypeError/ValueError naming ``where`` and ``name`` for anything else, or for an
    entry below ``minimum``.
    """
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2:
        raise ValueError(f"{where}: {name} must be an int or an (h, w) pair, got {value!r}")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int):
            raise TypeError(f"{where}: {name} must be an int or an (h, w) pair of ints, got {value!r}")
        if minimum is not None and item < minimum:
            raise ValueError(f"{where}: {name} must be >= {minimum}, got {value!r}")
    return items


def sliding_output(where: str, name: str, size, kernel, padding, stride, dilation) -> tuple[int, ...]:
    """Output size of a sliding window, ``floor((L + 2P - D(W - 1) - 1) / S) + 1`` on each axis.

    Every argument after ``name`` is a tuple with one int per axis (already checked). Raises a
    ValueError naming ``where`` and ``name`` when the window (``D(W - 1) + 1``) is larger than the
    padded input (``L + 2P``) on some axis.
    """
    span = tuple(d * (w - 1) + 1 for w, d in zip(kernel, dilation))
    padded = tuple(n + 2 * p for n, p in zip(size, padding))
    if any(s > n for s, n in zip(span, padded)):
        show = (lambda t: t[0]) if len(span) == 1 else tuple
        dilated = " (dilation * (kernel - 1) + 1)" if any(d > 1 for d in dilation) else ""
        raise ValueError(f"{where}: {name} spans {show(span)}{dilated} but the padded input is only "
                         f"{show(padded)} (size + 2 * padding); use a smaller kernel or dilation, or more padding")
    return tuple((n - s) // st + 1 for n, s, st in zip(padded, span, stride))
