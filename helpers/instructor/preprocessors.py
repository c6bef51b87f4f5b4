"""nbgrader preprocessors that make autograding fair to one student without affecting another.

They replace or join nbgrader's own in the ``Autograde.autograde_preprocessors`` chain
(:func:`helpers.instructor.course.grading_config`); each is a small subclass of nbgrader's or
nbconvert's classes:

- :class:`ResilientExecute`: nbgrader's ``Execute``; when the kernel dies (``os._exit``, ``exit()``,
  a crash, memory exhausted) the cell that killed it gets an error (0 points if it is a test cell),
  a new kernel replays the cells before it and grading goes on after it. nbgrader alone drops the
  whole submission.
  Before each test cell it makes the hidden tests import the checks from disk again (a notebook
  that replaced ``helpers.checks.fresh`` or the import hook cannot answer for them), and undoes the
  hooks a notebook can install into its kernel (:data:`GUARD`): IPython input and AST transformers
  and event callbacks, trace and profile functions, ``sys.path``, ``sys.meta_path`` and
  ``sys.path_hooks`` additions, active torch function and dispatch modes. What it cannot undo (a
  thread the notebook started, a patched ``torch.Tensor`` method or builtin, a replaced
  ``get_ipython().run_cell``) fails that test cell with :data:`HOOKED` and the reason, and the
  grader flags it for a manual look.
- :class:`CapOutput`: bounds the text a cell keeps (nbgrader's ``LimitOutput`` counts lines only,
  so one gigantic line stays gigantic) and stops collecting output while the kernel is still
  printing.
- :class:`StderrIsNotAFailure`: a test cell fails by raising, never by printing; nbgrader scores any
  stderr text of a test cell 0, so a correct answer that warns would lose its points.
"""

from __future__ import annotations

import ast
import copy
import time
from queue import Empty

from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async, run_hook
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbclient import NotebookClient
from traitlets import Bool, Enum, Integer

