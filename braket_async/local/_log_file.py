"""``log.txt`` as a job's owner writes it: batches of whole lines, each batch's time
beside it, and nothing half-written when the disk is full."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ._folder import write_all

__all__ = ["MAX_PENDING_BYTES", "LogFile", "LogQueue"]

#: How much output may wait for the log writer before the reader of the job's output
#: waits too (the job then blocks on a full pipe, as with any slow reader).
MAX_PENDING_BYTES = 8 << 20


class LogFile:
    """``log.txt`` and, beside it, when each batch of lines reached it.

    ``log-times`` has one line ``<end offset> <epoch seconds>`` per batch, so that any
    follower gives each line the time it was logged, however late it reads. A batch
    that cannot be written whole is cut off again: the log ends with whole lines.
    """

    def __init__(self, path: Path, times: Path) -> None:
        self._log = _Appender(path)
        try:
            self._times = _Appender(times)
        except BaseException:
            self._log.close()
            raise
        self._lock = threading.Lock()  # a cancelled flush's thread may still write

    def append(self, data: bytes) -> None:
        """Append one batch (blocking).

        Raises:
            OSError: It could not be written (its ``filename`` says which file); the
                files are as they were before.
        """
        with self._lock:
            end = self._log.append(data)
            self._times.append(f"{end} {time.time():.6f}\n".encode())

    def try_append(self, data: bytes) -> None:
        """Append one batch if there is room (blocking); nothing if there is not."""
        with contextlib.suppress(OSError):
            self.append(data)

    def close(self) -> None:
        self._log.close()
        self._times.close()


class _Appender:
    """A file written only at its end, whose every write is whole or undone."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._descriptor = os.open(
            path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
        )
        self._size = os.fstat(self._descriptor).st_size

    def append(self, data: bytes) -> int:
        """Append ``data``; return the file's new size."""
        try:
            write_all(self._descriptor, data)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._descriptor, self._size)
            raise type(exc)(exc.errno, exc.strerror or str(exc), str(self.path)) from None
        self._size += len(data)
        return self._size

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1


class LogQueue:
    """Lines on their way to ``log.txt``, written in batches by :meth:`run`.

    At most :data:`MAX_PENDING_BYTES` wait; :meth:`add` waits for room beyond that.
    Once a write fails the log is :attr:`broken`: what waits and what comes is dropped,
    nothing waits for room again, and ``on_failure(error)`` is told; it returns the
    job's failure reason, which a last line of the log gives if it fits.

    Args:
        log_file: Where the lines go.
        on_written: Called after each batch reached the file (wakes followers).
        on_failure: Called once, with the error of the write that failed.
    """

    def __init__(
        self,
        log_file: LogFile,
        *,
        on_written: Callable[[], None],
        on_failure: Callable[[OSError], str],
    ) -> None:
        self.broken = False
        self._file = log_file
        self._on_written = on_written
        self._on_failure = on_failure
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._ended = False
        self._has_pending = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()

    async def add(self, block: str) -> None:
        """Queue whole lines (each ending in a line end); wait while too much waits."""
        if not block or self._ended or self.broken:
            return
        await self._has_room.wait()
        if self.broken:  # the room came from a log that can no longer be written
            return
        self._append(block)

    def note(self, line: str) -> None:
        """Queue one last line of the library's own, after :meth:`end` too."""
        if not self.broken:
            self._append(line + "\n")

    def _append(self, block: str) -> None:
        self._pending.append(block)
        self._pending_bytes += len(block)
        if self._pending_bytes >= MAX_PENDING_BYTES:
            self._has_room.clear()
        self._has_pending.set()

    def end(self) -> None:
        """No more lines come: :meth:`run` returns once the rest is written."""
        self._ended = True
        self._has_pending.set()

    async def run(self) -> None:
        """Write batches until :meth:`end`, or until a write failed."""
        while True:
            await self._has_pending.wait()
            await self.flush()
            if self.broken or (self._ended and not self._pending):
                return

    async def flush(self) -> None:
        """Write what waits now (also after :meth:`run` was cancelled)."""
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        self._has_pending.clear()
        self._has_room.set()
        if not batch or self.broken:
            return
        try:
            await asyncio.to_thread(self._file.append, "".join(batch).encode("utf-8", "replace"))
        except OSError as exc:
            self.broken = True
            reason = self._on_failure(exc)
            note = f"braket_async: {reason}: the rest of the job's output is lost\n"
            await asyncio.to_thread(self._file.try_append, note.encode())
        self._on_written()
