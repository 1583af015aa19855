"""A local job's folder: what is in it, who may write what, and its record.

``<root>/<job_name>/`` holds what the job saved (``results.json`` and the rest of its
results folder, ``checkpoints/``) next to the library's own files: ``metadata.json`` (the
GetJob-shaped record), ``log.txt`` and the private folder ``.braket_async/`` (the job's
description for its supervisor, the lock its owner holds, the supervisor's own log).
Nothing the job writes may replace one of the library's files.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Any, TypeGuard

from .._states import JobState
from ..errors import JobNotFoundError
from ..runtimes._base import CHECKPOINTS_FOLDER, MODEL_FOLDER

__all__ = [
    "ARN_PREFIX",
    "LOG_FILE",
    "LOG_TIMES_FILE",
    "METADATA_FILE",
    "OWNER_EXITED",
    "PRIVATE_FOLDER",
    "RESERVED_NAMES",
    "SUPERVISOR_EXITED",
    "JobRecordError",
    "died_with_its_owner",
    "end_record",
    "failed_write",
    "hold_lock",
    "is_owned",
    "is_same_process",
    "job_folder",
    "merge_outputs",
    "metadata_from_json",
    "metadata_to_json",
    "private_folder",
    "process_identity",
    "process_start_time",
    "process_stat",
    "processes",
    "read_metadata",
    "reserve_room",
    "write_all",
    "write_final_metadata",
    "write_metadata",
    "write_text",
]

#: How the failure reasons of jobs that ended because the process running them died
#: begin: their creator (before or without a supervisor), or their supervisor.
OWNER_EXITED = "The program that created this job"
SUPERVISOR_EXITED = "The supervisor of this job"


def died_with_its_owner(reason: object) -> bool:
    """Whether a job that FAILED with ``reason`` ended because its owner died (not
    because of anything the job did)."""
    return isinstance(reason, str) and reason.startswith((OWNER_EXITED, SUPERVISOR_EXITED))


#: Local jobs' ARNs are this prefix and the job's name.
ARN_PREFIX = "local:job/"


def job_folder(root: str | os.PathLike[str] | None, name: str) -> Path:
    """The folder of the local job ``name`` under ``root`` (default: the current folder)."""
    return Path(root if root is not None else os.getcwd()).resolve() / name


METADATA_FILE = "metadata.json"
LOG_FILE = "log.txt"
#: In the private folder: when each batch of lines reached ``log.txt``.
LOG_TIMES_FILE = "log-times"
PRIVATE_FOLDER = ".braket_async"
_PARTIAL_SUFFIX = ".partial"
#: Names in the job's folder that belong to the library; outputs may not take them.
RESERVED_NAMES = frozenset({METADATA_FILE, LOG_FILE, PRIVATE_FOLDER, CHECKPOINTS_FOLDER})
_DATE_KEYS = ("createdAt", "startedAt", "endedAt")


def metadata_to_json(metadata: dict[str, Any]) -> str:
    """Serialize metadata, dates as ISO 8601 strings."""

    def default(value: object) -> str:
        if isinstance(value, datetime.datetime):
            return value.isoformat()
        raise TypeError(f"cannot serialize {type(value).__name__}")

    # Compact: json's C encoder does not indent, and a job writes its record often.
    return json.dumps(metadata, separators=(",", ":"), default=default)


class JobRecordError(JobNotFoundError):
    """A job's record (``metadata.json``) exists but cannot be read: not JSON, not a
    record's shape (an unknown status, missing fields), or not a readable file.

    Attributes:
        path: The record's path.
        problem: What is wrong with it.
    """

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path} is not a readable job record: {problem}")

    def __reduce__(self) -> tuple[type[JobRecordError], tuple[Path, str]]:
        return (type(self), (self.path, self.problem))


def metadata_from_json(text: str) -> dict[str, Any]:
    """Parse metadata written by :func:`metadata_to_json`; dates become datetimes.

    Raises:
        ValueError: ``text`` is not a JSON object of that shape (the message says what
            is wrong).
    """
    metadata = json.loads(text)
    if not isinstance(metadata, dict):
        raise ValueError(f"not a JSON object but {type(metadata).__name__}")
    status = metadata.get("status")
    if status not in _STATES:
        shown = "no status" if status is None else f"the unknown status {status!r}"
        raise ValueError(f"{shown} (expected one of {', '.join(_STATES)})")
    for key in ("jobName", "jobArn"):
        if not isinstance(metadata.get(key), str):
            raise ValueError(f"no {key}")
    events = metadata.get("events")
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise ValueError("no list of events")
    for key in _DATE_KEYS:
        if isinstance(metadata.get(key), str):
            metadata[key] = _date(metadata[key], key)
    for event in events:
        if isinstance(event.get("timeOfEvent"), str):
            event["timeOfEvent"] = _date(event["timeOfEvent"], "timeOfEvent")
    return metadata


_STATES = tuple(state.value for state in JobState)


def _date(text: str, key: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{key} {text!r} is not an ISO 8601 time") from None


def read_metadata(folder: Path) -> dict[str, Any]:
    """The record in ``folder`` (blocking).

    Raises:
        FileNotFoundError: ``folder`` holds no record (or is gone).
        JobRecordError: The record cannot be read; the message names it and says why.
    """
    path = folder / METADATA_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(descriptor, "rb") as file:
            data = file.read()
        return metadata_from_json(data.decode("utf-8"))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise JobRecordError(path, exc.strerror or str(exc)) from exc
    except ValueError as exc:  # JSON, UTF-8 and shape errors alike
        raise JobRecordError(path, str(exc)) from exc


def end_record(metadata: dict[str, Any], state: JobState, reason: str | None = None) -> None:
    """Make ``metadata`` (not final yet) end in ``state``, with ``reason`` unless it
    COMPLETED: status, end time, failure reason and the final event."""
    ended = datetime.datetime.now(datetime.timezone.utc)
    metadata.update({"status": state.value, "endedAt": ended})
    if state is not JobState.COMPLETED and reason is not None:
        metadata["failureReason"] = reason
    metadata["events"].append({"eventType": state.value, "timeOfEvent": ended})


def write_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata.json`` in ``folder`` (blocking; atomic).

    Raises:
        OSError: It could not be written (its ``filename`` is the record's path); the
            record is as it was, and no partial file is left.
    """
    write_text(folder / METADATA_FILE, metadata_to_json(metadata))


