"""Copying the user code's output to the job's, a few large writes instead of many.

Standard library only (it runs inside the job). Where whoever reads the job's output
pays per write, as Docker's daemon does (each write of a container becomes a frame that
the daemon's shim, the daemon and the reader handle one by one), the bootstrap gives the
user code pipes of its own for stdout and stderr and copies them to its own in large
pieces: after each round of reads the relay rests :data:`REST_SECONDS`, so a job that
prints a hundred thousand short lines a second costs about a thousand writes a second. A
line that ends a quiet spell goes on at once; the others wait at most that long.

Each stream keeps its own pipe, so stdout and stderr stay apart (the reader tells them
by stream, as before); their relative order is kept to within one rest.
"""

from __future__ import annotations

import os
import select
import threading
import time

__all__ = ["REST_SECONDS", "OutputRelay"]

#: How long the relay rests after each round of copying.
REST_SECONDS = 0.001
_READ_SIZE = 1 << 20
#: When the user code has exited, at most this much is still copied from each pipe (what
#: a background process of the job keeps writing is not waited for).
_DRAIN_LIMIT = 64 << 20


class OutputRelay:
    """Pipes for the user code's stdout and stderr, copied to this process's 1 and 2.

    Use: make it, start the user code with :meth:`child_descriptors` as its stdout and
    stderr (or call :meth:`become_child` in a forked child), call :meth:`start` in this
    process, and :meth:`finish` once the user code has exited.
    """

    def __init__(self) -> None:
        self._pipes = [os.pipe(), os.pipe()]  # (read, write) for stdout, stderr
        self._wake_read, self._wake_write = os.pipe()
        self._stopping = False
        self._in_child = False
        self._thread: threading.Thread | None = None

    def child_descriptors(self) -> tuple[int, int]:
        """The write ends, for a child's stdout and stderr."""
        return self._pipes[0][1], self._pipes[1][1]

    def become_child(self) -> None:
        """In a forked child: stdout and stderr go into the relay's pipes."""
        for target, (read_end, write_end) in zip((1, 2), self._pipes):  # noqa: B905 - 3.9
            os.dup2(write_end, target)
            os.close(read_end)
            os.close(write_end)
        os.close(self._wake_read)
        os.close(self._wake_write)
        self._in_child = True

    def start(self) -> None:
        """In this process, once the child has its descriptors: start copying."""
        for _, write_end in self._pipes:
            os.close(write_end)
        self._thread = threading.Thread(target=self._copy, name="output relay", daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """The user code has exited: copy what is in the pipes now, then stop (in a
        forked child, nothing: the relay is its parent's)."""
        if self._in_child:
            return
        self._stopping = True
        os.write(self._wake_write, b"x")
        if self._thread is not None:
            self._thread.join()
        else:  # the child could not be started: the write ends are still here
            for _, write_end in self._pipes:
                os.close(write_end)
        for read_end, _ in self._pipes:
            os.close(read_end)
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _copy(self) -> None:
        targets = {self._pipes[0][0]: 1, self._pipes[1][0]: 2}
        while targets and not self._stopping:
            ready, _, _ = select.select([*targets, self._wake_read], [], [])
            for source in ready:
                if source in targets and not _copy_once(source, targets[source]):
                    del targets[source]  # every writer closed it
            time.sleep(REST_SECONDS)
        for source, target in targets.items():
            os.set_blocking(source, False)
            copied = 0
            while copied < _DRAIN_LIMIT:
                try:
                    count = _copy_once(source, target)
                except BlockingIOError:
                    break
                if not count:
                    break
                copied += count


def _copy_once(source: int, target: int) -> int:
    """Copy one read's worth; the bytes read (0 at the end of the pipe)."""
    data = os.read(source, _READ_SIZE)
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(target, view) :]
        except InterruptedError:
            continue
        except OSError:  # nobody reads the job's output any more: drop it
            break
    return len(data)
