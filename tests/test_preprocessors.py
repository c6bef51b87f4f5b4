"""The grading executor reads every kernel reply as soon as it is there, widgets or not.

nbclient mimics an ipywidgets ``Output`` by sending messages on the reply (shell) socket while
another task waits on that socket; the wait can miss its wake-up and last until the cell's timeout
(nbclient issue 312). Seen here: a cell with an ``Output`` widget took its whole 20 s timeout in
two runs of three on one core. :func:`poll_in_slices` bounds that wait to a fraction of a second.
"""

from __future__ import annotations

import asyncio
import os
import time
from queue import Empty

import nbformat
import pytest

from helpers.instructor.preprocessors import ResilientExecute, poll_in_slices

WIDGET_CELL = """\
import ipywidgets as W
from IPython.display import display
out = W.Output()
with out:
    out.clear_output(wait=True)
    display("a figure")
W.VBox([W.IntSlider(), out])
"""


class MissedWakeUp:
    """A channel whose waits never wake for a queued message: it is seen only when a wait times out."""

    def __init__(self, message=None):
        self.message, self.waits = message, []

    async def get_msg(self, timeout=None):
        self.waits.append(timeout)
        await asyncio.sleep(3600 if timeout is None else timeout)
        if self.message is None:
            raise Empty
        return self.message


def _timed(coroutine) -> tuple[object, float]:
    start = time.monotonic()
    result = asyncio.run(coroutine)
    return result, time.monotonic() - start


def test_a_queued_reply_is_read_within_one_slice_even_when_the_wait_misses_its_wake_up():
    channel = MissedWakeUp({"msg_type": "execute_reply"})
    poll_in_slices(channel, slice_s=0.05)
    for timeout in (None, 600):
        reply, seconds = _timed(channel.get_msg(timeout=timeout))
        assert reply == {"msg_type": "execute_reply"}
        assert seconds < 1, f"get_msg(timeout={timeout}) waited {seconds:.1f} s for a queued reply"
    assert max(channel.waits) <= 0.05


def test_the_timeout_still_holds_when_no_reply_comes():
    channel = MissedWakeUp(None)
    poll_in_slices(channel, slice_s=0.05)
    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=0.3))
    assert 0.3 <= time.monotonic() - start < 2
    assert all(t <= 0.05 for t in channel.waits) and len(channel.waits) >= 6


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity (Linux)")
def test_a_cell_with_an_output_widget_ends_when_it_ends_not_at_its_timeout(tmp_path):
    """Graded on one core (where the lost wake-up shows), the widget cell takes seconds, not 60 s."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(WIDGET_CELL)])
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})  # the kernel inherits it
    try:
        start = time.monotonic()
        ResilientExecute(timeout=60, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(tmp_path)}})
        seconds = time.monotonic() - start
    finally:
        os.sched_setaffinity(0, cores)
    assert [o.output_type for o in nb.cells[1].outputs] == ["execute_result"]
    assert seconds < 30, f"the widget cell waited {seconds:.0f} s, close to its 60 s timeout"


def _graded_then_tail() -> nbformat.NotebookNode:
    test = nbformat.v4.new_code_cell("assert x == 1")
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_x", "points": 1, "solution": False, "locked": True,
                                 "schema_version": 3}
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), test,
                                           nbformat.v4.new_code_cell("open('tail-ran', 'w').write('yes')")])


def test_the_cells_after_the_last_graded_cell_are_not_run_and_say_so(tmp_path):
    from helpers.instructor.preprocessors import NOT_GRADED_NOTE

    nb = _graded_then_tail()
    ResilientExecute(timeout=60, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert nb.cells[1].outputs == [] and not (tmp_path / "tail-ran").exists()
    assert [o.text.strip() for o in nb.cells[2].outputs] == [NOT_GRADED_NOTE]
    nb = _graded_then_tail()
    ResilientExecute(timeout=60, kernel_name="python3", run_after_last_graded=True).preprocess(
        nb, {"metadata": {"path": str(tmp_path)}})
    assert (tmp_path / "tail-ran").read_text() == "yes"
