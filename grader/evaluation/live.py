"""Evaluate while the notebook still runs: re-train each run's checkpointed segments as soon as they are complete.

The kernel trains on one core (one intra-op thread); the grader's process would otherwise wait on the other. A
:class:`LiveReplay` follows the probe's events as they stream (fed by the execution stage's tail), and when a
segment's checkpoint event and the losses of all its steps are in, it re-trains that segment in a background
thread at a lower scheduling priority and keeps the outcome in a :class:`ReplayCache`.

After the notebook, :func:`grader.evaluation.replay.verify_run` picks its segments at random exactly as before and
asks the cache first. A cached outcome is used only when everything the replay depends on is the same: the run's
op graph, the segment's event (its checkpoint's sha256, batch indices, learning rates ...), the split and the
recorded losses of its steps; and the checkpoint file is checked again, as it is after the notebook (present, same
sha256), before the cached outcome counts. A replay is deterministic (one thread, the recorded RNG states), so the
result is the one grading after the notebook gives, byte for byte; the live replay only moves when it happens.
Segments that were never picked cost the otherwise idle core a little (8 steps each).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import Tensor

from grader.evaluation.rebuild import UnverifiableModel, check_replayable
from grader.evaluation.replay import Contradiction, NotReplayable, SegmentCheck, checkpoint_bytes, replay_bytes
from grader.recording.events import Run, build_recording
from grader.recording.graph import Graph, GraphError, parse_graph

_log = logging.getLogger("grader.evaluation")
_log.addHandler(logging.NullHandler())

Split = Callable[[bool], tuple[Tensor, Tensor]]
Outcome = SegmentCheck | Exception
#: how much the live replay yields to the kernels (a batch fills every core; a self-check leaves one idle)
NICENESS = 10


def segment_key(graph: dict[str, Any] | None, seg: dict[str, Any], train: bool, recorded: list[float | None]) -> str:
    """Everything a segment's replay depends on, hashed: the run's op graph, the segment's event (sha256 of its
    checkpoint included), the split, the recorded losses of its steps."""
    start, n = int(seg["start_step"]), int(seg["n_steps"])
    blob = json.dumps([graph, seg, train, recorded[start:start + n]], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ReplayCache:
    """Outcomes of replayed segments (a :class:`SegmentCheck` or the exception the replay raised) by
    :func:`segment_key`."""

    def __init__(self) -> None:
        self._done: dict[str, Outcome] = {}
        self._lock = threading.Lock()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._done)

    def put(self, key: str, outcome: Outcome) -> None:
        """Keep one segment's outcome."""
        with self._lock:
            self._done[key] = outcome

    def replay(self, run: Run, graph: Graph, seg: dict[str, Any], export_dir: Path, data: tuple[Tensor, Tensor],
               train: bool) -> SegmentCheck:
        """What :func:`grader.evaluation.replay.replay_segment` gives for this segment now: the checkpoint file is
        checked as it is now, then the cached outcome is taken, else the segment is re-trained."""
        path, raw = checkpoint_bytes(seg, export_dir)  # present and unchanged, now, after the notebook
        with self._lock:
            hit = self._done.get(segment_key(run.graph, seg, train, run.losses))
        if hit is None:
            return replay_bytes(graph, seg, path, raw, data, run.losses)
        self.hits += 1
        if isinstance(hit, Exception):
            raise hit
        return replace(hit)


class LiveReplay:
    """Re-trains completed segments in a background thread while the notebook runs; :meth:`stop` before the
    evaluation, which then reads :attr:`cache`."""

    def __init__(self, export_dir: Path, split: Split) -> None:
        self.export_dir, self.split = export_dir, split
        self.cache = ReplayCache()
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._tried: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name="grader-live-replay", daemon=True)

    def __enter__(self) -> LiveReplay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def feed(self, ev: dict[str, Any]) -> None:
        """One probe event, in stream order (called from the event tail's thread)."""
        with self._lock:
            self._events.append(ev)
        if ev.get("ev") in ("proof", "steps"):  # a segment may have become complete
            self._wake.set()

    def stop(self) -> ReplayCache:
        """Let the segment being re-trained finish, stop the thread, return the cache."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.cache

    def _loop(self) -> None:
        try:  # Linux: a thread is a task of its own; raising its nice value needs no privilege
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        except (AttributeError, OSError) as exc:
            _log.debug("live replay keeps its priority: %s", exc)
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if not self._stop.is_set():
                self._pass()

    def _pass(self) -> None:
        """Replay every complete segment not tried yet."""
        with self._lock:
            events = list(self._events)
        rec = build_recording(events)
        for run in rec.runs:
            for seg, train in ready_segments(run, rec.proofs):
                if self._stop.is_set():
                    return
                key = segment_key(run.graph, seg, train, run.losses)
                if key not in self._tried:
                    self._tried.add(key)
                    self._prefetch(key, run, seg, train)

    def _prefetch(self, key: str, run: Run, seg: dict[str, Any], train: bool) -> None:
        try:
            graph = parse_graph(run.graph)
            check_replayable(graph)
            path, raw = checkpoint_bytes(seg, self.export_dir)
        except (GraphError, UnverifiableModel, NotReplayable, Contradiction, OSError) as exc:
            _log.debug("segment not replayed live (left to the evaluation): %s", exc)
            return  # decided after the notebook, on the file as it is then
        try:
            outcome: Outcome = replay_bytes(graph, seg, path, raw, self.split(train), run.losses)
        except Exception as exc:  # noqa: BLE001 - the evaluation after the notebook raises the same; it decides
            outcome = exc.with_traceback(None)  # not the replay's frames (its tensors) kept alive
        self.cache.put(key, outcome)


def ready_segments(run: Run, proofs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], bool]]:
    """The run's replayable segments whose steps' losses are all recorded, each with the split the replay uses
    (the first replayable segment's, as :func:`grader.evaluation.replay.verify_run` chooses it)."""
    segs = [p for p in proofs if p.get("run") == run.index and p.get("replayable")
            and isinstance(p.get("n_steps"), int) and isinstance(p.get("start_step"), int)]
    if not segs or run.graph is None:
        return []
    train = segs[0].get("split") != "test"
    return [(s, train) for s in segs if len(run.losses) >= int(s["start_step"]) + int(s["n_steps"])]
