"""Splitting a job's byte stream into lines."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from braket_async.runtimes._output import split_lines

pytestmark = pytest.mark.anyio


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_lines_split_across_chunks_and_a_last_partial_line() -> None:
    stream = chunks(b"ab", b"c\nd", b"\r\n\n", "é".encode()[:1], "é".encode()[1:], b"\xff tail")
    assert [line async for line in split_lines(stream)] == ["abc", "d", "", "é\ufffd tail"]


async def test_an_empty_stream_has_no_lines() -> None:
    assert [line async for line in split_lines(chunks())] == []


async def test_a_30_mb_line_in_small_chunks_is_one_line() -> None:
    piece = b"x" * 65536
    stream = chunks(*([piece] * 480), b"\r\n", b"next")
    lines = [line async for line in split_lines(stream)]
    assert [len(line) for line in lines] == [65536 * 480, 4]
