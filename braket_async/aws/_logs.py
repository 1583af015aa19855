"""A remote job's log: its CloudWatch Logs streams, followed and merged.

Braket writes one stream per instance into the group ``/aws/braket/jobs``, named
``<job name>/<uuid from the ARN>/algo-<i>-<epoch>`` (jobs from before ARNs carried a
UUID: ``<job name>/algo-<i>-<epoch>``). :func:`follow_logs` reads every stream of a job
from its head with ``GetLogEvents`` tokens, so no event is read twice or skipped, and
merges what each cycle read by timestamp. Unlike the official SDK it reads a finished
job at once, refreshes the stream list every cycle (instances may start late), reads
every stream once more after the job ended (lines flushed at the end are not lost), and
outlasts throttling instead of aborting.

:class:`RemoteLogStream` is what ``AwsQuantumJob.logs()`` returns: ``await`` prints,
``async for`` yields :class:`LogEvent` objects.
"""

from __future__ import annotations

import heapq
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs

from .._braket import LOG_GROUP
from .._logs import LogEvent, LogStream
from ..errors import ServiceError
from ._session import AwsSession

__all__ = ["LOG_GROUP", "LogEvent", "RemoteLogStream", "follow_logs", "log_stream_prefix"]

#: The log group of every Braket job.

# The official SDK's colours (blue, magenta, green, cyan, yellow), one per instance.
_INSTANCE = re.compile(r"^(algo-\d+)")
_INSTANCE_NUMBER = re.compile(r"^algo-(\d+)$")


def log_stream_prefix(job_name: str, job_arn: str) -> str:
    """The prefix of the names of a job's log streams, ending with ``/`` or ``algo-``.

    Jobs whose ARN ends with their name are from before ARNs carried a UUID; their
    streams are ``<name>/algo-...``. Deciding by the ARN, as the official SDK does,
    rather than trying the old prefix when the new one finds nothing: job names may be
    reused, and the old prefix would then show another job's log.
    """
    last = job_arn.rsplit("/", 1)[-1]
    if last == job_name:
        return f"{job_name}/algo-"
    return f"{job_name}/{last}/"


def _instance_of(stream_name: str) -> str:
    last = stream_name.rsplit("/", 1)[-1]
    match = _INSTANCE.match(last)
    return match.group(1) if match else last


class _StreamCursor:
    """Where reading one stream stopped: the forward token of the last page."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.instance = _instance_of(name)
        self.token: str | None = None


class _JobLogReader:
    """Reads all new events of a job's streams, one cycle at a time."""

    def __init__(self, session: AwsSession, prefix: str) -> None:
        self._session = session
        self._prefix = prefix
        self._cursors: dict[str, _StreamCursor] = {}
        # Waits on logs must never fail because of throttling: retry without limit,
        # with the session's backoff.
        self._retry = attrs.evolve(session.retry, max_attempts=None)

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self._session.call("logs", operation, retry=self._retry, **params)

    async def _refresh_streams(self) -> None:
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "logGroupName": LOG_GROUP,
                "logStreamNamePrefix": self._prefix,
            }
            if token:
                params["nextToken"] = token
            try:
                page = await self._call("describe_log_streams", **params)
            except ServiceError as exc:
                if exc.code == "ResourceNotFoundException":
                    return  # no job of the account has logged yet: no group
                raise
            for stream in page.get("logStreams", ()):
                name = str(stream["logStreamName"])
                if name not in self._cursors:
                    self._cursors[name] = _StreamCursor(name)
            next_token = page.get("nextToken")
            if not next_token or next_token == token:
                return
            token = next_token

    async def _read_stream(self, cursor: _StreamCursor) -> list[LogEvent]:
        events: list[LogEvent] = []
        while True:
            params: dict[str, Any] = {
                "logGroupName": LOG_GROUP,
                "logStreamName": cursor.name,
                "startFromHead": True,
            }
            if cursor.token is not None:
                params["nextToken"] = cursor.token
            try:
                page = await self._call("get_log_events", **params)
            except ServiceError as exc:
                if exc.code == "ResourceNotFoundException":
                    return events  # the stream was deleted; keep what was read
                raise
            events.extend(
                LogEvent(
                    timestamp=int(event["timestamp"]) / 1000,
                    message=str(event["message"]).rstrip("\r\n"),
                    instance=cursor.instance,
                )
                for event in page.get("events", ())
            )
            # A page may be empty before the end (pages cover time ranges); the end is
            # where the service hands back the token it was given.
            token = page.get("nextForwardToken")
            if token is None or token == cursor.token:
                return events
            cursor.token = str(token)

    async def read(self) -> list[LogEvent]:
        """Every event written since the last read, of every stream, by timestamp."""
        await self._refresh_streams()
        batches = [
            await self._read_stream(self._cursors[name])
            for name in sorted(self._cursors, key=_stream_order)
        ]
        # Each stream is in order already; heapq.merge keeps ties in stream order.
        return list(heapq.merge(*batches, key=lambda event: event.timestamp))


def _stream_order(name: str) -> tuple[int, str]:
    match = _INSTANCE_NUMBER.match(_instance_of(name))
    return (int(match.group(1)) if match else sys.maxsize, name)


async def follow_logs(
    session: AwsSession,
    *,
    job_name: str,
    job_arn: str,
    wait: bool,
    poll_interval_seconds: float,
    is_terminal: Callable[[], Awaitable[bool]],
) -> AsyncIterator[LogEvent]:
    """Yield a job's log events, across all its instances' streams.

    The first read happens at once. With ``wait``, the streams are read again every
    ``poll_interval_seconds`` (through ``session.clock``) until ``is_terminal()`` says
    the job has ended; then every stream is read once more, to the end, so lines
    flushed as the job ended are not lost. Without ``wait``, one read.

    Each read yields what it found in timestamp order (a merge of the streams); every
    event is yielded once. Throttling and transient errors are retried without end.

    Args:
        session: The session to call CloudWatch Logs with.
        job_name: The job's name.
        job_arn: The job's ARN (its last part names the streams).
        wait: Whether to follow the job until it ends.
        poll_interval_seconds: The pause between reads while the job runs.
        is_terminal: Tells whether the job is in a terminal state.

    Raises:
        ServiceError: CloudWatch Logs refused a call for a reason other than throttling
            or a transient failure (e.g. access denied).
    """
    reader = _JobLogReader(session, log_stream_prefix(job_name, job_arn))
    while True:
        # Ask before reading: a read that starts after the job was seen to end reads
        # every line the job wrote, so it is the last.
        ended = not wait or await is_terminal()
        for event in await reader.read():
            yield event
        if ended:
            return
        await session.clock.sleep(poll_interval_seconds)


# One stream type for every handle's log; the remote name stays for its users.
RemoteLogStream = LogStream
