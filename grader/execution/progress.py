"""Live progress while a submission runs: follow the probe's event file and report finished epochs.

The runner reports cells (``ExecutionOptions.on_cell``); epochs happen inside a cell, so a small thread
reads the JSON lines the probe streams (it flushes at every DataLoader epoch boundary) and calls the
same callback with ``{"kind": "epoch", "run": k, "epoch": n, "mean_loss": x, "steps": s}``. Progress is
for people watching. The raw events also go to whoever the caller names (the pipeline's live replay, which only
moves work earlier: the grade is decided after the notebook, from the recording).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

Callback = Callable[[dict[str, Any]], None]


class _Runs:
    """Per-run loss sums since the last epoch boundary."""

    def __init__(self) -> None:
        self.pending: dict[int, list[float]] = {}
        self.epochs: dict[int, int] = {}
        self.steps: dict[int, int] = {}

    def on_event(self, ev: dict[str, Any]) -> list[dict[str, Any]]:
        """Fold one probe event; return the progress events it completes."""
        kind = ev.get("ev")
        if kind == "run":
            self.pending[ev["run"]], self.epochs[ev["run"]], self.steps[ev["run"]] = [], 0, 0
        elif kind == "steps" and ev.get("run") in self.pending:
            losses = [x for x in ev.get("losses", []) if isinstance(x, (int, float))]
            self.pending[ev["run"]].extend(losses)
            self.steps[ev["run"]] += len(ev.get("losses", []))
        elif kind in ("loader_iter", "end"):  # the probe flushes every run's steps at each loader start
            return self._close_epochs()
        return []

    def _close_epochs(self) -> list[dict[str, Any]]:
        out = []
        for k, losses in self.pending.items():
            if losses:
                self.epochs[k] += 1
                out.append({"kind": "epoch", "run": k, "epoch": self.epochs[k], "steps": self.steps[k],
                            "mean_loss": sum(losses) / len(losses)})
                self.pending[k] = []
        return out


class EventTail:
    """Follows ``path`` in a daemon thread while the kernel runs; ``stop()`` reads what is left.

    ``callback`` gets the progress events (finished epochs); ``on_event`` every probe event as it was streamed
    (the live evaluation, ``grader.evaluation.live``, wired by the pipeline).
    """

    def __init__(self, path: Path, callback: Callback | None, interval_s: float = 0.5,
                 on_event: Callback | None = None) -> None:
        self.path, self.callback, self.interval_s, self.on_event = path, callback, interval_s, on_event
        self._stop = threading.Event()
        self._offset, self._partial = 0, b""
        self._runs = _Runs()
        self._thread = threading.Thread(target=self._loop, name="grader-progress", daemon=True)

    def __enter__(self) -> EventTail:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop following and report the events written since the last poll."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._poll()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._poll()

    def _poll(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()  # an incomplete last line waits for the next poll
        for line in lines:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if not isinstance(ev, dict):
                continue
            if self.on_event is not None:
                try:
                    self.on_event(ev)
                except Exception:  # noqa: BLE001 - what overlaps with the run must never break grading
                    pass
            callback = self.callback
            if callback is None:
                continue
            for update in self._runs.on_event(ev):
                try:
                    callback(update)
                except Exception:  # noqa: BLE001 - a progress display must never break grading
                    pass
