"""Device choice, seeding and the one budget switch every notebook reads.

- :func:`get_device` picks CUDA, then Apple's MPS, then the CPU; the environment variable
  ``COURSE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``) overrides the choice.
- :func:`available_devices` lists every device present (tests run on each of them).
- :func:`seed_everything` seeds Python, NumPy and torch in one call.
- :func:`under_nbgrader` tells whether nbgrader is running the notebook (validate or autograde).
- :func:`budget` says how much work a notebook may do: ``"full"`` normally, ``"fast"`` while
  nbgrader runs it (``NBGRADER_EXECUTION`` is set) or in CI (``CI`` is set). :func:`pick` turns
  that into a number: ``epochs = pick(full=200, fast=20)``.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["get_device", "available_devices", "seed_everything", "under_nbgrader", "budget", "is_fast", "pick"]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[torch.device]:
    """Every device torch can use here, the CPU first: ``[cpu, cuda:0, ..., mps]``."""
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices += [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    if _mps_available():
        devices.append(torch.device("mps"))
    return devices


def get_device(preferred: str | None = None) -> torch.device:
    """The device to compute on.

    Args:
        preferred: a device string such as ``"cpu"`` or ``"cuda:0"``; ``None`` reads the
            environment variable ``COURSE_DEVICE`` and, if that is unset too, takes the first
            accelerator present (CUDA, then MPS), else the CPU.

    Returns:
        a ``torch.device``.

    Raises:
        ValueError: the requested device is not present on this machine.
    """
    choice = preferred or os.environ.get("COURSE_DEVICE")
    if choice:
        device = torch.device(choice)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"get_device: preferred={choice!r} but CUDA is not available here; "
                             "use 'cpu' or unset COURSE_DEVICE")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"get_device: preferred={choice!r} but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s); use 'cuda:0' or unset COURSE_DEVICE")
        if device.type == "mps" and not _mps_available():
            raise ValueError(f"get_device: preferred={choice!r} but MPS is not available here; "
                             "use 'cpu' or unset COURSE_DEVICE")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python's ``random``, NumPy and torch (all devices) with ``seed``.

    Returns:
        a CPU ``torch.Generator`` seeded with ``seed``, for code that wants its own stream.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed_everything: seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def under_nbgrader() -> bool:
    """True while nbgrader runs the notebook (validate or autograde): it sets ``NBGRADER_EXECUTION``."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def budget() -> str:
    """``"fast"`` under nbgrader (``NBGRADER_EXECUTION`` set) or in CI (``CI`` set), else ``"full"``.

    ``COURSE_BUDGET=full`` or ``COURSE_BUDGET=fast`` overrides both, for benchmarks.
    """
    forced = os.environ.get("COURSE_BUDGET", "").strip().lower()
    if forced in ("full", "fast"):
        return forced
    if under_nbgrader() or os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return "fast"
    return "full"


def is_fast() -> bool:
    """True when :func:`budget` is ``"fast"``."""
    return budget() == "fast"


def pick(full, fast):
    """``full`` normally, ``fast`` under autograding or CI: ``steps = pick(full=500, fast=100)``."""
    return fast if is_fast() else full
