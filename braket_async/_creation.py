"""What ``create()`` returns: a coroutine that is also an async context manager."""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["JobCreation"]


class _Closable(Protocol):
    async def aclose(self) -> None: ...


JobT = TypeVar("JobT", bound=_Closable)


class JobCreation(Coroutine[Any, Any, JobT], Generic[JobT]):
    """What ``create()`` returns: ``await`` it, or use it with ``async with``.

    Leaving the ``async with`` block calls the job's ``aclose()``: a local job is
    cancelled if it still runs; a remote job keeps running and only its own session is
    closed. It is a coroutine, so ``asyncio.create_task`` and ``asyncio.gather`` take it.
    """

    def __init__(self, creating: Coroutine[Any, Any, JobT]) -> None:
        self._creating = creating
        self._job: JobT | None = None

    def send(self, value: Any) -> Any:
        """Part of the coroutine protocol."""
        return self._creating.send(value)

    def throw(self, *args: Any) -> Any:
        """Part of the coroutine protocol."""
        return self._creating.throw(*args)

    def close(self) -> None:
        """Part of the coroutine protocol."""
        self._creating.close()

    def __await__(self) -> Generator[Any, None, JobT]:
        return self._creating.__await__()

    async def __aenter__(self) -> JobT:
        self._job = await self._creating
        return self._job

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._job is not None:
            await self._job.aclose()
