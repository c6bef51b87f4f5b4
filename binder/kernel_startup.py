"""Binder only: after every cell, hand the memory freed during the cell back to the system.

binder/postBuild installs this file as an IPython startup file, so every kernel of a Binder session
runs it. PyTorch frees a tensor into glibc's heap, which keeps the pages for later; an idle kernel
then holds tens of MiB it no longer uses, and a session's kernels share Binder's 2 GB.
``malloc_trim(0)`` returns those pages (a few milliseconds per cell). Measured with
``python benchmarks/binder_memory.py`` (README, Binder).
"""

import ctypes


def _register_trim() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6")   # glibc only (Binder's images are Ubuntu); elsewhere nothing to do
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    get_ipython().events.register("post_run_cell", lambda result: trim(0))  # noqa: F821 (IPython's global)


_register_trim()
del _register_trim