def write_final_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    """Write a job's final record into the room reserved for it (blocking; atomic).

    The reserve made by :func:`reserve_room` is released first: on a full disk the
    final record still fits, and once the job has ended the room is not needed.
    """
    release_reserve(folder)
    write_metadata(folder, metadata)


def write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``path`` whole or not at all: a reader never sees half a file (blocking).

    The partial file is replaced, never written through, so a link planted under its
    name leads nowhere; it is removed again when the write fails.

    Raises:
        OSError: The write failed (a full disk, a removed folder); its ``filename`` is
            ``path``.
    """
    partial = path.with_name(path.name + _PARTIAL_SUFFIX)
    try:
        descriptor = _open_exclusive(partial, mode)
        try:
            write_all(descriptor, text.encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(partial, path)
    except OSError as exc:
        _remove_quietly(partial)
        raise _naming(exc, path) from None
    except BaseException:
        _remove_quietly(partial)
        raise


def write_all(descriptor: int, data: bytes) -> None:
    """Write all of ``data`` to ``descriptor`` (blocking)."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _open_exclusive(path: Path, mode: int) -> int:
    """Open ``path`` for writing as a new file, removing whatever stands there first."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path``, the file a caller asked for (a failed write names none,
    a failed open of the partial file names that)."""
    renamed = type(exc)(exc.errno, exc.strerror or str(exc), str(path))
    renamed.__cause__ = exc.__cause__
    return renamed


def failed_write(exc: OSError, path: Path | str | None = None) -> str:
    """A failure reason for a write that failed: what went wrong and where (``path``,
    else the error's file name), e.g. ``No space left on device writing
    /jobs/a/log.txt``."""
    where = path if path is not None else exc.filename
    what = exc.strerror or str(exc) or type(exc).__name__
    return f"{what} writing {where}" if where is not None else f"{what} (a write failed)"


# --- room for the final record ------------------------------------------------------------
#
# A job that fills its disk must still be able to record how it ended. When it is
# created, ``.braket_async/reserve`` takes the room its final record needs (allocated,
# not sparse); whoever writes that record removes the reserve just before.

RESERVE_FILE = "reserve"
#: Room for what a record gains by its end (events, failure reason, process fields).
_RESERVE_MARGIN = 32 << 10
_BLOCK = 4096


