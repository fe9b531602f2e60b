"""Output volume cap: a notebook client that keeps at most ``output_limit`` bytes of outputs per cell.

A cell printing 10**6 lines sends megabytes over ZMQ; without a cap every chunk would be kept in the
executed notebook (and in memory). Past the cap, outputs are counted and dropped, one stdout line says
so in the cell, and :attr:`CappedNotebookClient.truncated` tells the runner how much was dropped.
Errors are never dropped (the grader reads them).
"""

from __future__ import annotations

from typing import Any

from nbclient import NotebookClient
from nbformat import NotebookNode
from nbformat.v4 import new_output
from traitlets import Integer


def message_size(msg: dict[str, Any]) -> int:
    """Rough size in characters of one output message (stream text or the values of a display's data)."""
    content = msg.get("content", {})
    if msg.get("msg_type") == "stream":
        return len(content.get("text", ""))
    return sum(len(str(v)) for v in content.get("data", {}).values())


class CappedNotebookClient(NotebookClient):
    """``NotebookClient`` that truncates each cell's outputs after ``output_limit`` characters."""

    output_limit = Integer(0, help="characters of output kept per cell (0: no limit)").tag(config=True)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.kept: dict[int, int] = {}
        self.truncated: dict[int, int] = {}  # cell index -> characters dropped

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        """Keep the output while the cell is under its cap; past it, count and drop (never errors)."""
        if not self.output_limit or msg.get("msg_type") == "error":
            return super().output(outs, msg, display_id, cell_index)
        size = message_size(msg)
        if cell_index not in self.truncated and self.kept.get(cell_index, 0) + size <= self.output_limit:
            self.kept[cell_index] = self.kept.get(cell_index, 0) + size
            return super().output(outs, msg, display_id, cell_index)
        if cell_index not in self.truncated:
            self.truncated[cell_index] = 0
            note = (f"\n[... output truncated by the grader: this cell printed more than "
                    f"{self.output_limit // 1000} kB]\n")
            outs.append(new_output("stream", name="stdout", text=note))
        self.truncated[cell_index] += size
        return None
