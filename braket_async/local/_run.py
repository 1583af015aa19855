"""Running one local job to its end: what its supervisor does.

A :class:`LocalJobRun` owns the job while it lives: it waits for a runtime slot, starts
the execution, writes its output to ``log.txt``, collects results and checkpoints into
the job's folder, records every state change in ``metadata.json`` and always closes the
execution, whether the job ends, fails, or is cancelled. It runs in the job's supervisor
process (``_supervisor.py``), or, for runtimes that cannot be rebuilt in another process,
in the process that created the job.

Memory is bounded: lines go from the execution to ``log.txt`` through a queue of at most
:data:`MAX_PENDING_BYTES`; readers follow the file, never this object.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

from .._shield import finish
from .._states import JobState
from ..runtimes import Execution, JobRuntime, JobSpec
from ..runtimes._base import output_blocks
from ._folder import (
    LOG_FILE,
    LOG_TIMES_FILE,
    METADATA_FILE,
    merge_outputs,
    metadata_to_json,
    private_folder,
    process_identity,
    write_metadata,
    write_text,
)

__all__ = ["MAX_PENDING_BYTES", "LocalJobRun"]

logger = logging.getLogger(__name__)

#: How much output may wait for the log writer before the reader of the job's output
#: waits too (the job then blocks on a full pipe, as with any slow reader).
MAX_PENDING_BYTES = 8 << 20
_PUMP_GRACE_SECONDS = 10


def now() -> datetime.datetime:
    """The current time, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


