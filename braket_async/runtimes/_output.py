"""Turning a job's byte streams into lines, in time linear in the output.

The hot path works on blocks, not lines: a chunk's complete lines are decoded in one
call and handed on as one string (``"line\\nline\\n"``), so a job that prints a
hundred thousand short lines costs a few hundred decode calls, not a hundred thousand
Python-level steps. :meth:`LineSplitter.feed` gives the same lines one by one for
readers that want them so.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["LineSplitter", "split_blocks", "split_lines"]


class LineSplitter:
    """Splits the chunks of a job's stdout and stderr into lines.

    Chunks may end anywhere, also inside a line or a UTF-8 character; each stream keeps
    its own unfinished line. ``\\n`` and ``\\r\\n`` end lines; bytes that are not UTF-8
    become U+FFFD, so no output can break the reader.
    """

    def __init__(self) -> None:
        self._partial: dict[int, list[bytes]] = {}

    def feed_block(self, stream: int, data: bytes) -> str:
        """Add a chunk of ``stream`` (1 stdout, 2 stderr); return the lines it completes
        as one string, each line ending in ``\\n`` (``""`` when it completes none)."""
        end = data.rfind(b"\n")
        if end < 0:
            if data:
                self._partial.setdefault(stream, []).append(data)
            return ""
        rest = data[end + 1 :]
        head = data[: end + 1] if rest else data
        earlier = self._partial.pop(stream, None)
        if earlier:
            earlier.append(head)
            head = b"".join(earlier)
        if rest:
            self._partial[stream] = [rest]
        return _decode(head)

    def feed(self, stream: int, data: bytes) -> list[str]:
        """Like :meth:`feed_block`, but the lines one by one, without their line ends."""
        block = self.feed_block(stream, data)
        return block.split("\n")[:-1] if block else []

    def close_block(self) -> str:
        """The streams ended: their unfinished last lines (stdout first), as a block."""
        partial, self._partial = self._partial, {}
        return "".join(_decode(b"".join([*partial[stream], b"\n"])) for stream in sorted(partial))

    def close(self) -> list[str]:
        """Like :meth:`close_block`, but the lines one by one."""
        block = self.close_block()
        return block.split("\n")[:-1] if block else []


def _decode(raw: bytes) -> str:
    # "\n" is ASCII and never part of a multi-byte character, so decoding many lines at
    # once gives exactly the characters of decoding each line alone.
    text = raw.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text


async def split_blocks(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Yield the complete lines of one byte stream in blocks, as
    :meth:`LineSplitter.feed_block` makes them; a last line without a line end comes
    last, with one."""
    splitter = LineSplitter()
    async for chunk in chunks:
        block = splitter.feed_block(1, chunk)
        if block:
            yield block
    last = splitter.close_block()
    if last:
        yield last


async def split_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Yield the lines of one byte stream, as :class:`LineSplitter` splits them.

    A last line without a line end is yielded too.
    """
    async for block in split_blocks(chunks):
        for line in block.split("\n")[:-1]:
            yield line
