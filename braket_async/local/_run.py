"""Running one local job to its end: the task behind a ``LocalQuantumJob``.

A :class:`LocalJobRun` owns the job while it lives: it waits for a runtime slot, starts
the execution, pumps its output into the log buffer (and ``log.txt``), collects results
and checkpoints, records every state change in ``metadata.json`` and always closes the
execution, whether the job ends, fails, or is cancelled (by ``cancel()``, by leaving an
``async with`` scope, or by the event loop shutting down on Ctrl-C).
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
import os
import weakref
from pathlib import Path
from typing import Any, TextIO

from .._logs import LogBuffer
from .._shield import finish
from .._states import JobState
from ..runtimes import Execution, JobRuntime, JobSpec
from ._folder import LOG_FILE, PRIVATE_FOLDER, merge_outputs, write_metadata

__all__ = ["LocalJobRun", "live_run"]

logger = logging.getLogger(__name__)

# Runs still alive in this process, by job folder, so that a handle made later from the
# ARN (``LocalQuantumJob("local:job/<name>")``) attaches to the live job.
_live_runs: weakref.WeakValueDictionary[Path, LocalJobRun] = weakref.WeakValueDictionary()


def live_run(folder: Path) -> LocalJobRun | None:
    """The run of this process that writes to ``folder``, if any."""
    return _live_runs.get(folder)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class LocalJobRun:
    """The live side of one local job; see the module docstring.

    Args:
        spec: The job.
        runtime: The runtime that runs it.
        owns_runtime: Close ``runtime`` when the job ends.
        folder: The job's output folder (``<root>/<job_name>``), already created.
        metadata: The initial GetJob-shaped metadata.
    """

    def __init__(
        self,
        spec: JobSpec,
        runtime: JobRuntime,
        *,
        owns_runtime: bool,
        folder: Path,
        metadata: dict[str, Any],
    ) -> None:
        self.spec = spec
        self.folder = folder
        self.log = LogBuffer()
        self.done = asyncio.Event()
        self._runtime = runtime
        self._owns_runtime = owns_runtime
        self._metadata = metadata
        self._admitted: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancel_reason = "Cancelled"
        self._closing: asyncio.Task[None] | None = None
        self._lines_written = 0

    @property
    def state(self) -> JobState:
        """The job's current state."""
        return JobState(self._metadata["status"])

    def metadata(self) -> dict[str, Any]:
        """A copy of the job's GetJob-shaped metadata."""
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
        _live_runs[self.folder] = self
        try:
            await asyncio.shield(self._admitted)
        except asyncio.CancelledError:
            if not self._admitted.done():
                self._cancel_reason = "Cancelled while starting"
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
            self._end(JobState.CANCELLED, self._cancel_reason)
        else:
            self._end(JobState.FAILED, f"{type(error).__name__}: {error}")
        write_metadata(self.folder, self._metadata)
        self.log.close()
        self._admit(error)
        self.done.set()
        if self._owns_runtime:
            # Kept on self: the loop holds tasks only weakly.
            self._closing = asyncio.get_running_loop().create_task(self._runtime.aclose())

    def _admit(self, error: BaseException | None = None) -> None:
        if self._admitted is not None and not self._admitted.done():
            if error is None:
                self._admitted.set_result(None)
            else:
                self._admitted.set_exception(error)

    async def cancel(self, reason: str = "Cancelled") -> None:
        """Stop the job, record it CANCELLED (unless it ended already) and wait."""
        if self._task is not None and not self._task.done():
            self._cancel_reason = reason
            self._task.cancel()
        await self.done.wait()

    async def _main(self) -> None:
        log_file = await asyncio.to_thread(_open_log, self.folder / LOG_FILE)
        writer = asyncio.create_task(self._write_log(log_file))
        try:
            if not self._runtime.has_free_slot:
                self._admit()
            async with self._runtime.job_slot():
                execution = await self._start()
                if execution is not None:
                    await self._supervise(execution)
        except asyncio.CancelledError:
            if not self.state.is_terminal:
                self._end(JobState.CANCELLED, self._cancel_reason)
            self._admit()
            raise
        except Exception as exc:
            self._end(JobState.FAILED, f"{type(exc).__name__}: {exc}")
            self._admit(exc)
        finally:
            await finish(self._finalize(log_file, writer))

    async def _start(self) -> Execution | None:
        try:
            execution = await self._runtime.start(self.spec)
        except Exception as exc:
            self._end(JobState.FAILED, f"{type(exc).__name__}: {exc}")
            self._admit(exc)
            return None
        self._transition(JobState.RUNNING, "RUNNING", startedAt=_now())
        await self._write_metadata()
        self._admit()
        return execution

    async def _supervise(self, execution: Execution) -> None:
        pump = asyncio.create_task(self._pump(execution))
        try:
            try:
                exit_code = await execution.wait()
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
        # asyncio.wait, not await: at shutdown asyncio.run cancels the pump task too,
        # and that must not cut this cleanup short.
        await asyncio.wait([pump], timeout=10)
        pump.cancel()
        self._end(JobState.CANCELLED, self._cancel_reason)
        await self._collect(execution)

    async def _collect(self, execution: Execution) -> tuple[str | None, list[str]]:
        """Collect the job's outputs into its folder; the failure reason and refusals."""
        collected = self.folder / PRIVATE_FOLDER / f"collected-{os.getpid()}-{id(execution)}"
        outputs = await execution.collect(collected)
        refused = list(outputs.refused)
        refused += await asyncio.to_thread(merge_outputs, collected, self.folder)
        for line in refused:
            logger.warning("job %s: output refused: %s", self.spec.job_name, line)
        if refused:
            self.log.extend([f"braket_async: output refused: {line}" for line in refused])
        return outputs.failure_reason, refused

    async def _pump(self, execution: Execution) -> None:
        async for line in execution.output():
            self.log.extend([line])

    async def _write_log(self, log_file: TextIO) -> None:
        async for batch in self.log.follow(self._lines_written):
            text = "".join(line + "\n" for line in batch)
            await asyncio.to_thread(_write_flush, log_file, text)
            self._lines_written += len(batch)

    async def _finalize(self, log_file: TextIO, writer: asyncio.Task[None]) -> None:
        try:
            self.log.close()
            await asyncio.wait([writer])
            if self._lines_written < len(self.log):
                # The writer was cancelled (asyncio.run does that at shutdown): finish
                # its work here, so log.txt holds every line.
                await self._write_log(log_file)
            await self._write_metadata()
            if self._owns_runtime:
                await self._runtime.aclose()
        finally:
            # Synchronous, so that even a cancelled finalization closes the file.
            log_file.close()
            self.done.set()

    def _transition(self, state: JobState, event: str, **fields: Any) -> None:
        self._metadata["status"] = state.value
        self._metadata.update(fields)
        self._metadata["events"].append({"eventType": event, "timeOfEvent": _now()})

    def _end(self, state: JobState, failure_reason: str | None = None) -> None:
        if self.state.is_terminal:
            return
        fields: dict[str, Any] = {"endedAt": _now()}
        if failure_reason is not None:
            fields["failureReason"] = failure_reason
        self._transition(state, state.value, **fields)

    async def _write_metadata(self) -> None:
        await asyncio.to_thread(write_metadata, self.folder, copy.deepcopy(self._metadata))


def _with_refusals(reason: str, refused: list[str]) -> str:
    if not refused:
        return reason
    return f"{reason}; outputs refused: {'; '.join(refused)}"


def _open_log(path: Path) -> TextIO:
    return path.open("a", encoding="utf-8")


def _write_flush(file: TextIO, text: str) -> None:
    file.write(text)
    file.flush()
