"""What every command shares: exit codes, one-line errors, JSON output, finding a job."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._quantum_job import QuantumJob
    from .._states import JobState
    from ..aws import AwsSession

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "CliError",
    "exit_code_of",
    "key_values",
    "open_job",
    "print_json",
    "read_json",
    "remote_session",
    "say",
    "uncancel",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_FAILED = 3
EXIT_CANCELLED = 4
EXIT_INTERRUPTED = 130

_REMOTE_ARN_PREFIX = "arn:aws:braket:"
_LOCAL_ARN_PREFIX = "local:job/"


class CliError(Exception):
    """A failure the command reports as one line on stderr, with exit code 1."""


def say(message: str) -> None:
    """A line for the person at the terminal (stderr: stdout is the command's output)."""
    print(f"braket-async: {message}", file=sys.stderr, flush=True)


def print_json(value: object) -> None:
    """``value`` as indented JSON on stdout (times as ISO 8601)."""
    print(json.dumps(value, indent=2, default=_json_default, sort_keys=False), flush=True)


def _json_default(value: object) -> object:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if hasattr(value, "value"):  # enums: JobState and the like
        return value.value
    return str(value)


def uncancel() -> None:
    """Take back the cancellation of the current task (Ctrl-C), so a command can clean up
    after it with waits that are not cancelled at once (asyncio counts cancellations)."""
    task = asyncio.current_task()
    if task is not None and hasattr(task, "uncancel"):
        task.uncancel()


def exit_code_of(state: JobState) -> int:
    """The exit code that follows a job's final state."""
    return {"COMPLETED": EXIT_OK, "CANCELLED": EXIT_CANCELLED}.get(state.value, EXIT_FAILED)


def key_values(pairs: Iterable[str], what: str) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``; a pair without ``=`` is an error."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise CliError(f"{what} {pair!r} is not KEY=VALUE")
        values[key] = value
    return values


def read_json(path: str, flag: str) -> Any:
    """The JSON document in the file ``flag`` names; a one-line error if it is not."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"{flag} {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"{flag} {path}: not JSON ({exc})") from exc


def is_remote_arn(reference: str) -> bool:
    """Whether ``reference`` names a job on Amazon Braket."""
    return reference.startswith(_REMOTE_ARN_PREFIX)


@contextlib.asynccontextmanager
async def remote_session(region: str | None) -> AsyncIterator[AwsSession]:
    """An :class:`AwsSession` of the usual AWS configuration, closed on exit."""
    from ..aws import AwsSession

    async with AwsSession(region=region) as session:
        yield session


@contextlib.asynccontextmanager
async def open_job(
    reference: str, *, root: str | os.PathLike[str], region: str | None
) -> AsyncIterator[QuantumJob]:
    """The job ``reference`` names: a remote ARN, ``local:job/<name>``, or a local name
    (a folder in ``root``)."""
    if is_remote_arn(reference):
        from ..aws import AwsQuantumJob

        async with remote_session(region or reference.split(":")[3] or None) as session:
            yield AwsQuantumJob(reference, aws_session=session)
        return
    from ..local import LocalQuantumJob

    arn = reference if reference.startswith(_LOCAL_ARN_PREFIX) else _LOCAL_ARN_PREFIX + reference
    job = LocalQuantumJob(arn, root=checked_root(root))
    try:
        yield job
    finally:
        await job.aclose()


def checked_root(root: str | os.PathLike[str]) -> Path:
    """``--root``, which must be a folder."""
    if not os.path.isdir(root):
        raise CliError(f"--root {os.fspath(root)!r} is not a folder")
    return Path(root)


def metadata_summary(metadata: Mapping[str, Any]) -> str:
    """``<name> <STATE>`` and, when there is one, the failure reason."""
    line = f"{metadata.get('jobName', '?')} {metadata.get('status', '?')}"
    reason = metadata.get("failureReason")
    return f"{line}: {reason}" if reason else line