KERNEL_DIED = "KernelDied"
HOOKED = "GraderFlagged"  # a test cell not run: the notebook left a hook the grader cannot undo
# Evaluated first in every new kernel, before any cell: what the kernel holds before the notebook runs.
# The grader keeps it outside the kernel and hands it to every GUARD as literals.
BASELINE = """(lambda sys, builtins, torch: {
    "path": list(sys.path), "meta_path": [id(f) for f in sys.meta_path], "path_hooks": [id(h) for h in sys.path_hooks],
    "tensor": {k: id(v) for k, v in vars(torch.Tensor).items()} if torch else {},
    "builtins": {k: id(v) for k, v in vars(builtins).items() if callable(v)},
    "modes": [torch._C._len_torch_function_stack(), torch._C._len_torch_dispatch_stack()] if torch else [0, 0],
})(__import__("sys"), __import__("builtins"), __import__("sys").modules.get("torch"))"""
# Evaluated, silently, before every test cell, as a user expression (input transformers never see it):
# the hidden tests import the checks from disk again (`from helpers.checks import fresh`), not from
# modules or an import hook the notebook replaced, and the hooks of the notebook are undone.
# It returns [what was undone, what could not be undone], for the report.
GUARD = r'''
def __grader_guard(base):
    import builtins, importlib._bootstrap, sys, threading
    found, kept = [], []
    if sys.gettrace() is not None or sys.getprofile() is not None or threading.gettrace() or threading.getprofile():
        found.append("a trace or profile function")
    sys.settrace(None); sys.setprofile(None); threading.settrace(None); threading.setprofile(None)
    mine = lambda f: getattr(f, "__module__", None) == "__main__" or type(f).__module__ == "__main__"
    if getattr(builtins.__import__, "__module__", None) not in ("builtins", "importlib._bootstrap"):
        found.append("builtins.__import__")
        builtins.__import__ = importlib._bootstrap.__import__
    ip = get_ipython()
    for owner, name in [(ip, "input_transformers_cleanup"), (ip, "input_transformers_post"), (ip, "ast_transformers"),
                        (ip.input_transformer_manager, "cleanup_transforms"),
                        (ip.input_transformer_manager, "line_transforms")]:
        hooks = getattr(owner, name, [])
        if any(mine(h) for h in hooks):
            found.append(f"IPython {name}")
            hooks[:] = [h for h in hooks if not mine(h)]
    for event, callbacks in ip.events.callbacks.items():
        if any(mine(c) for c in callbacks):
            found.append(f"IPython event {event}")
            callbacks[:] = [c for c in callbacks if not mine(c)]
    kept += [f"get_ipython().{name}" for name in ("run_cell", "run_cell_async", "transform_cell", "transform_ast",
                                                  "run_ast_nodes", "run_code", "should_run_async", "compile")
             if name in vars(ip) and (name != "compile" or type(ip.compile).__module__ == "__main__")]
    if sys.path != base["path"]:
        found.append("sys.path")
        sys.path[:] = base["path"]
    for name, hooks in (("meta_path", sys.meta_path), ("path_hooks", sys.path_hooks)):
        if [id(h) for h in hooks] != base[name]:
            found.append(f"sys.{name}")
            hooks[:] = [h for h in hooks if id(h) in base[name]]
            sys.path_importer_cache.clear()
    torch = sys.modules.get("torch")
    if torch is not None:
        functions, dispatch = base["modes"]
        while torch._C._len_torch_function_stack() > functions:
            found.append("a torch function mode")
            torch._C._pop_torch_function_stack()
        while torch._C._len_torch_dispatch_stack() > dispatch:
            found.append("a torch dispatch mode")
            torch._C._pop_torch_dispatch_stack()
        kept += [f"torch.Tensor.{k}" for k, v in vars(torch.Tensor).items()
                 if (id(v) != base["tensor"][k] if k in base["tensor"] else callable(v) and bool(base["tensor"]))]
    kept += [f"builtins.{k}" for k, v in vars(builtins).items() if k in base["builtins"] and id(v) != base["builtins"][k]]
    kept += [f"a thread the notebook started ({t.name})" for t in threading.enumerate()
             if t.is_alive() and (mine(getattr(t, "_target", None)) or type(t).__module__ == "__main__")]
    for name in [n for n in list(sys.modules) if n == "helpers" or n.startswith("helpers.")]:
        module = sys.modules.pop(name)
        found += [f"{name}.{attr}" for attr, value in list(vars(module).items())
                  if getattr(value, "__module__", None) == "__main__" or type(value).__module__ == "types"]
    return [sorted(set(found)), sorted(set(kept))]
'''
REPLACED = "grader: replaced by the notebook, so ignored by the hidden tests:"
NOT_RUN = "NotRun"
NOT_GRADED_NOTE = "(not run while grading: no graded cell comes after this one)"
TRUNCATED = "... output truncated by the grader ..."