class LocalJobRun:
    """The live side of one local job; see the module docstring.

    Args:
        spec: The job.
        runtime: The runtime that runs it.
        owns_runtime: Close ``runtime`` when the job ends.
        folder: The job's output folder (``<root>/<job_name>``), already created.
        metadata: The GetJob-shaped record so far.
        on_change: Called after each batch of lines reaches ``log.txt`` and after each
            record is written (wakes followers).
        after_exit: Awaited once the job's main process has exited, before the rest of
            its output is read (the supervisor ends what the job left behind here).
    """

    def __init__(
        self,
        spec: JobSpec,
        runtime: JobRuntime,
        *,
        owns_runtime: bool,
        folder: Path,
        metadata: dict[str, Any],
        on_change: Callable[[], None] = lambda: None,
        after_exit: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.spec = spec
        self.folder = folder
        self.done = asyncio.Event()
        self._runtime = runtime
        self._owns_runtime = owns_runtime
        self._metadata = metadata
        self._on_change = on_change
        self._after_exit = after_exit
        self._admitted: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancel: tuple[JobState, str] = (JobState.CANCELLED, "Cancelled")
        self._closing: asyncio.Task[None] | None = None
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._output_ended = False
        self._has_pending = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._error: BaseException | None = None

    @property
    def state(self) -> JobState:
        """The job's current state."""
        return JobState(self._metadata["status"])

    def metadata(self) -> dict[str, Any]:
        """A copy of the job's GetJob-shaped record."""
        return copy.deepcopy(self._metadata)

    async def launch(self) -> None:
        """Start the job's task; return once the job runs or waits for a slot.

        Errors of starting a job that got a slot at once (a missing image, say) are
        raised here. If the caller is cancelled, the job is cancelled too.
        """
        self._admitted = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(
            self._main(), name=f"braket_async job {self.spec.job_name}"
        )
        self._task.add_done_callback(self._task_done)
        try:
            await asyncio.shield(self._admitted)
        except asyncio.CancelledError:
            # Even when the job was admitted in the same step: the caller never gets
            # a handle on it, so nobody would ever collect or cancel it.
            if not self._task.done():
                self._cancel = (JobState.CANCELLED, "Cancelled while starting")
                self._task.cancel()
            await finish(self.done.wait())
            raise

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if self.done.is_set():
            return
        # _main never reached its cleanup: cancelled before its first step, or failed
        # before its try block (the log file could not be opened). Finish the record.
        error = None if task.cancelled() else task.exception()
        if error is None:
            self._end(*self._cancel)
        else:
            self._end(JobState.FAILED, f"{type(error).__name__}: {error}")
        write_metadata(self.folder, self._metadata)
        self._admit(error)
        self.done.set()
        self._on_change()
        if self._owns_runtime:
            # Kept on self: the loop holds tasks only weakly.
            self._closing = asyncio.get_running_loop().create_task(self._runtime.aclose())

    def _admit(self, error: BaseException | None = None) -> None:
        if self._admitted is not None and not self._admitted.done():
            if error is None:
                self._admitted.set_result(None)
            else:
                self._admitted.set_exception(error)

    async def cancel(self, reason: str = "Cancelled", state: JobState = JobState.CANCELLED) -> None:
        """Stop the job, record it ``state`` (unless it ended already) and wait."""
        self.request_cancel(reason, state)
        await self.done.wait()

    def request_cancel(self, reason: str, state: JobState = JobState.CANCELLED) -> None:
        """Start stopping the job; :attr:`done` is set once it is recorded."""
        if self._task is not None and not self._task.done():
            self._cancel = (state, reason)
            self._task.cancel()

    async def _main(self) -> None:
        log_file = await asyncio.to_thread(
            _LogFile, self.folder / LOG_FILE, private_folder(self.folder) / LOG_TIMES_FILE
        )
        writer = asyncio.create_task(self._write_log(log_file))
        try:
            if not self._runtime.has_free_slot:
                self._admit()
            async with self._runtime.job_slot():
                execution = await self._start()
                if execution is not None:
                    await self._supervise(execution)
        except asyncio.CancelledError:
            self._end(*self._cancel)
            self._admit()
            raise
        except Exception as exc:
            self._end(JobState.FAILED, f"{type(exc).__name__}: {exc}")
            self._error = exc
        finally:
            await finish(self._finalize(log_file, writer))

    async def _start(self) -> Execution | None:
        try:
            execution = await self._runtime.start(self.spec)
        except Exception as exc:
            # Raised from launch() once the record is final (see _finalize).
            self._end(JobState.FAILED, f"{type(exc).__name__}: {exc}")
            self._error = exc
            return None
        self._transition(
            JobState.RUNNING, "RUNNING", startedAt=now(), **_execution_fields(execution)
        )
        await self._write_metadata()
        self._admit()
        return execution

    async def _supervise(self, execution: Execution) -> None:
        pump = asyncio.create_task(self._pump(execution))
        try:
            try:
                exit_code = await execution.wait()
                if self._after_exit is not None:
                    await self._after_exit()
                await pump
            except asyncio.CancelledError:
                await finish(self._stop(execution, pump))
                raise
            failure_reason, refused = await self._collect(execution)
            if exit_code != 0:
                reason = failure_reason or f"AlgorithmError: exit code: {exit_code}"
                self._end(JobState.FAILED, _with_refusals(reason, refused))
            elif refused:
                self._end(JobState.FAILED, _with_refusals("OutputError", refused))
            else:
                self._end(JobState.COMPLETED)
        finally:
            await finish(execution.aclose())

    async def _stop(self, execution: Execution, pump: asyncio.Task[None]) -> None:
        """Kill the job, keep its last lines, and collect what it saved so far."""
        await execution.kill()
        if self._after_exit is not None:
            await self._after_exit()
        # asyncio.wait, not await: at shutdown asyncio.run cancels the pump task too,
        # and that must not cut this cleanup short.
        await asyncio.wait([pump], timeout=_PUMP_GRACE_SECONDS)
        pump.cancel()
        self._end(*self._cancel)
        await self._collect(execution)

    async def _collect(self, execution: Execution) -> tuple[str | None, list[str]]:
        """Collect the job's outputs into its folder; the failure reason and refusals."""
        collected = private_folder(self.folder) / f"collected-{os.getpid()}-{id(execution)}"
        outputs = await execution.collect(collected)
        refused = list(outputs.refused)
        refused += await asyncio.to_thread(merge_outputs, collected, self.folder)
        for line in refused:
            logger.warning("job %s: output refused: %s", self.spec.job_name, line)
        await self._add_lines([f"braket_async: output refused: {line}" for line in refused])
        return outputs.failure_reason, refused

    async def _pump(self, execution: Execution) -> None:
        async for block in output_blocks(execution):
            await self._add_block(block)

    async def _add_lines(self, lines: list[str]) -> None:
        if lines:
            await self._add_block("".join(line + "\n" for line in lines))

    async def _add_block(self, block: str) -> None:
        """Queue whole lines (each ending in a line end) for ``log.txt``."""
        if not block or self._output_ended:
            return
        await self._has_room.wait()
        self._pending.append(block)
        self._pending_bytes += len(block)
        if self._pending_bytes >= MAX_PENDING_BYTES:
            self._has_room.clear()
        self._has_pending.set()

    async def _write_log(self, log_file: _LogFile) -> None:
        while True:
            await self._has_pending.wait()
            await self._flush(log_file)
            if self._output_ended and not self._pending:
                return

    async def _flush(self, log_file: _LogFile) -> None:
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        self._has_pending.clear()
        self._has_room.set()
        if batch:
            data = "".join(batch).encode("utf-8", "replace")
            await asyncio.to_thread(log_file.append, data)
            self._on_change()

    async def _finalize(self, log_file: _LogFile, writer: asyncio.Task[None]) -> None:
        try:
            self._output_ended = True
            self._has_pending.set()
            await asyncio.wait([writer])
            # The writer may have been cancelled (asyncio.run does that at shutdown):
            # finish its work here, so log.txt holds every line.
            await self._flush(log_file)
            await self._write_metadata()
            if self._owns_runtime:
                await self._runtime.aclose()
        finally:
            # Synchronous, so that even a cancelled finalization closes the file.
            log_file.close()
            self.done.set()
            self._admit(self._error)
            self._on_change()

    def _transition(self, state: JobState, event: str, **fields: Any) -> None:
        self._metadata["status"] = state.value
        self._metadata.update(fields)
        self._metadata["events"].append({"eventType": event, "timeOfEvent": now()})

    def _end(self, state: JobState, failure_reason: str | None = None) -> None:
        if self.state.is_terminal:
            return
        fields: dict[str, Any] = {"endedAt": now()}
        if state is not JobState.COMPLETED and failure_reason is not None:
            fields["failureReason"] = failure_reason
        self._transition(state, state.value, **fields)

    async def _write_metadata(self) -> None:
        # Serialized here, so that the worker thread writes a snapshot.
        text = metadata_to_json(self._metadata)
        await asyncio.to_thread(write_text, self.folder / METADATA_FILE, text)
        self._on_change()


def _execution_fields(execution: Execution) -> dict[str, Any]:
    """What the record keeps of a started execution, for processes that outlive us."""
    fields: dict[str, Any] = {}
    container_id = getattr(execution, "container_id", None)
    if isinstance(container_id, str):
        fields["containerId"] = container_id
    pid = getattr(execution, "pid", None)
    if isinstance(pid, int):
        fields["jobProcess"] = process_identity(pid)
    workspace = getattr(execution, "workspace", None)
    if isinstance(workspace, Path):
        fields["workspace"] = str(workspace)
    return fields


def _with_refusals(reason: str, refused: list[str]) -> str:
    if not refused:
        return reason
    return f"{reason}; outputs refused: {'; '.join(refused)}"


class _LogFile:
    """``log.txt`` and, beside it, when each batch of lines reached it.

    ``log-times`` has one line ``<end offset> <epoch seconds>`` per batch, so that any
    follower gives each line the time it was logged, however late it reads.
    """

    def __init__(self, path: Path, times: Path) -> None:
        self._log = _open_append(path)
        self._times = _open_append(times)

    def append(self, data: bytes) -> None:
        self._log.write(data)
        self._log.flush()
        self._times.write(f"{self._log.tell()} {time.time():.6f}\n".encode())
        self._times.flush()

    def close(self) -> None:
        self._log.close()
        self._times.close()


def _open_append(path: Path) -> BinaryIO:
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    return os.fdopen(descriptor, "ab")
