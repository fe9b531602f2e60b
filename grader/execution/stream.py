"""The probe's event stream as a pipe the grader reads: append-only from the student's side.

The grader creates an ``os.pipe()``; the kernel inherits only the write end (``Popen(pass_fds=...)``,
passed down by nbclient → jupyter_client; a wrapper such as bubblewrap keeps inherited descriptors) and the
probe writes its JSON lines to that descriptor number. A grader thread reads the other end into memory
and into a file the kernel is never told about. Whatever the student does, it can only add lines: a
pipe cannot be truncated, sought or rewritten, and the file is rewritten from the grader's memory when
the stream is closed, so tampering with the file during the run is undone.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from pathlib import Path

_log = logging.getLogger("grader.execution")
_log.addHandler(logging.NullHandler())

#: Past this many bytes the stream is drained but no longer kept (a flood through the descriptor).
MAX_BYTES = 256 * 1024 * 1024


class EventStream:
    """A pipe whose write end a kernel inherits and whose read end a grader thread drains into ``path``."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path, self.max_bytes = Path(path), max_bytes
        self.read_fd, self.write_fd = os.pipe()  # both non-inheritable; pass_fds makes the write end so
        self.data = bytearray()
        self.dropped = 0
        self._stop = threading.Event()
        self._deadline = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._thread = threading.Thread(target=self._pump, name="grader-events", daemon=True)
        self._thread.start()

    def child_started(self) -> None:
        """Close the parent's copy of the write end (after the kernel was spawned), so EOF can come."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def _pump(self) -> None:
        while True:
            stopping = self._stop.is_set()
            ready, _, _ = select.select([self.read_fd], [], [], 0.0 if stopping else 0.2)
            if not ready:
                if stopping:
                    return  # nothing left to read and the kernel is gone (a child may still hold the end)
                continue
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                return  # EOF: every write end is closed
            self._keep(chunk)
            if stopping and time.monotonic() > self._deadline:
                return  # a leftover child process still writing: stop anyway

    def _keep(self, chunk: bytes) -> None:
        room = self.max_bytes - len(self.data)
        if room < len(chunk):
            self.dropped += len(chunk) - max(room, 0)
            chunk = chunk[:max(room, 0)]
        if chunk:
            self.data += chunk
            try:
                self._file.write(chunk)
                self._file.flush()
            except (OSError, ValueError) as exc:
                _log.debug("events file write failed: %s", exc)

    def close(self, timeout_s: float = 10.0) -> None:
        """After the kernel ended: read what is left, stop the thread, rewrite the file from memory."""
        self.child_started()
        self._deadline = time.monotonic() + 2.0
        self._stop.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            _log.warning("event stream reader did not stop within %.0fs", timeout_s)
        else:
            os.close(self.read_fd)
        self._file.close()
        self.path.write_bytes(bytes(self.data))  # undo any tampering with the file during the run
        if self.dropped:
            _log.warning("event stream over %d bytes: %d bytes dropped", self.max_bytes, self.dropped)
