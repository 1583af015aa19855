"""Turning a job's byte streams into lines, in time linear in the output."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["LineSplitter", "split_lines"]


class LineSplitter:
    """Splits the chunks of a job's stdout and stderr into lines.

    Chunks may end anywhere, also inside a line or a UTF-8 character; each stream keeps
    its own unfinished line. ``\\n`` and ``\\r\\n`` end lines; bytes that are not UTF-8
    become U+FFFD, so no output can break the reader.
    """

    def __init__(self) -> None:
        self._partial: dict[int, list[bytes]] = {}

    def feed(self, stream: int, data: bytes) -> list[str]:
        """Add a chunk of ``stream`` (1 stdout, 2 stderr); return the lines it completes."""
        if b"\n" not in data:
            if data:
                self._partial.setdefault(stream, []).append(data)
            return []
        parts = data.split(b"\n")
        earlier = self._partial.pop(stream, None)
        if earlier:
            earlier.append(parts[0])
            parts[0] = b"".join(earlier)
        rest = parts.pop()
        if rest:
            self._partial[stream] = [rest]
        return [_decode_line(part) for part in parts]

    def close(self) -> list[str]:
        """The streams ended: return their unfinished last lines (stdout first)."""
        partial, self._partial = self._partial, {}
        return [_decode_line(b"".join(partial[stream])) for stream in sorted(partial)]


def _decode_line(raw: bytes) -> str:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw.decode("utf-8", errors="replace")


async def split_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Yield the lines of one byte stream, as :class:`LineSplitter` splits them.

    A last line without a line end is yielded too.
    """
    splitter = LineSplitter()
    async for chunk in chunks:
        for line in splitter.feed(1, chunk):
            yield line
    for line in splitter.close():
        yield line