def reserve_room(folder: Path, record: str) -> None:
    """Reserve the room of the final record of a job whose first record is ``record``.

    Raises:
        OSError: There is not even that much room (its ``filename`` is the reserve).
    """
    path = private_folder(folder) / RESERVE_FILE
    size = -(-(2 * len(record.encode()) + _RESERVE_MARGIN) // _BLOCK) * _BLOCK
    descriptor = os.open(
        path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )
    try:
        try:
            os.posix_fallocate(descriptor, 0, size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            # A file system without fallocate: real blocks of zeros take the room.
            write_all(descriptor, bytes(size))
    except OSError as exc:
        os.close(descriptor)
        _remove_quietly(path)
        raise _naming(exc, path) from None
    os.close(descriptor)


def release_reserve(folder: Path) -> None:
    """Free the room :func:`reserve_room` took (nothing if there is none)."""
    _remove_quietly(private_folder(folder) / RESERVE_FILE)


def merge_outputs(collected: Path, folder: Path) -> list[str]:
    """Move what a job's execution collected (``model/``, ``checkpoints/``) into ``folder``.

    Blocking. The results land at the top of the job's folder, the checkpoints in
    ``checkpoints/``; an output that would take one of the library's names is left out.
    Returns one line per output left out, saying why; ``collected`` is removed.
    """
    refused: list[str] = []
    try:
        model = collected / MODEL_FOLDER
        if model.is_dir():
            for entry in sorted(model.iterdir()):
                name = f"{MODEL_FOLDER}/{entry.name}"
                if entry.name in RESERVED_NAMES or entry.name.endswith(_PARTIAL_SUFFIX):
                    refused.append(f"{name}: the name is one of the library's own files")
                    continue
                _replace(entry, folder / entry.name)
        checkpoints = collected / CHECKPOINTS_FOLDER
        if checkpoints.is_dir():
            _replace(checkpoints, folder / CHECKPOINTS_FOLDER)
    finally:
        shutil.rmtree(collected, ignore_errors=True)
    return refused


def _replace(source: Path, target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    os.replace(source, target)


# --- who runs the job ----------------------------------------------------------------------
#
# The process that runs a job (its supervisor; before that, the program that created it)
# holds an exclusive flock on ``.braket_async/lock`` for as long as it lives. The kernel
# drops the lock when that process dies in any way, so any process tells a live job
# from a dead one by trying the lock, without trusting pids that may have been reused.

LOCK_FILE = "lock"


def private_folder(folder: Path) -> Path:
    """The library's private folder inside the job's folder."""
    return folder / PRIVATE_FOLDER


def hold_lock(folder: Path) -> int:
    """Take the job's lock for this process and return its descriptor (blocking).

    The descriptor is inheritable only when passed on explicitly (``pass_fds``); whoever
    holds a copy holds the lock.

    Raises:
        BlockingIOError: Another process holds it.
    """
    path = private_folder(folder) / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def is_owned(folder: Path) -> bool:
    """Whether a live process holds the job's lock (blocking, never waits)."""
    path = private_folder(folder) / LOCK_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def process_stat(pid: int) -> list[bytes]:
    """The fields of ``/proc/<pid>/stat`` after the command name (Linux): state, parent,
    process group, ...; empty when the process is gone or unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:
        return []
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return stat[stat.rfind(b")") + 2 :].split()


def process_start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), or ``None``.

    Recorded next to a pid so that a pid reused by another process is not mistaken for
    the job's.
    """
    fields = process_stat(pid)
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def processes(field: int, value: int) -> list[int]:
    """The processes whose stat field ``field`` (see :func:`process_stat`: 1 the parent,
    2 the process group) is ``value``, found by looking at every process."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    wanted = str(value).encode()
    return [
        int(name)
        for name in names
        if name.isdigit() and process_stat(int(name))[field : field + 1] == [wanted]
    ]


def process_identity(pid: int) -> dict[str, Any]:
    """``{"pid": pid, "startTime": ...}`` for the record."""
    return {"pid": pid, "startTime": process_start_time(pid)}


def is_same_process(identity: object) -> TypeGuard[dict[str, Any]]:
    """Whether the process recorded as ``identity`` still runs (and is the same one)."""
    if not isinstance(identity, dict) or not isinstance(identity.get("pid"), int):
        return False
    start = process_start_time(identity["pid"])
    return start is not None and start == identity.get("startTime")
