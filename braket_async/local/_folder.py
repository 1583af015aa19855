"""A local job's folder: what is in it, who may write what, and its record.

``<root>/<job_name>/`` holds what the job saved (``results.json`` and the rest of its
results folder, ``checkpoints/``) next to the library's own files: ``metadata.json`` (the
GetJob-shaped record), ``log.txt`` and the private folder ``.braket_async/`` (the job's
description for its supervisor, the lock its owner holds, the supervisor's own log).
Nothing the job writes may replace one of the library's files.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Any, TypeGuard

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
    "died_with_its_owner",
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
    "read_metadata",
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


def metadata_from_json(text: str) -> dict[str, Any]:
    """Parse metadata written by :func:`metadata_to_json`; dates become datetimes.

    Raises:
        ValueError: ``text`` is not a JSON object of that shape.
    """
    metadata = json.loads(text)
    if not isinstance(metadata, dict) or not isinstance(metadata.get("status"), str):
        raise ValueError("not a job record: no status")
    for key in _DATE_KEYS:
        if isinstance(metadata.get(key), str):
            metadata[key] = datetime.datetime.fromisoformat(metadata[key])
    for event in metadata.get("events", ()):
        if isinstance(event, dict) and isinstance(event.get("timeOfEvent"), str):
            event["timeOfEvent"] = datetime.datetime.fromisoformat(event["timeOfEvent"])
    return metadata


def read_metadata(folder: Path) -> dict[str, Any]:
    """The record in ``folder`` (blocking).

    Raises:
        JobNotFoundError: ``folder`` holds no readable job record.
    """
    path = folder / METADATA_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(descriptor, "rb") as file:
            data = file.read()
        return metadata_from_json(data.decode("utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise JobNotFoundError(f"{path} is not a readable job record ({exc})") from exc


def write_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata.json`` in ``folder`` (blocking; atomic)."""
    write_text(folder / METADATA_FILE, metadata_to_json(metadata))


def write_text(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``path`` whole or not at all: a reader never sees half a file (blocking).

    The partial file is replaced, never written through, so a link planted under its
    name leads nowhere.
    """
    partial = path.with_name(path.name + _PARTIAL_SUFFIX)
    with open_exclusive(partial, mode) as file:
        file.write(text.encode("utf-8"))
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def open_exclusive(path: Path, mode: int = 0o644) -> Any:
    """Open ``path`` for writing as a new file, removing whatever stands there first."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        shutil.rmtree(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    return os.fdopen(descriptor, "wb")


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


def process_start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), or ``None``.

    Recorded next to a pid so that a pid reused by another process is not mistaken for
    the job's.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def process_identity(pid: int) -> dict[str, Any]:
    """``{"pid": pid, "startTime": ...}`` for the record."""
    return {"pid": pid, "startTime": process_start_time(pid)}


def is_same_process(identity: object) -> TypeGuard[dict[str, Any]]:
    """Whether the process recorded as ``identity`` still runs (and is the same one)."""
    if not isinstance(identity, dict) or not isinstance(identity.get("pid"), int):
        return False
    start = process_start_time(identity["pid"])
    return start is not None and start == identity.get("startTime")
