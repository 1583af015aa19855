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
import os
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from .._states import JobState
from ._folder import (
    LOG_FILE,
    is_owned,
    is_same_process,
    private_folder,
    read_metadata,
    write_metadata,
)
from ._run import now

__all__ = ["current_record", "follow_log", "is_job_folder"]

#: How long a follower in another process waits between looks at a job's files.
POLL_SECONDS = 0.2
_READ_SIZE = 1 << 22
_OFFICIAL_SDK_FILES = ("log.txt", "results.json")


def is_job_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a local job (ours, or the official SDK's outputs)."""
    if (folder / "metadata.json").is_file() or private_folder(folder).is_dir():
        return True
    return any((folder / name).is_file() for name in _OFFICIAL_SDK_FILES)


def current_record(folder: Path) -> dict[str, Any]:
    """The job's record, final if its owner died meanwhile (blocking).

    Raises:
        JobNotFoundError: The record is missing or unreadable.
    """
    metadata = _read(folder)
    if JobState(metadata["status"]).is_terminal or is_owned(folder):
        return metadata
    return _finish_orphan(folder)


def _read(folder: Path) -> dict[str, Any]:
    try:
        return read_metadata(folder)
    except FileNotFoundError:
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
        descriptor = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
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
                f"The supervisor of this job (pid {supervisor.get('pid')}) exited "
                "before the job ended"
            )
        else:
            reason = "The program that created this job exited before the job started"
        ended = now()
        metadata.update({"status": JobState.FAILED.value, "endedAt": ended})
        metadata["failureReason"] = reason
        metadata["events"].append({"eventType": JobState.FAILED.value, "timeOfEvent": ended})
        write_metadata(folder, copy.deepcopy(metadata))
        return metadata
    finally:
        os.close(descriptor)


def _end_leftovers(metadata: dict[str, Any]) -> None:
    job_process = metadata.get("jobProcess")
    if is_same_process(job_process):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job_process["pid"], signal.SIGKILL)
    workspace = metadata.get("workspace")
    if isinstance(workspace, str) and Path(workspace).name.startswith("braket-async-"):
        shutil.rmtree(workspace, ignore_errors=True)


async def follow_log(
    folder: Path,
    *,
    wait: bool,
    changed: Callable[[], Awaitable[None]],
) -> AsyncIterator[list[str]]:
    """Yield batches of the lines of ``log.txt``, from the first.

    With ``wait``, follow the file until the job's record is final and every line is
    read; ``changed`` is awaited between looks. Linear in the log's size: a long line
    is gathered in pieces and joined once.
    """
    path = folder / LOG_FILE
    offset = 0
    pending: list[bytes] = []
    while True:
        data = await asyncio.to_thread(_read_from, path, offset)
        if data:
            offset += len(data)
            lines = _complete_lines(data, pending)
            if lines:
                yield lines
            continue
        if not wait:
            break
        record = await asyncio.to_thread(current_record, folder)
        if JobState(record["status"]).is_terminal:
            # Lines come before the final record: one more read gets the rest.
            data = await asyncio.to_thread(_read_from, path, offset)
            if data:
                offset += len(data)
                lines = _complete_lines(data, pending)
                if lines:
                    yield lines
                continue
            break
        await changed()
    if pending:
        yield [b"".join(pending).decode("utf-8", errors="replace").removesuffix("\r")]


def _complete_lines(data: bytes, pending: list[bytes]) -> list[str]:
    end = data.rfind(b"\n")
    if end < 0:
        pending.append(data)
        return []
    head, rest = data[: end + 1], data[end + 1 :]
    if pending:
        pending.append(head)
        head = b"".join(pending)
        pending.clear()
    if rest:
        pending.append(rest)
    return [
        line.decode("utf-8", errors="replace").removesuffix("\r") for line in head[:-1].split(b"\n")
    ]


def _read_from(path: Path, offset: int) -> bytes:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    with os.fdopen(descriptor, "rb") as file:
        file.seek(offset)
        return file.read(_READ_SIZE)
