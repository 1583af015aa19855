"""The creating process's side of a local job: start its supervisor and watch it.

A :class:`SupervisedRun` holds the runtime slot while the job waits (``QUEUED``) and
runs, starts the supervisor (``_supervisor.py``) once a slot is free, raises the errors
of a failed start from ``launch()``, passes the supervisor's wake-ups on to followers in
this process, and knows when it has exited. The job itself — its log, record, outputs —
belongs to the supervisor alone; this side writes the record only while no supervisor
exists (queued, cancelled before it started, or when the supervisor could not start).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any, Protocol

import braket_async

from .._shield import finish
from .._states import JobState
from ..errors import (
    BraketAsyncError,
    ClosedError,
    ConfigurationError,
    ContainerError,
    JobNotFoundError,
    RuntimeUnavailableError,
)
from ..runtimes import JobRuntime
from . import _launcher
from ._description import FAILED, STARTED
from ._folder import (
    end_record,
    failed_write,
    private_folder,
    read_metadata,
    write_final_metadata,
)
from ._follow import POLL_SECONDS, current_record

__all__ = [
    "CANCEL_REQUEST",
    "ChangeSignal",
    "SupervisedRun",
    "register",
    "supervised_run",
    "unregister",
    "watch_cancel_request",
]

logger = logging.getLogger(__name__)

SUPERVISOR_LOG = "supervisor.log"
_PACKAGE_PARENT = str(Path(braket_async.__file__).resolve().parent.parent)
# Errors of a failed start that cross from the supervisor as themselves.
_ERRORS: dict[str, type[BraketAsyncError]] = {
    kind.__name__: kind
    for kind in (ClosedError, ConfigurationError, ContainerError, RuntimeUnavailableError)
}

#: Made in the private folder by a process that cancels a job queued in another one.
CANCEL_REQUEST = "cancel-requested"


class ChangeSignal:
    """Wakes every task waiting for the next change (of a log or record)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        """Wake the waiters."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Wait for the next change, at most ``timeout`` seconds."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


class LiveRun(Protocol):
    """A run this process drives: a supervised one, or one run in this process."""

    done: asyncio.Event
    changes: ChangeSignal

    async def cancel(self, reason: str = ...) -> None: ...

    def request_cancel(self, reason: str) -> None: ...


# Runs this process drives, by job folder: handles made here follow them through
# wake-ups instead of polling, and cancel them directly. Strong references until the
# run ends: the event loop holds tasks only weakly, and a run collected early would
# close its end of the owner pipe, which ends the job.
_runs: dict[Path, LiveRun] = {}


def register(folder: Path, run: LiveRun) -> None:
    """Let handles of ``folder`` made in this process drive ``run`` until it ends."""
    _runs[folder] = run


def unregister(folder: Path, run: LiveRun) -> None:
    """The run has ended: forget it."""
    if _runs.get(folder) is run:
        del _runs[folder]


def supervised_run(folder: Path) -> LiveRun | None:
    """The run of ``folder`` whose supervisor this process started, if any."""
    return _runs.get(folder)


async def watch_cancel_request(folder: Path, run: LiveRun) -> None:
    """Cancel ``run`` once another process asks for it with the :data:`CANCEL_REQUEST`
    file (looked for every :data:`~._follow.POLL_SECONDS`: one ``stat``)."""
    path = private_folder(folder) / CANCEL_REQUEST
    while not await asyncio.to_thread(path.exists):  # noqa: ASYNC110 - a file of another process
        await asyncio.sleep(POLL_SECONDS)
    run.request_cancel("Cancelled by the user")


class SupervisedRun:
    """One job created by this process; see the module docstring.

    Args:
        folder: The job's folder, with its record and description written.
        runtime: The runtime whose slot the job holds (used here for its slots only).
        owns_runtime: Close ``runtime`` when the job ends.
        lock: The descriptor of the job's lock, held by this process; handed on to the
            supervisor, then closed here.
        detached: The job runs on when this process exits.
        supervisor_environment: Variables added to the supervisor's environment.
    """

    def __init__(
        self,
        folder: Path,
        runtime: JobRuntime,
        *,
        owns_runtime: bool,
        lock: int,
        detached: bool,
        supervisor_environment: dict[str, str],
    ) -> None:
        self.folder = folder
        self.detached = detached
        self._supervisor_environment = supervisor_environment
        self.done = asyncio.Event()
        self._runtime = runtime
        self._owns_runtime = owns_runtime
        self._lock: int | None = lock
        self.changes = ChangeSignal()
        self._admitted: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._pid: int | None = None  # the supervisor's, once it said it
        self._reader: asyncio.StreamReader | None = None
        self._transport: asyncio.ReadTransport | None = None
        self._exited = False
        self._owner_pipe: int | None = None
        self._cancel_requested = False
        self._cancel_reason = "Cancelled"

    async def launch(self) -> None:
        """Start watching; return once the job runs or waits for a slot.

        Raises the error of a start that failed at once. If the caller is cancelled, the
        job is cancelled too.
        """
        self._admitted = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._main(), name=f"braket_async job {self.folder.name}")
        register(self.folder, self)
        try:
            await asyncio.shield(self._admitted)
        except asyncio.CancelledError:
            # Even when the job was admitted in the same step: the caller never gets
            # a handle on it, so nobody would ever collect or cancel it.
            await finish(self.cancel("Cancelled while starting"))
            raise

    async def cancel(self, reason: str = "Cancelled by the user") -> None:
        """Cancel the job and wait until its supervisor has recorded it and exited."""
        self.request_cancel(reason)
        await self.done.wait()

    def request_cancel(self, reason: str) -> None:
        """Start cancelling the job; :attr:`done` is set once it has stopped."""
        if self._task is not None and not self._task.done():
            self._cancel_requested = True
            self._cancel_reason = reason
            self._task.cancel()

    def _admit(self, error: BaseException | None = None) -> None:
        if self._admitted is not None and not self._admitted.done():
            if error is None:
                self._admitted.set_result(None)
            else:
                self._admitted.set_exception(error)

    async def _main(self) -> None:
        watcher: asyncio.Task[None] | None = None
        try:
            if not self._runtime.has_free_slot:
                self._admit()
                # Queued: another process may cancel it meanwhile.
                watcher = asyncio.create_task(watch_cancel_request(self.folder, self))
            async with self._runtime.job_slot():
                if watcher is not None:
                    watcher.cancel()
                if (private_folder(self.folder) / CANCEL_REQUEST).exists():
                    self._cancel_reason = "Cancelled by the user"
                    raise asyncio.CancelledError
                reader = await self._start()
                await self._watch(reader)
        except asyncio.CancelledError:
            if self._reader is None:  # no supervisor was asked for
                await finish(self._end_unstarted(JobState.CANCELLED, self._cancel_reason))
            elif self._cancel_requested or not self.detached:
                await finish(self._terminate())
                # A supervisor stopped before it could record anything (cancelled as
                # it started) leaves the first record: end it here.
                await finish(self._end_unstarted(JobState.CANCELLED, self._cancel_reason))
            self._admit()
            raise
        except Exception as exc:
            if self._pid is None:
                await finish(self._end_unstarted(JobState.FAILED, f"{type(exc).__name__}: {exc}"))
            self._admit(exc)
        finally:
            if watcher is not None:
                watcher.cancel()
            await finish(self._close())

    async def _start(self) -> asyncio.StreamReader:
        log = await asyncio.to_thread(_open_append, private_folder(self.folder) / SUPERVISOR_LOG)
        try:
            for attempt in range(2):
                reader = await self._launch(log)
                line = await reader.readline()
                if line.startswith(b"pid "):
                    self._pid = int(line[4:])
                    break
                # The launcher died, or could not fork: once more with a new one.
                await self._discard_launch()
                if attempt == 0:
                    _launcher.restart()
            else:
                raise ContainerError(
                    f"The supervisor of job {self.folder.name} could not be started: "
                    "its launcher exited at once (see the stderr of this process)"
                )
        finally:
            os.close(log)
        # The supervisor holds the lock now (the same open file): let go of ours.
        self._release_lock()
        return reader

    async def _launch(self, log: int) -> asyncio.StreamReader:
        """Ask the launcher for a supervisor; its stdout, where ``pid <n>`` comes first."""
        assert self._lock is not None
        argv = [str(self.folder), *(["--detached"] if self.detached else [])]
        environment = {**os.environ, **self._supervisor_environment}
        environment["PYTHONPATH"] = os.pathsep.join(
            [_PACKAGE_PARENT, *filter(None, [environment.get("PYTHONPATH")])]
        )
        stdout_read, stdout_write = os.pipe()
        if self.detached:
            stdin = os.open(os.devnull, os.O_RDONLY)
        else:
            stdin, self._owner_pipe = os.pipe()
        try:
            loop = asyncio.get_running_loop()
            self._reader = reader = asyncio.StreamReader()
            self._transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(stdout_read, "rb", 0)
            )
            with contextlib.suppress(OSError):  # the launcher is gone: stdout ends at once
                await _launcher.launch(
                    argv,
                    environment,
                    str(self.folder),
                    [stdin, stdout_write, log, self._lock],
                    imports=[type(self._runtime).__module__],
                )
        finally:
            os.close(stdin)
            os.close(stdout_write)
        return reader

    async def _discard_launch(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        self._reader = None
        if self._owner_pipe is not None:
            os.close(self._owner_pipe)
            self._owner_pipe = None

    async def _watch(self, reader: asyncio.StreamReader) -> None:
        line = (await reader.readline()).rstrip(b"\n")
        error: BraketAsyncError | None = None
        if line == STARTED:
            self._admit()
        elif line.startswith(FAILED + b" "):
            error = _start_error(json.loads(line[len(FAILED) + 1 :]))
        else:
            error = ContainerError(self._supervisor_failure())
        self.changes.set()
        while await reader.read(1 << 12):
            self.changes.set()
        self._exited = True
        if error is not None:
            # Raised once the supervisor is gone, so the record is final by then.
            self._admit(error)

    def _supervisor_failure(self) -> str:
        try:
            text = (private_folder(self.folder) / SUPERVISOR_LOG).read_text(errors="replace")
        except OSError:
            text = ""
        last = text.strip().splitlines()[-1:] or ["no output"]
        return f"The supervisor of job {self.folder.name} exited at its start: {last[0]}"

    async def _terminate(self) -> None:
        """SIGTERM the supervisor (it cancels the job) and wait for its exit."""
        reader = self._reader
        if self._pid is None and reader is not None:
            # Launched, and cancelled before it said its pid: read it first.
            line = await reader.readline()
            if line.startswith(b"pid "):
                self._pid = int(line[4:])
            else:
                self._exited = True
        if self._pid is not None and not self._exited:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGTERM)
        await self._reap()

    async def _reap(self) -> None:
        """Wait for the supervisor's exit: the end of its stdout, which only it holds."""
        reader = self._reader
        if reader is not None and not self._exited:
            while await reader.read(1 << 16):
                pass
        self._exited = True

    async def _end_unstarted(self, state: JobState, reason: str) -> None:
        """Record the end of a job that has no supervisor (it never started, or its
        supervisor died).

        Quiet when the folder is gone (its user removed it) and when the record cannot
        be written: this runs as the program exits, where an error has nobody to go to
        (a reader that finds the record unfinished and unowned finishes it).
        """

        def write() -> None:
            try:
                metadata = read_metadata(self.folder)
                if JobState(metadata["status"]).is_terminal:
                    return
                if isinstance(metadata.get("supervisor"), dict):
                    # It ran, and its supervisor is gone: ended as any reader ends a
                    # job whose owner died (what it left is ended too).
                    current_record(self.folder)
                    return
                end_record(metadata, state, reason)
                write_final_metadata(self.folder, metadata)
            except FileNotFoundError:
                pass
            except (OSError, JobNotFoundError) as exc:
                shown = failed_write(exc) if isinstance(exc, OSError) else str(exc)
                logger.warning("job %s: its final record: %s", self.folder.name, shown)

        await asyncio.to_thread(write)

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            os.close(lock)

    async def _close(self) -> None:
        transport = self._transport
        if transport is not None:
            transport.close()
        if self._owner_pipe is not None and (self._pid is None or self.done_running()):
            os.close(self._owner_pipe)
            self._owner_pipe = None
        self._release_lock()
        self.done.set()
        self.changes.set()
        unregister(self.folder, self)
        if self._owns_runtime:
            await self._runtime.aclose()

    def done_running(self) -> bool:
        """Whether the supervisor has exited."""
        return self._pid is not None and self._exited


def _start_error(data: dict[str, Any]) -> BraketAsyncError:
    kind = _ERRORS.get(str(data.get("type")), ContainerError)
    return kind(str(data.get("message")))


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
