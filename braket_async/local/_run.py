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
import copy
import datetime
import logging
import os
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
    end_record,
    failed_write,
    merge_outputs,
    metadata_to_json,
    private_folder,
    process_identity,
)
from ._log_file import MAX_PENDING_BYTES, LogFile, LogQueue
from ._record_writer import RecordWriter, write_record

__all__ = ["MAX_PENDING_BYTES", "LocalJobRun"]

logger = logging.getLogger(__name__)

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
        self._log: LogQueue | None = None
        self._error: BaseException | None = None
        # The job's processes run from the start of the execution until they exited;
        # a cancel that comes later changes nothing (the job is being recorded).
        self._running = False
        self._finishing = False
        # The first write to the job's folder that failed; it ends the job FAILED.
        self._failure: str | None = None
        self._records = RecordWriter(folder)
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
            write_record(self.folder, metadata_to_json(self._metadata), final=True)
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
            self._spawn(self._write_record(self._records.snapshot(self._metadata)))
        self._task.cancel()

    @property
    def _execution_started(self) -> bool:
        return "startedAt" in self._metadata

    def _spawn(self, step: Awaitable[None]) -> None:
        task = asyncio.ensure_future(step)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _main(self) -> None:
        log_file: LogFile | None = None
        writer: asyncio.Task[None] | None = None
        try:
            log_file = await asyncio.to_thread(
                LogFile, self.folder / LOG_FILE, private_folder(self.folder) / LOG_TIMES_FILE
            )
            self._log = LogQueue(
                log_file, on_written=self._on_change, on_failure=self._write_failed
            )
            writer = asyncio.create_task(self._log.run())
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
        assert self._log is not None
        async for block in output_blocks(execution):
            await self._log.add(block)

    async def _add_lines(self, lines: list[str]) -> None:
        if lines and self._log is not None:
            await self._log.add("".join(line + "\n" for line in lines))

    def _write_failed(self, exc: OSError, path: str | None = None) -> str:
        """A write to the job's folder failed: the job ends FAILED with the reason
        (returned: the first such one). Its processes are stopped if they still run."""
        reason = failed_write(exc, path)
        logger.error("job %s: %s", self.spec.job_name, reason)
        if self._failure is not None:
            return self._failure
        self._failure = reason
        self._error = ContainerError(f"Job {self.spec.job_name} failed: {reason}")
        self._cancel = (JobState.FAILED, reason)
        if self._running and not self._finishing and self._task is not None:
            self._task.cancel()
        return reason

    async def _finalize(self, log_file: LogFile | None, writer: asyncio.Task[None] | None) -> None:
        self._finishing = True
        try:
            if self._log is not None and writer is not None:
                self._log.end()
                await asyncio.wait([writer])
                if self._failure is not None:
                    self._log.note(f"braket_async: {self._failure}")
                # The writer may have been cancelled (asyncio.run does that at
                # shutdown): finish its work here, so log.txt holds every line.
                await self._log.flush()
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

    async def _write_metadata(self, *, final: bool = False) -> None:
        await self._write_record(self._records.snapshot(self._metadata), final=final)

    async def _write_record(self, version: tuple[int, str], *, final: bool = False) -> None:
        """Write a version of the record (unless a newer one is written already).

        A failure fails the job (:meth:`_write_failed`); a final record goes into the
        room reserved for it, and if even that fails there is nothing left to do but
        say so (the next reader records the job as ended by its supervisor's exit).
        """
        try:
            written = await self._records.write(version, final=final)
        except OSError as exc:
            if final:
                logger.error("job %s: its final record: %s", self.spec.job_name, failed_write(exc))
            else:
                self._write_failed(exc, str(self._records.path))
            return
        if written:
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
    own = getattr(execution, "record_fields", None)  # e.g. a Ray job's submission id
    if callable(own):
        fields.update(own())
    return fields


def _with_refusals(reason: str, refused: list[str]) -> str:
    if not refused:
        return reason
    named = refused[:_REASON_REFUSALS]
    if len(refused) > len(named):
        named.append(f"and {len(refused) - len(named)} more (see log.txt)")
    return f"{reason}; outputs refused: {'; '.join(named)}"
