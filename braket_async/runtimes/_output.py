"""Turning a job's byte stream into lines."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["split_lines"]


async def split_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Yield the lines of a byte stream, without line ends, decoded as UTF-8.

    Bytes that are not UTF-8 become U+FFFD rather than failing the job's log, and a
    last line without a line end is yielded too.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    async for chunk in chunks:
        text = pending + decoder.decode(chunk)
        *lines, pending = text.split("\n")
        for line in lines:
            yield line.removesuffix("\r")
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending.removesuffix("\r")
