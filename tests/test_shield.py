"""``finish``: cleanup that completes through plain task cancellation."""

from __future__ import annotations

import asyncio

import pytest

from braket_async._shield import finish

pytestmark = pytest.mark.anyio


async def test_cleanup_completes_through_repeated_cancellation() -> None:
    steps: list[str] = []
    release = asyncio.Event()
    started = asyncio.Event()

    async def cleanup() -> None:
        steps.append("start")
        started.set()
        await release.wait()
        steps.append("done")

    async def owner() -> None:
        await finish(cleanup())
        steps.append("after")  # must not run: the owner was cancelled

    task = asyncio.create_task(owner())
    await started.wait()
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["start", "done"]


async def test_result_and_errors_pass_through() -> None:
    async def value() -> int:
        return 7

    async def broken() -> None:
        raise KeyError("x")

    assert await finish(value()) == 7
    with pytest.raises(KeyError):
        await finish(broken())
