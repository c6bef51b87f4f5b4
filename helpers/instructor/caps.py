"""Size caps on what a notebook keeps: every output type and every attachment counts.

nbgrader's ``LimitOutput`` counts lines and :class:`~helpers.instructor.preprocessors.CapOutput`
truncates text; neither sees a 30 MB JSON output, 1,500 small display outputs or a 50 MB image
attached to a markdown cell, which end up whole in the autograded notebook and in the feedback.
:class:`CapSizes` measures each output as the JSON it is stored as (any MIME type, images
included) and each attachment, and replaces what is above a cap with a one-line note that says
what was removed and why. Errors are kept (shortened): they are a failed test's message.

It runs in the feedback pipeline (:mod:`helpers.instructor.feedback`) and belongs at autograde
time too, in ``grading_config`` right after ``SaveAutoGrades`` (scores are computed on the full
outputs; the autograded notebook written afterwards is the capped one).
"""

from __future__ import annotations

import json

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

STRIPPED = "grader: removed"  # starts every note that replaces something too large
ERROR_CHARS = 4_000  # an error's message and each of its last ERROR_LINES traceback lines are cut to this
ERROR_LINES = 20


def size(node) -> int:
    """Bytes of ``node`` (an output or an attachment) as stored in the notebook's JSON."""
    return len(json.dumps(node, ensure_ascii=False).encode())


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 10_000 else f"{n} bytes"


def note(what: str) -> NotebookNode:
    """The stream output that stands for removed outputs: ``grader: removed <what>``."""
    return NotebookNode(output_type="stream", name="stdout", text=f"{STRIPPED} {what}\n")


class CapSizes(NbGraderPreprocessor):
    """Strip outputs and attachments above their caps, each replaced by a note.

    Per code cell: at most ``max_outputs`` outputs, each at most ``max_output_bytes``, together at
    most ``max_cell_bytes``; per notebook, all outputs at most ``max_notebook_bytes``; per
    markdown/raw cell, each attachment at most ``max_attachment_bytes``. Outputs are kept in
    order while they fit: the first ones a student sees stay, the rest are dropped.
    """

    max_output_bytes = Integer(2_000_000, help="bytes one output may take (any MIME type)").tag(config=True)
    max_outputs = Integer(100, help="outputs one code cell may keep").tag(config=True)
    max_cell_bytes = Integer(4_000_000, help="bytes the outputs of one code cell may take").tag(config=True)
    max_notebook_bytes = Integer(8_000_000, help="bytes all outputs of the notebook may take").tag(config=True)
    max_attachment_bytes = Integer(2_000_000, help="bytes one cell attachment may take").tag(config=True)

    def preprocess(self, nb, resources):
        self._left = self.max_notebook_bytes  # what the notebook's later outputs may still take
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code":
            cell.outputs = self._cap_outputs(cell.get("outputs", []))
        for name, attachment in list(cell.get("attachments", {}).items()):
            if size(attachment) > self.max_attachment_bytes:
                # an empty stand-in, not a deletion: nbconvert fails on a reference to a missing attachment
                cell.attachments[name] = {"text/plain": ""}
                cell.source += (f"\n\n*{STRIPPED} the attachment {name!r} of {_mb(size(attachment))} "
                                f"(limit {_mb(self.max_attachment_bytes)})*")
        return cell, resources

    def _cap_outputs(self, outputs: list) -> list:
        kept, cell_bytes, too_big, dropped, dropped_bytes = [], 0, 0, 0, 0
        for output in outputs:
            if output.output_type == "error":  # a failed test's message: always kept, never huge
                output.evalue = output.evalue[:ERROR_CHARS]
                output.traceback = [line[:ERROR_CHARS] for line in output.traceback[-ERROR_LINES:]]
                kept.append(output)
                continue
            n = size(output)
            if n > self.max_output_bytes:
                too_big += 1
            elif len(kept) < self.max_outputs and cell_bytes + n <= min(self.max_cell_bytes, self._left):
                kept.append(output)
                cell_bytes += n
                continue
            dropped += 1
            dropped_bytes += n
        self._left -= cell_bytes
        if dropped:
            kept.append(note(f"{dropped} outputs ({_mb(dropped_bytes)}): {too_big} above "
                             f"{_mb(self.max_output_bytes)} each; the others past the limits of "
                             f"{self.max_outputs} outputs / {_mb(self.max_cell_bytes)} per cell, "
                             f"{_mb(self.max_notebook_bytes)} per notebook"))
        return kept
