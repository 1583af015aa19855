"""Running one local job to its end: what its supervisor does.

A :class:`LocalJobRun` owns the job while it lives: it waits for a runtime slot, starts
the execution, writes its output to ``log.txt``, collects results and checkpoints into
the job's folder, records every state change in ``metadata.json`` and always closes the
execution, whether the job ends, fails, or is cancelled. It runs in the job's supervisor
process (``_supervisor.py``), or, for runtimes that cannot be rebuilt in another process,
in the process that created the job.

Memory is bounded: lines go from the execution to ``log.txt`` through a queue of at most
:data:`MAX_PENDING_BYTES`; readers follow the file, never this object.

A write to the job's folder that fails (a full disk, a removed folder) ends the job:
it is killed and recorded FAILED with a reason naming the error and the path, in the
room reserved for its final record (``_folder.reserve_room``). Nothing waits for room
that will not come: output that can no longer be logged is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .._shield import finish
from .._states import JobState
from ..errors import BraketAsyncError, ContainerError
from ..runtimes import Execution, JobRuntime, JobSpec
from ..runtimes._base import MODEL_FOLDER, output_blocks
from ._folder import (
    LOG_FILE,
    LOG_TIMES_FILE,
    METADATA_FILE,
    end_record,
    failed_write,
    merge_outputs,
    metadata_to_json,
    private_folder,
    process_identity,
    release_reserve,
    write_all,
    write_text,
)

__all__ = ["MAX_PENDING_BYTES", "LocalJobRun"]

logger = logging.getLogger(__name__)

#: How much output may wait for the log writer before the reader of the job's output
#: waits too (the job then blocks on a full pipe, as with any slow reader).
MAX_PENDING_BYTES = 8 << 20
_PUMP_GRACE_SECONDS = 10
#: How many refused outputs a failure reason names (``log.txt`` has every one).
_REASON_REFUSALS = 20


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
        self._cancel_requested = False
        self._closing: asyncio.Task[None] | None = None
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._output_ended = False
        self._has_pending = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._error: BaseException | None = None
        # The job's processes run from the start of the execution until they exited;
        # a cancel that comes later changes nothing (the job is being recorded).
        self._running = False
        self._finishing = False
        # The first write to the job's folder that failed; it ends the job FAILED.
        self._failure: str | None = None
        self._log_broken = False
        # Records are written one at a time, and never an older one after a newer one.
        self._record_lock = asyncio.Lock()
        self._record_number = 0
        self._written_number = 0
        self._side_tasks: set[asyncio.Task[None]] = set()

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
        # _main never reached its cleanup: cancelled before its first step. Finish the
        # record (synchronously: the loop may be closing).
        error = None if task.cancelled() else task.exception()
        if error is None:
            self._end(*self._cancel)
        else:
            self._end(JobState.FAILED, f"{type(error).__name__}: {error}")
        try:
            release_reserve(self.folder)
            write_text(self.folder / METADATA_FILE, metadata_to_json(self._metadata))
        except OSError as exc:
            logger.error("job %s: its final record: %s", self.spec.job_name, failed_write(exc))
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
        """Start stopping the job; :attr:`done` is set once it is recorded.

        A job whose processes run is recorded ``CANCELLING`` first (when it is to end
        CANCELLED), so that every reader knows the request was taken. A job whose
        processes have exited already is left to be recorded as it ended.
        """
        if self._task is None or self._task.done() or self._finishing:
            return
        if self._cancel_requested or self._failure is not None:
            return  # the first reason to stop stands
        if self._execution_started and not self._running:
            return
        self._cancel_requested = True
        self._cancel = (state, reason)
        if self._running and state is JobState.CANCELLED:
            self._metadata["status"] = JobState.CANCELLING.value
            self._spawn(self._write_record(*self._snapshot()))
        self._task.cancel()

    @property
    def _execution_started(self) -> bool:
        return "startedAt" in self._metadata

    def _spawn(self, step: Awaitable[None]) -> None:
        task = asyncio.ensure_future(step)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _main(self) -> None:
        log_file: _LogFile | None = None
        writer: asyncio.Task[None] | None = None
        try:
            log_file = await asyncio.to_thread(
                _LogFile, self.folder / LOG_FILE, private_folder(self.folder) / LOG_TIMES_FILE
            )
            writer = asyncio.create_task(self._write_log(log_file))
            if not self._runtime.has_free_slot:
                self._admit()
            async with self._runtime.job_slot():
                execution = await self._start()
                if execution is not None:
                    await self._supervise(execution)
        except asyncio.CancelledError:
            self._end(*self._cancel)
            self._admit(self._error)
            raise
        except OSError as exc:
            if log_file is None:  # log.txt could not be made: a write that failed
                self._write_failed(exc)
                assert self._failure is not None
                self._end(JobState.FAILED, self._failure)
            else:
                self._end(JobState.FAILED, f"{type(exc).__name__}: {exc}")
                self._error = exc
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
        self._running = True
        self._transition(
            JobState.RUNNING, "RUNNING", startedAt=now(), **_execution_fields(execution)
        )
        return execution

    async def _supervise(self, execution: Execution) -> None:
        pump = asyncio.create_task(self._pump(execution))
        try:
            try:
                # A failed write cancels this task (see _write_failed): the job stops.
                await self._write_metadata()
                if self._failure is None:
                    self._admit()
                exit_code = await execution.wait()
                self._running = False
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
        self._running = False
        if self._after_exit is not None:
            await self._after_exit()
        # asyncio.wait, not await: at shutdown asyncio.run cancels the pump task too,
        # and that must not cut this cleanup short.
        await asyncio.wait([pump], timeout=_PUMP_GRACE_SECONDS)
        pump.cancel()
        self._end(*self._cancel)
        await self._collect(execution)

    async def _collect(self, execution: Execution) -> tuple[str | None, list[str]]:
        """Collect the job's outputs into its folder; the failure reason and refusals.

        A write that fails (a full disk) fails the job; what was copied whole before
        it is kept.
        """
        collected = private_folder(self.folder) / f"collected-{os.getpid()}-{id(execution)}"
        failure_reason: str | None = None
        refused: list[str] = []
        try:
            # Made here, without its parents: a job folder that was removed stays so.
            await asyncio.to_thread(collected.mkdir)
            outputs = await execution.collect(collected)
            failure_reason, refused = outputs.failure_reason, list(outputs.refused)
        except OSError as exc:
            if isinstance(exc, BraketAsyncError):  # the runtime's own failure
                await asyncio.to_thread(merge_outputs, collected, self.folder)
                raise
            self._write_failed(exc, self._outside_path(exc.filename, collected))
        try:
            refused += await asyncio.to_thread(merge_outputs, collected, self.folder)
        except OSError as exc:
            self._write_failed(exc, self._outside_path(exc.filename, collected))
        for line in refused:
            logger.warning("job %s: output refused: %s", self.spec.job_name, line)
        await self._add_lines([f"braket_async: output refused: {line}" for line in refused])
        return failure_reason, refused

    def _outside_path(self, filename: object, collected: Path) -> str | None:
        """Where a file being collected was going in the job's folder."""
        if filename is None:
            return None
        try:
            parts = Path(str(filename)).relative_to(collected).parts
        except ValueError:
            return str(filename)
        if parts[:1] == (MODEL_FOLDER,):
            parts = parts[1:]
        return str(self.folder.joinpath(*parts))

    async def _pump(self, execution: Execution) -> None:
        async for block in output_blocks(execution):
            await self._add_block(block)

    async def _add_lines(self, lines: list[str]) -> None:
        if lines:
            await self._add_block("".join(line + "\n" for line in lines))

    async def _add_block(self, block: str) -> None:
        """Queue whole lines (each ending in a line end) for ``log.txt``."""
        if not block or self._output_ended or self._log_broken:
            return
        await self._has_room.wait()
        if self._log_broken:  # the room came from a log that can no longer be written
            return
        self._pending.append(block)
        self._pending_bytes += len(block)
        if self._pending_bytes >= MAX_PENDING_BYTES:
            self._has_room.clear()
        self._has_pending.set()

    async def _write_log(self, log_file: _LogFile) -> None:
        while True:
            await self._has_pending.wait()
            await self._flush(log_file)
            if self._log_broken or (self._output_ended and not self._pending):
                return

    async def _flush(self, log_file: _LogFile) -> None:
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        self._has_pending.clear()
        self._has_room.set()
        if batch and not self._log_broken:
            data = "".join(batch).encode("utf-8", "replace")
            try:
                await asyncio.to_thread(log_file.append, data)
            except OSError as exc:
                self._log_broken = True
                self._write_failed(exc)
                note = f"braket_async: {self._failure}: the rest of the job's output is lost\n"
                await asyncio.to_thread(log_file.try_append, note.encode())
            self._on_change()

    def _write_failed(self, exc: OSError, path: str | None = None) -> None:
        """A write to the job's folder failed: the job ends FAILED with the reason.

        Its processes are stopped if they still run; output that comes later is
        dropped (nothing waits for room).
        """
        reason = failed_write(exc, path)
        logger.error("job %s: %s", self.spec.job_name, reason)
        if self._failure is not None:
            return
        self._failure = reason
        self._error = ContainerError(f"Job {self.spec.job_name} failed: {reason}")
        self._cancel = (JobState.FAILED, reason)
        if exc.filename is not None and Path(os.fsdecode(exc.filename)).name == LOG_FILE:
            self._log_broken = True
        if self._log_broken:
            self._pending, self._pending_bytes = [], 0
            self._has_room.set()
        if self._running and not self._finishing and self._task is not None:
            self._task.cancel()

    async def _finalize(self, log_file: _LogFile | None, writer: asyncio.Task[None] | None) -> None:
        self._finishing = True
        try:
            self._output_ended = True
            self._has_pending.set()
            if writer is not None:
                await asyncio.wait([writer])
            if log_file is not None:
                if self._failure is not None and not self._log_broken:
                    self._pending.append(f"braket_async: {self._failure}\n")
                # The writer may have been cancelled (asyncio.run does that at
                # shutdown): finish its work here, so log.txt holds every line.
                await self._flush(log_file)
            self._settle_failure()
            await self._write_metadata(final=True)
            if self._side_tasks:
                await asyncio.wait(list(self._side_tasks))
            if self._owns_runtime:
                await self._runtime.aclose()
        finally:
            # Synchronous, so that even a cancelled finalization closes the file.
            if log_file is not None:
                log_file.close()
            self.done.set()
            self._admit(self._error)
            self._on_change()

    def _settle_failure(self) -> None:
        """A failed write outranks how the job would have ended: it lost something."""
        if self._failure is None:
            return
        state, reason = self.state, self._failure
        if state.is_terminal:
            own = self._metadata.get("failureReason")
            if state is JobState.FAILED and own and own != reason:
                reason = f"{own}; {reason}"
            events = self._metadata["events"]
            if events and events[-1].get("eventType") == state.value:
                events.pop()
            self._metadata.pop("failureReason", None)
        end_record(self._metadata, JobState.FAILED, reason)

    def _transition(self, state: JobState, event: str, **fields: Any) -> None:
        self._metadata["status"] = state.value
        self._metadata.update(fields)
        self._metadata["events"].append({"eventType": event, "timeOfEvent": now()})

    def _end(self, state: JobState, failure_reason: str | None = None) -> None:
        if not self.state.is_terminal:
            end_record(self._metadata, state, failure_reason)

    def _snapshot(self) -> tuple[int, str]:
        """The record as it is now, numbered (serialized here, so that the worker thread
        writes this version)."""
        self._record_number += 1
        return self._record_number, metadata_to_json(self._metadata)

    async def _write_metadata(self, *, final: bool = False) -> None:
        await self._write_record(*self._snapshot(), final=final)

    async def _write_record(self, number: int, text: str, *, final: bool = False) -> None:
        """Write record ``number``, unless a newer one is written already.

        A failure fails the job (:meth:`_write_failed`); a final record goes into the
        room reserved for it, and if even that fails there is nothing left to do but
        say so (the next reader records the job as ended by its supervisor's exit).
        """
        path = self.folder / METADATA_FILE
        async with self._record_lock:
            if number < self._written_number:
                return
            try:
                # Never given up half-way (a cancel waits for it): the next write would
                # race this one's thread for the partial file.
                await finish(asyncio.to_thread(_write_record, self.folder, text, final))
            except OSError as exc:
                if final:
                    logger.error(
                        "job %s: its final record: %s", self.spec.job_name, failed_write(exc)
                    )
                else:
                    self._write_failed(exc, str(path))
                return
            self._written_number = number
        self._on_change()


def _write_record(folder: Path, text: str, final: bool) -> None:
    if final:
        release_reserve(folder)
    write_text(folder / METADATA_FILE, text)


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
    named = refused[:_REASON_REFUSALS]
    if len(refused) > len(named):
        named.append(f"and {len(refused) - len(named)} more (see log.txt)")
    return f"{reason}; outputs refused: {'; '.join(named)}"


class _LogFile:
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
