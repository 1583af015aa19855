"""A container's attach stream, read in big pieces.

The daemon sends stdout and stderr over one upgraded connection as frames (an 8-byte
header: stream number, three zero bytes, big-endian length; then the payload). A job
that prints many short lines makes many small frames; handing them over one by one (a
queue item and a wake-up each) costs more than splitting the lines. Here every piece the
socket delivers is cut into frames at once, and a reader takes all frames that arrived
since its last read in one step: one wake-up per socket read, however many lines.

The daemon writes each piece of output the job wrote as it comes, often one or two
lines; reading every such piece on its own costs a wake-up of the event loop (a few tens
of microseconds) each, more than the lines themselves. So after each read the socket is
left alone for :data:`COALESCE_SECONDS`: what arrives meanwhile waits in the kernel and
comes in one read. A line that ends a quiet spell is read at once; the others wait at
most that long.

Reading also pauses while more than :data:`BUFFER_LIMIT` bytes wait for the reader, as a
pipe does, so a job nobody reads blocks instead of filling memory.

aiohttp gives no public way to read an upgraded connection: the frame splitter is
installed as the connection's payload parser, the way aiodocker's own ``Stream`` does
it (aiodocker is pinned in ``pyproject.toml``).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncGenerator
from typing import Any, Final

import aiodocker
import aiohttp

from ._docker_api import translate
from ._output import LineSplitter

__all__ = ["BUFFER_LIMIT", "COALESCE_SECONDS", "AttachStream", "FrameReader", "open_attach"]

#: Bytes of frames that may wait for the reader before the socket is paused.
BUFFER_LIMIT: Final = 1 << 20
#: How long the socket rests after each read, so that output arriving meanwhile comes in
#: one read (and one wake-up of the reader).
COALESCE_SECONDS: Final = 0.001
_HEADER: Final = struct.Struct(">BxxxL")

Frame = tuple[int, bytes]  # (1 stdout or 2 stderr, payload)


class FrameReader:
    """Cuts the raw attach stream into frames and keeps them until read.

    It takes the two places aiohttp's protocol feeds an upgraded connection into: the
    payload parser (:meth:`feed_data`, :meth:`feed_eof`) and the payload
    (:meth:`set_exception`, :meth:`is_eof`).
    """

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._buffer = bytearray()
        self._ready: list[Frame] = []
        self._size = 0
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        # Why the socket is paused: the reader is behind, or it rests after a read.
        self._full = False
        self._resting: asyncio.TimerHandle | None = None
        #: Set once the frames waiting for the reader went over :data:`BUFFER_LIMIT`.
        self.filled = asyncio.Event()
        #: Set while the socket is not resting after a read.
        self.rested = asyncio.Event()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        """Take a piece of the raw stream; complete frames become readable."""
        buffer = self._buffer
        buffer += data
        end = len(buffer)
        offset = 0
        ready = self._ready
        with memoryview(buffer) as view:
            while end - offset >= _HEADER.size:
                stream, length = _HEADER.unpack_from(buffer, offset)
                start = offset + _HEADER.size
                if end - start < length:
                    break
                offset = start + length
                ready.append((stream, view[start:offset].tobytes()))
                self._size += length
        if offset:
            del buffer[:offset]
        self._full = self._size > BUFFER_LIMIT
        if self._full:
            self.filled.set()
        if self._resting is None and not self._eof:
            self.rested.clear()
            self._resting = asyncio.get_running_loop().call_later(COALESCE_SECONDS, self._rested)
        self._pause()
        self._wake()
        return False, b""

    def feed_eof(self) -> None:
        """The connection ended (whatever is left of an unfinished frame is dropped)."""
        self._eof = True
        self.stop_resting()
        self._wake()

    def stop_resting(self) -> None:
        """Cancel a pending end of a rest (the connection is closing)."""
        if self._resting is not None:
            self._resting.cancel()
            self._resting = None
        self.rested.set()

    def pending_bytes(self) -> int:
        """Bytes of payload that wait for the reader."""
        return self._size

    def is_eof(self) -> bool:
        return self._eof

    def set_exception(self, exc: BaseException, exc_cause: object = None) -> None:
        """The connection failed; :meth:`read` raises ``exc`` after the frames before it."""
        self._error = exc
        self.stop_resting()
        self._wake()

    async def read(self) -> list[Frame] | None:
        """All frames that arrived since the last read (waiting for one), or ``None``
        once the stream has ended and every frame was read."""
        while not self._ready:
            if self._error is not None:
                raise self._error
            if self._eof:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        ready, self._ready, self._size = self._ready, [], 0
        self._full = False
        self._resume()
        return ready

    def _rested(self) -> None:
        self._resting = None
        self.rested.set()
        self._resume()

    def _pause(self) -> None:
        if not self._protocol._reading_paused:
            self._protocol.pause_reading()

    def _resume(self) -> None:
        if not self._full and self._resting is None and self._protocol._reading_paused:
            self._protocol.resume_reading()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class AttachStream:
    """The stdout and stderr of one container, from an attach made before its start."""

    def __init__(self, response: aiohttp.ClientResponse, frames: FrameReader) -> None:
        self._response = response
        self._frames = frames

    async def line_batches(self) -> AsyncGenerator[list[str], None]:
        """The lines that each read completes, as :class:`~._output.LineSplitter` splits
        them; the unfinished last lines come once the stream ends.

        Raises:
            ContainerError, RuntimeUnavailableError: The stream broke off.
        """
        splitter = LineSplitter()
        while True:
            try:
                frames = await self._frames.read()
            except (aiohttp.ClientError, OSError) as exc:
                raise translate(exc, "reading the job's output") from exc
            if frames is None:
                break
            lines: list[str] = []
            for stream, data in frames:
                lines += splitter.feed(stream, data)
            if lines:
                yield lines
        last = splitter.close()
        if last:
            yield last

    def close(self) -> None:
        """Close the connection. Idempotent."""
        self._frames.stop_resting()
        self._response.close()


async def open_attach(docker: aiodocker.Docker, container_id: str) -> AttachStream:
    """Attach to the container's stdout and stderr (not stdin, no earlier output).

    Raises what :meth:`aiodocker.Docker._do_query` raises (``DockerError``,
    ``aiohttp.ClientError``); the caller translates.
    """
    response: aiohttp.ClientResponse = await docker._do_query(
        f"containers/{container_id}/attach",
        "POST",
        params={"stdin": 0, "stdout": 1, "stderr": 1, "stream": 1, "logs": 0},
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        timeout=None,
        read_until_eof=False,
    )
    try:
        await response.read()  # the upgrade's answer has no body
        connection = response.connection
        protocol = connection.protocol if connection is not None else None
        if protocol is None:
            raise aiohttp.ClientConnectionError(
                f"the daemon closed the attach connection (HTTP {response.status})"
            )
        frames = FrameReader(protocol)
        protocol.set_parser(frames, frames)
        protocol.force_close()  # never back to the pool
    except BaseException:
        response.close()
        raise
    return AttachStream(response, frames)
