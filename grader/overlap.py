"""What the grader's process does beside the student's kernel, on the core the kernel leaves free.

The kernel trains with one intra-op thread. Meanwhile :class:`Beside` (1) imports the evaluation stage (torch, and
``torch._dynamo``, which the first ``torch.optim`` optimizer would otherwise import during the evaluation, ~1.5 s),
(2) reads the data split the evaluation needs and (3) re-trains every run's checkpointed segments as soon as they
are complete (:class:`grader.evaluation.live.LiveReplay`), fed the probe's events as they stream. The evaluation
after the notebook takes the replays from the cache and picks its segments as it always did, so the result is the
same as grading after the fact (tests/test_overlap.py); only the wall time falls.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_log = logging.getLogger("grader")
_log.addHandler(logging.NullHandler())


class Beside:
    """Imports, data and live replay beside one submission's kernel; :meth:`finish` after its execution."""

    def __init__(self, export_dir: Path, split: Callable[[], Callable[[bool], Any]] | None) -> None:
        """``split``: makes the evaluation's ``split(train)`` function (called in the thread, after the imports);
        None: nothing is replayed while the notebook runs (only the imports overlap)."""
        self.export_dir, self._make_split = export_dir, split
        self.split: Callable[[bool], Any] | None = None
        self._live: Any = None  # grader.evaluation.live.LiveReplay, once imported
        self._pending: list[dict[str, Any]] = []
        self._off = split is None  # events are not kept: nothing will replay them
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._start, name="grader-preload", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        importlib.import_module("grader.evaluation.evaluate")
        try:
            importlib.import_module("torch._dynamo")  # torch.optim imports it at the first optimizer
        except ImportError as exc:
            _log.debug("torch._dynamo not preloaded: %s", exc)
        if self._make_split is None:
            return
        from grader.evaluation.live import LiveReplay

        try:
            self.split = self._make_split()
            self.split(True)  # read now, not when the first segment is ready
        except Exception as exc:  # noqa: BLE001 - the evaluation after the notebook reads it again and says why
            _log.debug("no live replay (the data could not be read): %s", exc)
            with self._lock:
                self._off, self._pending = True, []
            return
        live = LiveReplay(self.export_dir, self.split)
        with self._lock:  # the buffered events go first: a new one waits on the lock, so stream order is kept
            for ev in self._pending:
                live.feed(ev)
            self._pending, self._live = [], live
        live.__enter__()

    def feed(self, ev: dict[str, Any]) -> None:
        """One probe event as streamed (from the execution stage's event tail)."""
        with self._lock:
            live = self._live
            if live is None and not self._off:
                self._pending.append(ev)
        if live is not None:
            live.feed(ev)

    def finish(self) -> Any:
        """Wait for the imports and the segment being re-trained; the replay cache (None without live replay)."""
        self._thread.join()
        with self._lock:
            live, self._pending = self._live, []
        return live.stop() if live is not None else None
