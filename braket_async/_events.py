"""What happens to a group's jobs, as events that any number of readers receive: state
changes, and calls about the jobs that failed and are tried again."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import TypeAlias

import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from ._quantum_job import QuantumJob
from ._states import JobState

__all__ = ["EventHub", "GroupEvent", "JobEvent", "RetryEvent"]


@attrs.frozen
class JobEvent:
    """A job changed state.

    Attributes:
        job: The job.
        old_state: Its state before, or ``None`` for the first state seen.
        new_state: Its state now.
        time: When the change was seen (seconds since the epoch).
    """

    job: QuantumJob
    old_state: JobState | None
    new_state: JobState
    time: float


@attrs.frozen
class RetryEvent:
    """A call about a job failed with a transient error (throttling, a 5xx answer, a
    connection that failed: the service may answer later), or got through again.

    Attributes:
        operation: What failed: ``"create"`` (the job's create), ``"watch"`` (a look
            at its state), ``"attach"`` (a resumed sweep's look at a job it made
            before), or the name given to :meth:`~braket_async.JobGroup.retry`.
        job: The job, or ``None`` while it is being created.
        job_name: The job's name, when known.
        error: The error of the last attempt; ``None`` when the call got through again
            after failing (the trouble is over).
        attempt: How many attempts in a row failed.
        since: When the first of them failed (seconds since the epoch).
        retry_at: When the next attempt is made. ``None`` with an error: there is none,
            because the attempts failed for longer than the group's
            ``unreachable_timeout``; the error is the job's (or the point's) outcome.
        time: When the event happened.
    """

    operation: str
    job: QuantumJob | None
    job_name: str | None
    error: BaseException | None
    attempt: int
    since: float
    retry_at: float | None
    time: float

    @property
    def gave_up(self) -> bool:
        """Whether the call is not tried again: its error is final."""
        return self.error is not None and self.retry_at is None


#: Every event a group's :meth:`~braket_async.JobGroup.events` gives.
GroupEvent: TypeAlias = JobEvent | RetryEvent


class EventHub:
    """Hands every published event to every reader that subscribed before it.

    Readers never slow the publisher down (their buffers are unbounded: a group's events
    are few, a handful per job).
    """

    def __init__(self) -> None:
        self._readers: list[MemoryObjectSendStream[GroupEvent]] = []
        self._closed = False

    def publish(self, event: GroupEvent) -> None:
        """Give ``event`` to every reader."""
        for reader in list(self._readers):
            try:
                reader.send_nowait(event)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._readers.remove(reader)

    def subscribe(self) -> AsyncIterator[GroupEvent]:
        """The events published from now on, until :meth:`close`."""
        send, receive = anyio.create_memory_object_stream[GroupEvent](math.inf)
        if self._closed:
            send.close()
        else:
            self._readers.append(send)

        async def events() -> AsyncIterator[GroupEvent]:
            with receive:
                async for event in receive:
                    yield event

        return events()

    def close(self) -> None:
        """End every reader's iteration (after the events it has not read yet)."""
        self._closed = True
        readers, self._readers = self._readers, []
        for reader in readers:
            reader.close()
