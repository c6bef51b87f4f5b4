"""The library the course notebooks import.

One module per course concept: ``device`` (device, seeds, budget), ``signals`` (1D convolution),
``conv`` (2D convolution), ``features`` (edge kernels and features), ``pooling``, ``backprop``
(each forward beside its backward), ``data`` (offline images, glyphs and digits), ``augment``
(augmentation), ``training`` (loaders, epochs, early stopping, fit), ``models`` (the case-study
architectures), ``inspect_models`` (parameter, shape and multiplication counts), ``transfer``
(the shipped source model, features, freezing, parameter groups, retrieval), ``plots``,
``widgets``, ``checks`` (self-checks and grading checks). ``instructor`` is the grading tool
behind the ``cnn-course`` command.
``setup_notebook`` is the one call at the top of every notebook.
"""

from __future__ import annotations

from .device import available_devices, budget, get_device, is_fast, pick, seed_everything
from .notebook import setup_notebook

__all__ = ["available_devices", "budget", "get_device", "is_fast", "pick", "seed_everything", "setup_notebook"]
__version__ = "0.1.0"
