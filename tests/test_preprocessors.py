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


class FakeKernel:
    """A kernel client: ``kernel_info`` queues a reply on shell; IOPub delivers only from the ``connect_after``-th
    request on (a subscription not yet connected loses the first ones); the kernel is alive until ``dies_after``."""

    def __init__(self, connect_after: int = 1, dies_after: int | None = None):
        self.requests, self.connect_after, self.dies_after = 0, connect_after, dies_after
        self.shell_channel, self.iopub_channel = self._Channel(self._shell), self._Channel(self._iopub)

    class _Channel:
        def __init__(self, get):
            self.get_msg = get

    def kernel_info(self):
        self.requests += 1

    async def _shell(self, timeout=None):
        if self.dies_after is not None and self.requests > self.dies_after:
            await asyncio.sleep(timeout)
            raise Empty
        return {"msg_type": "kernel_info_reply"}

    async def _iopub(self, timeout=None):
        if self.requests < self.connect_after:
            await asyncio.sleep(timeout)
            raise Empty
        return {"msg_type": "status"}

    async def is_alive(self):
        return self.dies_after is None or self.requests <= self.dies_after


def test_a_new_kernel_is_ready_as_soon_as_it_answers_on_both_channels_with_no_idle_wait_after():
    from helpers.instructor.preprocessors import wait_until_ready

    kernel = FakeKernel()
    _, seconds = _timed(wait_until_ready(kernel, timeout=10))
    assert kernel.requests == 1 and seconds < 0.1  # jupyter_client's wait_for_ready idles 0.2 s more here
    kernel = FakeKernel(connect_after=3)  # IOPub connects late: kernel_info is asked again until it delivers
    _, seconds = _timed(wait_until_ready(kernel, timeout=10))
    assert kernel.requests == 3 and 0.4 <= seconds < 1


def test_a_kernel_that_dies_before_answering_is_reported():
    from helpers.instructor.preprocessors import wait_until_ready

    with pytest.raises(RuntimeError, match="died before replying"):
        asyncio.run(wait_until_ready(FakeKernel(connect_after=99, dies_after=1), timeout=10))
