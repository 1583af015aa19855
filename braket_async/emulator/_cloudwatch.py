"""Streaming a job's lines into a CloudWatch Logs stream, in batches."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import botocore.exceptions  # type: ignore[import-untyped]

from .._braket import LOG_GROUP
from .._shield import finish

__all__ = ["LOG_GROUP", "LogStreamWriter", "ensure_log_group"]

#: The log group of every Braket job.
_LOGGER = logging.getLogger(__name__)
# PutLogEvents takes at most 10,000 events and about 1 MB (with 26 bytes per event).
_MAX_EVENTS = 10_000
_MAX_BYTES = 1_000_000
_EVENT_OVERHEAD = 26
_MAX_MESSAGE = 256_000


async def ensure_log_group(logs: Any, group: str = LOG_GROUP) -> None:
    """Create the log group unless it exists."""
    try:
        await logs.create_log_group(logGroupName=group)
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise


class LogStreamWriter:
    """One log stream: lines are queued at once and sent by a background task.

    The task sends what has queued up after at most ``batch_seconds``, so a job printing
    many lines makes few calls, and a quiet job's line still shows up promptly.

    Args:
        logs: An aiobotocore CloudWatch Logs client.
        stream: The stream's name.
        group: The log group (created beforehand).
        batch_seconds: How long lines may wait to be sent together.
    """

    def __init__(
        self, logs: Any, stream: str, *, group: str = LOG_GROUP, batch_seconds: float = 0.1
    ) -> None:
        self.stream = stream
        self.group = group
        self._logs = logs
        self._batch_seconds = batch_seconds
        self._pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Create the stream and start the sender."""
        await self._logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        self._task = asyncio.create_task(self._send_loop(), name=f"log stream {self.stream}")

    def write(self, line: str) -> None:
        """Queue one line, stamped now. Empty lines are dropped: CloudWatch refuses them."""
        if not line:
            return
        self._pending.append({"timestamp": int(time.time() * 1000), "message": line[:_MAX_MESSAGE]})
        self._wake.set()

    async def _send_loop(self) -> None:
        while not self._closing:
            await self._wake.wait()
            if not self._closing:
                await asyncio.sleep(self._batch_seconds)  # gather a batch
            self._wake.clear()
            await self._send_pending()

    async def _send_pending(self) -> None:
        while self._pending:
            batch: list[dict[str, Any]] = []
            size = 0
            for event in self._pending:
                cost = len(event["message"].encode()) + _EVENT_OVERHEAD
                if batch and (len(batch) >= _MAX_EVENTS or size + cost > _MAX_BYTES):
                    break
                batch.append(event)
                size += cost
            del self._pending[: len(batch)]
            try:
                await self._logs.put_log_events(
                    logGroupName=self.group, logStreamName=self.stream, logEvents=batch
                )
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                # The job must not fail because its log could not be written.
                _LOGGER.warning("lost %d log lines of %s", len(batch), self.stream, exc_info=True)

    async def aclose(self) -> None:
        """Send every queued line and stop. Idempotent."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await finish(self._task)
        await finish(self._send_pending())
