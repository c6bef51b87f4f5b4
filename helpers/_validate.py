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