def poll_in_slices(channel, slice_s: float = 0.2) -> None:
    """Make ``channel.get_msg(timeout)`` wait in polls of at most ``slice_s`` seconds.

    A message that arrived while the wait missed its wake-up is then picked up by the next poll,
    within ``slice_s``, instead of when the whole timeout (``None``: never) has passed.

    Args:
        channel: a jupyter_client channel whose ``get_msg(timeout=None)`` is a coroutine function
            that raises ``queue.Empty`` on timeout (the kernel client's ``shell_channel``).
    """
    get_msg = channel.get_msg

    async def sliced(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = slice_s if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await get_msg(timeout=min(slice_s, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = sliced


async def wait_until_ready(kc, timeout: float) -> None:
    """Return once the kernel behind ``kc`` answers ``kernel_info`` and its IOPub messages arrive.

    jupyter_client's ``wait_for_ready`` does the same, then waits 0.2 s more for IOPub to fall silent
    (its "flush"). That idle wait is a tenth of a forked kernel's whole life under grading: about a
    minute of a class of 700 notebooks. It is not needed here: nbclient ignores IOPub messages that
    do not answer the request it is waiting for, such as the status messages of this ``kernel_info``.

    Raises:
        RuntimeError: the kernel died, or did not answer within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        kc.kernel_info()
        try:
            reply = await ensure_async(kc.shell_channel.get_msg(timeout=1))
        except Empty:
            reply = None
        if reply is not None and reply["msg_type"] == "kernel_info_reply":
            try:  # a message on IOPub proves that channel is connected too (else ask again)
                await ensure_async(kc.iopub_channel.get_msg(timeout=0.2))
                return
            except Empty:
                pass
        if not await ensure_async(kc.is_alive()):
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _is_test(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def _timed_out(cell: NotebookNode) -> bool:
    return any(o.output_type == "error" and o.ename == "CellTimeoutError" for o in cell.get("outputs", []))


class ResilientExecute(Execute):
    """nbgrader's ``Execute`` that survives a dead kernel: the killing cell fails, the rest is graded."""

    max_restarts = Integer(8, help="kernel deaths tolerated per notebook; later cells are marked not run").tag(config=True)
    max_output_chars = Integer(200_000, help="printed characters collected per cell while it runs").tag(config=True)
    # the notebook is done when the kernel stops: waiting for torch's interpreter to wind down took 1-3 s
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate",
                           help="how the kernel is stopped after the last cell").tag(config=True)

    # Cells after the last graded cell cannot change a score: in the course's notebooks they are the
    # closing demonstrations (05's confusion matrix, 07's pretrained network): up to 4 s of a graded run.
    run_after_last_graded = Bool(False, help="also run the code cells after the last graded cell "
                                             "(they cannot change a score)").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._output_chars: dict[int, int] = {}
        self._check_assign_resources(resources)
        skip: set[int] = set()  # cells that killed the kernel or ran out of time: never replayed
        start, restarts, end = 0, 0, self._end()
        while start < end:
            current = start
            try:
                with self.setup_kernel():
                    info = self.wait_for_reply(self.kc.kernel_info())
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                    self._baseline = self._evaluate(BASELINE)
                    for index in range(start):  # rebuild the state the following cells need (tests define nothing)
                        cell = self.nb.cells[index]
                        if index not in skip and cell.cell_type == "code" and not _is_test(cell):
                            current = index
                            self._output_chars.pop(index, None)
                            self.execute_cell(copy.deepcopy(cell), index, store_history=False)
                            self.nb.cells[index] = cell  # nbclient stores the replayed copy: keep the graded run
                    for index in range(start, end):
                        current = index
                        self.preprocess_cell(self.nb.cells[index], resources, index)
                        if _timed_out(self.nb.cells[index]):
                            skip.add(index)
                break
            except DeadKernelError:
                restarts += 1
                skip.add(current)
                cell = self.nb.cells[current]
                if current >= start:
                    cell.setdefault("outputs", []).append(_error(
                        KERNEL_DIED, "the kernel died while this cell ran (os._exit, exit(), a crash or memory "
                                     "exhausted); the cells after it ran in a new kernel"))
                start = max(start, current + 1)
                if restarts > self.max_restarts:
                    self._mark_not_run(start)
                    break
        self._note_not_graded(end)
        self.set_widgets_metadata()
        return self.nb, self.resources

    async def async_start_new_kernel_client(self):
        """nbclient's, with :func:`wait_until_ready` for jupyter_client's ``wait_for_ready``."""
        self.kc = self.km.client()
        await ensure_async(self.kc.start_channels())
        try:
            await wait_until_ready(self.kc, self.startup_timeout)
        except Exception:
            await self._async_cleanup_kernel()
            raise
        self.kc.allow_stdin = False
        await run_hook(self.on_notebook_start, notebook=self.nb)
        poll_in_slices(self.kc.shell_channel)
        return self.kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _evaluate(self, expression: str):
        """The value of ``expression`` in the kernel (a Python literal), or the error it raised as a str."""
        reply = self.wait_for_reply(self.kc.execute("", silent=True, store_history=False, allow_stdin=False,
                                                    user_expressions={"value": expression}))
        value = (reply or {}).get("content", {}).get("user_expressions", {}).get("value", {})
        try:
            return ast.literal_eval(value["data"]["text/plain"])
        except (KeyError, TypeError, ValueError, SyntaxError):
            return f"{value.get('ename', 'no answer')}: {value.get('evalue', '')}"

    def _guard(self) -> tuple[list, list]:
        """Run :data:`GUARD` in the kernel: (hooks undone, hooks that could not be undone)."""
        if isinstance(self._baseline, str):
            return [], [f"the kernel's state could not be read when it started ({self._baseline})"]
        answer = self._evaluate(f"(lambda g: (exec({GUARD!r}, g), g['__grader_guard']({self._baseline!r}))[1])"
                                "({'get_ipython': __import__('IPython').get_ipython})")
        if isinstance(answer, str):
            return [], [f"the grader's guard could not run ({answer})"]
        return answer

    def preprocess_cell(self, cell, resources, index):
        if not _is_test(cell):
            return super().preprocess_cell(cell, resources, index)
        found, kept = self._guard()
        if kept:  # the test would run under the notebook's hooks: not run, 0 points, flagged
            cell.outputs = [_error(HOOKED, "not run: the notebook left what the grader cannot undo: "
                                           + ", ".join(kept) + "; flagged for a manual look")]
            return cell, resources
        cell, resources = super().preprocess_cell(cell, resources, index)
        if found:
            cell.outputs.append(NotebookNode(output_type="stream", name="stdout", text=f"{REPLACED} {found}\n"))
        return cell, resources

    def _end(self) -> int:
        """The index after the last cell to run: all of them, or up to the last graded cell."""
        graded = [i for i, cell in enumerate(self.nb.cells) if utils.is_grade(cell)]
        return len(self.nb.cells) if self.run_after_last_graded or not graded else graded[-1] + 1

    def _note_not_graded(self, end: int) -> None:
        for cell in self.nb.cells[end:]:
            if cell.cell_type == "code":
                cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=NOT_GRADED_NOTE + "\n")]

    def _mark_not_run(self, start: int) -> None:
        for cell in self.nb.cells[start:]:
            if cell.cell_type == "code":
                cell.outputs = [_error(NOT_RUN, f"not run: the kernel died more than {self.max_restarts} times")]

    def output(self, outs, msg, display_id, cell_index):
        """Stop collecting a cell's printed text past ``max_output_chars`` (the kernel may print forever)."""
        size = len(str(msg.get("content", {}).get("text", "")))
        seen = self._output_chars.get(cell_index, 0) + size
        self._output_chars[cell_index] = seen
        if seen > self.max_output_chars and msg["msg_type"] == "stream":
            if seen - size <= self.max_output_chars:  # the first output dropped: say so, once
                outs.append(NotebookNode(output_type="display_data", metadata={}, data={
                    "text/plain": f"{TRUNCATED} (more than {self.max_output_chars} characters)"}))
            return None
        return super().output(outs, msg, display_id, cell_index)


