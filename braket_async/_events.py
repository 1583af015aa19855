"""State changes of jobs, as events that any number of readers receive."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import anyio
import attrs
from anyio.streams.memory import MemoryObjectSendStream

from ._quantum_job import QuantumJob
from ._states import JobState

__all__ = ["EventHub", "JobEvent"]


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


class EventHub:
    """Hands every published event to every reader that subscribed before it.

    Readers never slow the publisher down (their buffers are unbounded: a group's events
    are few, a handful per job).
    """

    def __init__(self) -> None:
        self._readers: list[MemoryObjectSendStream[JobEvent]] = []
        self._closed = False

    def publish(self, event: JobEvent) -> None:
        """Give ``event`` to every reader."""
        for reader in list(self._readers):
            try:
                reader.send_nowait(event)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._readers.remove(reader)

    def subscribe(self) -> AsyncIterator[JobEvent]:
        """The events published from now on, until :meth:`close`."""
        send, receive = anyio.create_memory_object_stream[JobEvent](math.inf)
        if self._closed:
            send.close()
        else:
            self._readers.append(send)

        async def events() -> AsyncIterator[JobEvent]:
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
