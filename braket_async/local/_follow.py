"""Reading a local job from its folder, from any process: record, liveness, log.

Every handle reads the same files, whether it lives in the process that created the
job or in another one started later: the record (``metadata.json``), the job's lock
(held while the job has an owner) and ``log.txt``. A record that is not final while
nobody holds the lock belongs to a job whose owner died: it is finished here, FAILED,
with what it left behind ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fcntl
import math
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from .._logs import LogEvent
from .._states import JobState
from ..errors import JobNotFoundError
from ._folder import (
    LOG_FILE,
    LOG_TIMES_FILE,
    METADATA_FILE,
    OWNER_EXITED,
    SUPERVISOR_EXITED,
    end_record,
    failed_write,
    is_owned,
    is_same_process,
    private_folder,
    processes,
    read_metadata,
    write_final_metadata,
)

__all__ = ["check_record", "current_record", "follow_log", "is_job_folder"]

#: How long a follower in another process waits between looks at a job's files.
POLL_SECONDS = 0.2
_READ_SIZE = 1 << 18
_OFFICIAL_SDK_FILES = ("log.txt", "results.json")


def is_job_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a local job (ours, or the official SDK's outputs)."""
    if (folder / "metadata.json").is_file() or private_folder(folder).is_dir():
        return True
    return any((folder / name).is_file() for name in _OFFICIAL_SDK_FILES)


def check_record(folder: Path) -> None:
    """Raise the ``JobRecordError`` of a record that cannot be read (blocking); a
    missing one is fine (being created, or the official SDK's folder)."""
    with contextlib.suppress(FileNotFoundError):
        read_metadata(folder)


def current_record(folder: Path) -> dict[str, Any]:
    """The job's record, final if its owner died meanwhile (blocking).

    Raises:
        JobNotFoundError: The record is missing; ``JobRecordError`` (one) when it
            cannot be read, naming it and the problem.
    """
    metadata = _read(folder)
    if JobState(metadata["status"]).is_terminal or is_owned(folder):
        return metadata
    return _finish_orphan(folder)


def _read(folder: Path) -> dict[str, Any]:
    try:
        return read_metadata(folder)
    except FileNotFoundError:
        if not folder.is_dir():
            raise JobNotFoundError(
                f"Local job {folder.name!r} is gone: {folder} was removed"
            ) from None
        if private_folder(folder).is_dir():
            # Ours, and its creator has not written the first record yet: still being
            # created, or the creator died in between (then the caller finishes it).
            return {
                "jobName": folder.name,
                "jobArn": f"local:job/{folder.name}",
                "status": JobState.QUEUED.value,
                "events": [],
            }
        # A folder written by the official SDK: it records nothing but the outputs,
        # and it only leaves a folder behind once the job has ended.
        return {
            "jobName": folder.name,
            "jobArn": f"local:job/{folder.name}",
            "status": JobState.COMPLETED.value,
            "events": [],
        }


def _finish_orphan(folder: Path) -> dict[str, Any]:
    """Record FAILED a job whose owner died, and end what it left (holding its lock)."""
    path = private_folder(folder) / "lock"
    try:
        # Created if missing: a creator that died before making the lock left it out.
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:  # no private folder: not a job of ours
        return _read(folder)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # someone took it up meanwhile
            return _read(folder)
        metadata = _read(folder)
        if JobState(metadata["status"]).is_terminal:
            return metadata
        _end_leftovers(metadata)
        supervisor = metadata.get("supervisor")
        if isinstance(supervisor, dict):
            reason = (
                f"{SUPERVISOR_EXITED} (pid {supervisor.get('pid')}) exited before the job ended"
            )
        else:
            reason = f"{OWNER_EXITED} exited before the job started"
        end_record(metadata, JobState.FAILED, reason)
        try:
            write_final_metadata(folder, copy.deepcopy(metadata))
        except OSError as exc:
            # Still the truth for this reader; the next one tries the write again.
            metadata["failureReason"] += f" (its record could not be written: {failed_write(exc)})"
        return metadata
    finally:
        os.close(descriptor)


def _end_leftovers(metadata: dict[str, Any]) -> None:
    job_process = metadata.get("jobProcess")
    workspace = metadata.get("workspace")
    if not isinstance(workspace, str) or not Path(workspace).name.startswith("braket-async-"):
        workspace = None
    if is_same_process(job_process):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job_process["pid"], signal.SIGKILL)
    elif isinstance(job_process, dict) and isinstance(job_process.get("pid"), int) and workspace:
        # The job's first process died with its supervisor; what it started (the user
        # code it forked) may live on in its group. Only processes whose environment
        # names the job's workspace are its, whoever has that group id now.
        for pid in processes(2, job_process["pid"]):  # the process group's field
            if _of_workspace(pid, workspace):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
    if workspace:
        shutil.rmtree(workspace, ignore_errors=True)