def hooked_cells(nb) -> dict[str, str]:
    """{grade_id: reason} of the test cells of ``nb`` not run because of a hook (:data:`HOOKED`)."""
    return {cell.metadata["nbgrader"]["grade_id"]: out.evalue for cell in nb.cells if _is_test(cell)
            for out in cell.get("outputs", []) if out.get("output_type") == "error" and out.get("ename") == HOOKED}


class CapOutput(NbGraderPreprocessor):
    """Truncate each output's text to ``max_chars`` characters (after nbgrader's ``LimitOutput``)."""

    max_chars = Integer(20_000, help="characters kept per output").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and len(output.text) > self.max_chars:
                output.text = output.text[:self.max_chars] + f"\n{TRUNCATED}\n"
            for key, value in output.get("data", {}).items():
                if isinstance(value, str) and len(value) > self.max_chars:
                    output.data[key] = value[:self.max_chars] + f"\n{TRUNCATED}"
        return cell, resources


class StderrIsNotAFailure(NbGraderPreprocessor):
    """In a test cell that raised nothing, stderr text (warnings, progress bars) is shown as stdout."""

    def preprocess_cell(self, cell, resources, cell_index):
        if _is_test(cell):
            outputs = cell.get("outputs", [])
            if not any(o.output_type == "error" for o in outputs):
                for output in outputs:
                    if output.output_type == "stream" and output.name == "stderr":
                        output.name = "stdout"
        return cell, resources


__all__ = ["ResilientExecute", "poll_in_slices", "wait_until_ready", "CapOutput", "StderrIsNotAFailure", "KERNEL_DIED", "NOT_RUN",
           "NOT_GRADED_NOTE", "TRUNCATED", "GUARD", "REPLACED", "BASELINE", "HOOKED", "hooked_cells"]
