"""Waiting on existing job handles together: ``gather()`` and ``as_completed()``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

from ._group import JobGroup, OnError
from ._quantum_job import DEFAULT_RESULTS_POLL_INTERVAL, QuantumJob

__all__ = ["as_completed", "gather"]


async def gather(
    *jobs: QuantumJob,
    on_error: OnError = "collect",
    allow_pickle: bool = False,
    poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL,
) -> list[dict[str, Any] | BaseException]:
    """Wait for existing jobs together; their results in the order given.

    With ``on_error="collect"`` a job that did not complete gives its ``JobFailedError``
    in its place; with ``"raise"`` the first failure is raised (the others run on).
    """
    async with JobGroup(on_error=on_error, poll_interval_seconds=poll_interval_seconds) as group:
        for job in jobs:
            group.add(job)
        return await group.results(allow_pickle=allow_pickle)


async def as_completed(
    jobs: Iterable[QuantumJob], *, poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL
) -> AsyncIterator[QuantumJob]:
    """Existing jobs, as they end. Leaving the iteration early stops the waits (never
    the jobs)."""
    waits = {
        asyncio.ensure_future(job.wait(poll_interval_seconds=poll_interval_seconds)): job
        for job in jobs
    }
    try:
        while waits:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for wait in done:
                job = waits.pop(wait)
                wait.result()
                yield job
    finally:
        for wait in waits:
            wait.cancel()
        if waits:
            await asyncio.wait(waits)
