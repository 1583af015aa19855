"""LogBuffer and LogStream: every follower sees every line once, in order."""

from __future__ import annotations

import asyncio
import io

import pytest

from braket_async._logs import LogBuffer, LogStream

pytestmark = pytest.mark.anyio


async def collect(buffer: LogBuffer, *, wait: bool = True) -> list[str]:
    async def get() -> LogBuffer:
        return buffer

    return [line async for line in LogStream(get, wait=wait)]


async def test_followers_started_before_during_and_after_see_everything() -> None:
    buffer = LogBuffer()
    early = asyncio.create_task(collect(buffer))
    await asyncio.sleep(0)
    buffer.extend(["a", "b"])
    during = asyncio.create_task(collect(buffer))
    await asyncio.sleep(0)
    buffer.extend(["c"])
    buffer.close()
    late = await collect(buffer)
    assert await early == await during == late == ["a", "b", "c"]


async def test_without_wait_stops_at_the_current_end() -> None:
    buffer = LogBuffer(["x"])
    assert await collect(buffer, wait=False) == ["x"]
    assert not buffer.closed


async def test_awaiting_a_stream_prints_the_lines() -> None:
    buffer = LogBuffer(["one", "two"], closed=True)
    out = io.StringIO()

    async def get() -> LogBuffer:
        return buffer

    await LogStream(get, wait=True, file=out)
    assert out.getvalue() == "one\ntwo\n"


async def test_a_closed_buffer_refuses_lines() -> None:
    buffer = LogBuffer()
    buffer.close()
    with pytest.raises(RuntimeError):
        buffer.extend(["late"])
