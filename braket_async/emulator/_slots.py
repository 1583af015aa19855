"""A bound on running jobs that can be changed while jobs wait for it."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator

__all__ = ["JobSlots"]


class JobSlots:
    """At most :attr:`limit` holders at once (``None``: any number), first come first
    served.

    Unlike a semaphore's, the limit can change at any time: raising it lets waiting jobs
    start at once; lowering it stops none that hold a slot, and later ones wait until
    the number of holders is below the new limit.
    """

    def __init__(self, limit: int | None = None) -> None:
        _check(limit)
        self._limit = limit
        self._held = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def limit(self) -> int | None:
        """How many may hold a slot at once; ``None`` for no bound."""
        return self._limit

    @property
    def held(self) -> int:
        """How many hold a slot now."""
        return self._held

    @property
    def waiting(self) -> int:
        """How many wait for a slot now."""
        return sum(1 for granted in self._waiters if not granted.done())

    def set_limit(self, limit: int | None) -> None:
        """Change the bound; waiters that now fit get their slot at once."""
        _check(limit)
        self._limit = limit
        self._grant()

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold a slot for the block; waits while every slot is taken."""
        if self._waiters or not self._free():
            granted = asyncio.get_running_loop().create_future()
            self._waiters.append(granted)
            try:
                await granted
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():
                    # Granted just as the wait was cancelled: pass the slot on.
                    self._release()
                raise
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(granted)
        else:
            self._held += 1
        try:
            yield
        finally:
            self._release()

    def _free(self) -> bool:
        return self._limit is None or self._held < self._limit

    def _release(self) -> None:
        self._held -= 1
        self._grant()

    def _grant(self) -> None:
        while self._waiters and self._free():
            granted = self._waiters.popleft()
            if not granted.done():
                self._held += 1
                granted.set_result(None)


def _check(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise ValueError(f"max_concurrent_jobs must be at least 1, got {limit}")
