"""A container's attach stream, read in big pieces.

The daemon sends stdout and stderr over one upgraded connection as frames (an 8-byte
header: stream number, three zero bytes, big-endian length; then the payload). A job
that prints many short lines makes many small frames; handing them over one by one (a
queue item and a wake-up each) costs more than splitting the lines. Here every piece the
socket delivers is cut into frames at once, and a reader takes all frames that arrived
since its last read in one step, the socket pausing while the reader is behind
(:class:`~._resting.RestingBuffer`). It does not rest after each piece: the bootstrap's
relay in the container (``jobs/_relay.py``) already sends what a millisecond of printing
made in one write.

aiohttp gives no public way to read an upgraded connection: the frame splitter is
installed as the connection's payload parser, the way aiodocker's own ``Stream`` does
it (aiodocker is pinned in ``pyproject.toml``).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import Any, Final

import aiodocker
import aiohttp

from ._docker_api import translate
from ._output import LineSplitter
from ._resting import BUFFER_LIMIT, RestingBuffer

__all__ = ["BUFFER_LIMIT", "AttachStream", "FrameReader", "open_attach"]

_HEADER: Final = struct.Struct(">BxxxL")
_SENDING = "sending the job's files to its container"

Frame = tuple[int, bytes]  # (1 stdout or 2 stderr, payload)


class FrameReader(RestingBuffer[Frame]):
    """Cuts the raw attach stream into frames and keeps them until read.

    It takes the two places aiohttp's protocol feeds an upgraded connection into: the
    payload parser (:meth:`feed_data`, ``feed_eof``: what is left of an unfinished frame
    then is dropped) and the payload (``set_exception``, ``is_eof``).
    """

    def __init__(self, protocol: Any) -> None:
        def pause() -> None:
            if not protocol._reading_paused:
                protocol.pause_reading()

        def resume() -> None:
            if protocol._reading_paused:
                protocol.resume_reading()

        super().__init__(pause, resume, rest_seconds=0.0)  # the relay rested already
        self._buffer = bytearray()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        """Take a piece of the raw stream; complete frames become readable."""
        buffer = self._buffer
        buffer += data
        end = len(buffer)
        offset = 0
        frames: list[Frame] = []
        size = 0
        with memoryview(buffer) as view:
            while end - offset >= _HEADER.size:
                stream, length = _HEADER.unpack_from(buffer, offset)
                start = offset + _HEADER.size
                if end - start < length:
                    break
                offset = start + length
                frames.append((stream, view[start:offset].tobytes()))
                size += length
        if offset:
            del buffer[:offset]
        self._arrived(frames, size)
        return False, b""


class AttachStream:
    """The stdout and stderr of one container, from an attach made before its start, and
    its stdin when attached with it."""

    def __init__(self, response: aiohttp.ClientResponse, frames: FrameReader) -> None:
        self._response = response
        self._frames = frames

    async def send(self, chunks: AsyncIterator[bytes], *, until: Awaitable[object]) -> bool:
        """Write ``chunks`` to the container's stdin, then close it (end of file).

        Writes wait while the daemon does not take more (the connection's flow control),
        so a big input never sits in memory. Only for a stream attached with ``stdin``.
        Sending stops when ``until`` is done first (the container exited before it took
        everything).

        Returns:
            Whether everything was sent.

        Raises:
            ContainerError, RuntimeUnavailableError: The connection broke off.
        """
        sending = asyncio.ensure_future(self._send(chunks))
        ended = asyncio.ensure_future(until)
        try:
            await asyncio.wait({sending, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            if not sending.done():
                sending.cancel()
            await asyncio.wait({sending})
        if sending.cancelled():
            return False
        sending.result()
        return True

    async def _send(self, chunks: AsyncIterator[bytes]) -> None:
        connection = self._response.connection
        if connection is None or connection.transport is None:
            raise translate(ConnectionResetError("the attach connection is closed"), _SENDING)
        transport, protocol = connection.transport, connection.protocol
        try:
            async for chunk in chunks:
                transport.write(chunk)
                # aiohttp's flow control, as aiodocker's own stream writes do.
                await protocol._drain_helper()  # type: ignore[union-attr]
            # Half-closed: the daemon closes the container's stdin (StdinOnce).
            transport.write_eof()
        except (aiohttp.ClientError, OSError) as exc:
            raise translate(exc, _SENDING) from exc

    async def blocks(self) -> AsyncGenerator[str, None]:
        """The lines that each read completes, as one string each ending in ``\\n``
        (:meth:`~._output.LineSplitter.feed_block`); the unfinished last lines come once
        the stream ends.

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
            block = "".join([splitter.feed_block(stream, data) for stream, data in frames])
            if block:
                yield block
        last = splitter.close_block()
        if last:
            yield last

    def close(self, *, abort: bool = False) -> None:
        """Close the connection. Idempotent.

        ``abort``: drop what was written and not yet sent (a closing connection would
        otherwise wait for a daemon that no longer reads it).
        """
        self._frames.stop_resting()
        connection = self._response.connection
        if abort and connection is not None and connection.transport is not None:
            connection.transport.abort()
        self._response.close()


async def open_attach(
    docker: aiodocker.Docker, container_id: str, *, stdin: bool = False
) -> AttachStream:
    """Attach to the container's stdout and stderr (no earlier output), or, with
    ``stdin``, to its stdin alone.

    Stdin gets a connection of its own: on one shared with the output, a container that
    exits before it read all of its stdin leaves the daemon holding the connection (and
    so the end of the output) for minutes; a connection of its own is simply closed.

    Raises what :meth:`aiodocker.Docker._do_query` raises (``DockerError``,
    ``aiohttp.ClientError``); the caller translates.
    """
    response: aiohttp.ClientResponse = await docker._do_query(
        f"containers/{container_id}/attach",
        "POST",
        params={
            "stdin": int(stdin),
            "stdout": int(not stdin),
            "stderr": int(not stdin),
            "stream": 1,
            "logs": 0,
        },
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