def _of_workspace(pid: int, workspace: str) -> bool:
    """Whether process ``pid`` started with a variable pointing into ``workspace`` (every
    process job gets its paths there)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            environment = file.read()
    except OSError:
        return False
    inside = os.fsencode(workspace) + b"/"
    return any(entry.partition(b"=")[2].startswith(inside) for entry in environment.split(b"\0"))


#: The instance name of a local job's lines (a local job runs on one instance).
INSTANCE = "algo-1"


async def follow_log(
    folder: Path,
    *,
    wait: bool,
    changed: Callable[[], Awaitable[None]],
) -> AsyncIterator[LogEvent]:
    """Yield the lines of ``log.txt`` as events, from the first.

    With ``wait``, follow the file until the job's record is final and every line is
    read; ``changed`` is awaited between looks. The record is read again only when its
    file was replaced, or :data:`POLL_SECONDS` after the last look (an owner that died
    changes no file). Linear in the log's size: a long line is gathered in pieces and
    joined once, and the lines of one batch are decoded in one call.
    """
    reader = _LogReader(folder)
    last_look = -math.inf
    while True:
        batches = await asyncio.to_thread(reader.read)
        if batches is not None:
            for event in _events(batches):
                yield event
            continue
        if not wait:
            break
        if reader.record_replaced or time.monotonic() - last_look >= POLL_SECONDS:
            last_look = time.monotonic()
            record = await asyncio.to_thread(current_record, folder)
            if JobState(record["status"]).is_terminal:
                # Lines come before the final record: one more read gets the rest.
                batches = await asyncio.to_thread(reader.read)
                if batches is None:
                    break
                for event in _events(batches):
                    yield event
                continue
        await changed()
    for event in reader.rest():
        yield event


def _events(batches: list[tuple[float, list[str]]]) -> Iterator[LogEvent]:
    # Events are made as they are taken: short-lived objects are cheap for the garbage
    # collector, a hundred thousand waiting in a list are not.
    for logged, messages in batches:
        for message in messages:
            yield LogEvent(logged, message, INSTANCE)


class _LogReader:
    """Reads ``log.txt`` and its times from where it stopped (blocking)."""

    def __init__(self, folder: Path) -> None:
        self._log = folder / LOG_FILE
        self._record = folder / METADATA_FILE
        self._record_identity: tuple[int, int, int] | None = None
        self._times_path = private_folder(folder) / LOG_TIMES_FILE
        self._offset = 0  # bytes of log.txt read
        self._line_start = 0  # offset of the first byte of the pending line
        self._pending: list[bytes] = []
        self._times: list[tuple[int, float]] = []
        self._times_offset = 0
        self._times_partial = b""
        self._time_index = 0
        #: After a :meth:`read` that found nothing new: whether the record's file was
        #: replaced since the last such read (always true the first time).
        self.record_replaced = True

    def read(self) -> list[tuple[float, list[str]]] | None:
        """The lines completed by what was written since, as (time logged, messages)
        batches; ``None`` if nothing was written."""
        data = _read_from(self._log, self._offset)
        if not data:
            self.record_replaced = self._record_was_replaced()
            return None
        self._offset += len(data)
        end = data.rfind(b"\n")
        if end < 0:
            self._pending.append(data)
            return []
        head, rest = data[: end + 1], data[end + 1 :]
        if self._pending:
            self._pending.append(head)
            head = b"".join(self._pending)
            self._pending.clear()
        if rest:
            self._pending.append(rest)
        batches: list[tuple[float, list[str]]] = []
        start = self._line_start
        position = 0
        while position < len(head):
            # The lines up to the end of the batch that holds the next line share its
            # time (each batch ends with a line end).
            batch_end, logged = self._batch_of(start + position + 1)
            stop = len(head) if batch_end is None else min(batch_end - start, len(head))
            text = head[position:stop].decode("utf-8", errors="replace")
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            batches.append((logged, text.split("\n")[:-1]))
            position = stop
        self._line_start = start + len(head)
        return batches

    def rest(self) -> list[LogEvent]:
        if not self._pending:
            return []
        raw = b"".join(self._pending)
        self._pending.clear()
        return [_event(raw, self._batch_of(self._offset)[1])]

    def _record_was_replaced(self) -> bool:
        try:
            stat = os.stat(self._record)
        except OSError:
            identity = None
        else:
            identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        replaced = identity is None or identity != self._record_identity
        self._record_identity = identity
        return replaced

    def _batch_of(self, offset: int) -> tuple[int | None, float]:
        """The end and time of the batch holding the byte before ``offset``; no end
        (and now) when its time was not recorded (yet, or by an older version)."""
        for _ in range(2):
            while self._time_index < len(self._times):
                batch_end, logged = self._times[self._time_index]
                if batch_end >= offset:
                    return batch_end, logged
                self._time_index += 1
            self._load_times()
        return None, time.time()

    def _load_times(self) -> None:
        data = _read_from(self._times_path, self._times_offset)
        self._times_offset += len(data)
        data = self._times_partial + data
        *lines, self._times_partial = data.split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError):
                offset, logged = line.split()
                self._times.append((int(offset), float(logged)))


def _event(raw: bytes, logged: float) -> LogEvent:
    message = raw.decode("utf-8", errors="replace").removesuffix("\r")
    return LogEvent(timestamp=logged, message=message, instance=INSTANCE)


def _read_from(path: Path, offset: int) -> bytes:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    with os.fdopen(descriptor, "rb") as file:
        file.seek(offset)
        return file.read(_READ_SIZE)
