"""Worker processes that run quantum tasks' programs, off the emulator's event loop.

The local simulator is CPU-bound Python and NumPy: in the emulator's process it would
hold the GIL and stall every answer. :class:`SimulatorPool` runs each program in a
worker process (``python -m braket_async.emulator._simulation``), one program at a time
per worker, and keeps idle workers for the next ones, since a worker's start costs
about two seconds (importing the simulator). The caller bounds how many run at once.
A worker is killed when its task is cancelled or runs past the time limit.

Requests and answers are JSON lines on the worker's stdin and stdout, exchanged in
threads, so one pool serves any event loop (a test session may share one).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from typing import IO, Any

import anyio
import anyio.to_thread
import attrs

from .._shield import finish
from ..errors import ClosedError

__all__ = [
    "DEFAULT_TASK_SECONDS",
    "SimulationOutcome",
    "SimulationRequest",
    "SimulatorPool",
    "default_workers",
]

#: How long one program may run before its task fails.
DEFAULT_TASK_SECONDS = 900.0
_WORKER_MODULE = "braket_async.emulator._simulation"
#: The line a worker writes once it can take requests.
READY = b"ready\n"


@attrs.frozen(kw_only=True)
class SimulationRequest:
    """One program to run, and what its result document says about the task."""

    task_arn: str
    device_arn: str
    simulator: str
    device_qubits: int
    action: str
    shots: int
    created_at: str
    simulator_metadata: bool


@attrs.frozen(kw_only=True)
class SimulationOutcome:
    """The result document (JSON) of a program that ran, or why it did not."""

    result: str | None = None
    failure_reason: str | None = None
    duration_ms: int = 0


def default_workers() -> int:
    """One worker per CPU, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


class _Worker:
    """One worker process; its methods block (call them in a thread)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", _WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in the emulator's terminal is the emulator's
        )
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self._requests: IO[bytes] = self.process.stdin
        self._answers: IO[bytes] = self.process.stdout
        # The worker says it is ready once the simulator is imported, so a task's time
        # limit counts its program only.
        if self._answers.readline() != READY:
            self.stop()
            raise RuntimeError(
                f"a simulator worker did not start (exit code {self.process.returncode}); "
                "its error is on the emulator's stderr"
            )

    def exchange(self, request: SimulationRequest) -> SimulationOutcome | None:
        """Send ``request``, wait for the answer; ``None`` when the process died or was
        killed meanwhile."""
        try:
            self._requests.write(json.dumps(attrs.asdict(request)).encode() + b"\n")
            self._requests.flush()
            line = self._answers.readline()
        except (OSError, ValueError):  # a closed pipe, or one closed by stop()
            return None
        if not line:
            return None
        answer: dict[str, Any] = json.loads(line)
        return SimulationOutcome(**answer)

    def stop(self) -> None:
        """Kill the process and reap it."""
        self.process.kill()
        self.process.wait()
        for pipe in (self._requests, self._answers):
            with contextlib.suppress(OSError):
                pipe.close()


class SimulatorPool:
    """Worker processes that run programs, started on demand and kept while idle.

    Args:
        workers: How many programs the emulator runs at once (default: one per CPU, at
            most four); the pool starts more workers only when asked to run more at once.
        task_seconds: How long one program may run before it fails.
    """

    def __init__(
        self, *, workers: int | None = None, task_seconds: float = DEFAULT_TASK_SECONDS
    ) -> None:
        self.workers = workers if workers is not None else default_workers()
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        self.task_seconds = task_seconds
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._closed = False

    async def run(self, request: SimulationRequest) -> SimulationOutcome:
        """Run one program. Cancelling the call kills the worker running it."""
        # A worker started here waits idle, so that one started for a call cancelled
        # meanwhile serves the next.
        while (worker := self._take_idle()) is None:
            await anyio.to_thread.run_sync(self._start)
        outcome: SimulationOutcome | None = None
        try:
            with anyio.move_on_after(self.task_seconds) as deadline:
                outcome = await anyio.to_thread.run_sync(
                    worker.exchange, request, abandon_on_cancel=True
                )
        finally:
            if outcome is None:  # timed out, cancelled, or the process died
                await finish(anyio.to_thread.run_sync(self._discard, worker))
            else:
                self._give_back(worker)
        if outcome is not None:
            return outcome
        if deadline.cancelled_caught:
            return SimulationOutcome(
                failure_reason="The program ran longer than the emulator's limit of "
                f"{self.task_seconds:g} seconds"
            )
        return SimulationOutcome(
            failure_reason="InternalServiceError: the simulator process ended "
            f"(exit code {worker.process.returncode})"
        )

    def _take_idle(self) -> _Worker | None:
        with self._lock:
            if self._closed:
                raise ClosedError("the simulator pool is closed")
            return self._idle.pop() if self._idle else None

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                raise ClosedError("the simulator pool is closed")
            worker = _Worker()
            self._all.add(worker)
            self._idle.append(worker)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        self._discard(worker)

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.stop()

    def close(self) -> None:
        """Kill every worker (blocking). Idempotent."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
        for worker in workers:
            worker.stop()

    async def aclose(self) -> None:
        """Kill every worker. Idempotent."""
        await finish(anyio.to_thread.run_sync(self.close))

    async def __aenter__(self) -> SimulatorPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if not getattr(self, "_closed", True) and self._all:
            _warn(f"unclosed {self!r} with running workers", ResourceWarning, stacklevel=1)
