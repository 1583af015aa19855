"""Splitting a job's byte stream into lines."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from braket_async.runtimes._output import LineSplitter, split_blocks, split_lines

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


# --- LineSplitter: two streams, chunks cut anywhere ------------------------------------------

STDOUT, STDERR = 1, 2


def split_all(chunks: list[tuple[int, bytes]]) -> list[str]:
    splitter = LineSplitter()
    lines: list[str] = []
    for stream, data in chunks:
        lines += splitter.feed(stream, data)
    return lines + splitter.close()


def test_lines_cut_anywhere_come_out_whole() -> None:
    data = "one\ntwo\r\nthree é\n\nlast".encode()
    expected = ["one", "two", "three é", "", "last"]
    for size in (1, 2, 3, 7, len(data)):
        chunks = [(STDOUT, data[i : i + size]) for i in range(0, len(data), size)]
        assert split_all(chunks) == expected, size


def test_streams_keep_their_own_unfinished_lines() -> None:
    chunks = [
        (STDOUT, b"out-a"),
        (STDERR, b"err-a"),
        (STDOUT, b"-b\nout2"),
        (STDERR, b"-b\n"),
        (STDERR, b"err tail"),
    ]
    assert split_all(chunks) == ["out-a-b", "err-a-b", "out2", "err tail"]


def test_undecodable_bytes_become_replacement_characters() -> None:
    # An é cut between chunks still decodes; stray bytes do not break the reader.
    assert split_all([(STDOUT, b"caf\xc3"), (STDOUT, b"\xa9 \xff\n\xfe")]) == [
        "café \ufffd",
        "\ufffd",
    ]


def test_many_lines_in_one_chunk() -> None:
    data = b"".join(f"line {i}\n".encode() for i in range(10_000))
    assert split_all([(STDOUT, data)]) == [f"line {i}" for i in range(10_000)]


def test_empty_chunks_and_no_output() -> None:
    assert split_all([(STDOUT, b""), (STDERR, b"")]) == []


# --- blocks: the same lines, decoded many at a time ----------------------------------------


def blocks_of(chunks: list[tuple[int, bytes]]) -> list[str]:
    splitter = LineSplitter()
    blocks = [splitter.feed_block(stream, data) for stream, data in chunks]
    return [*blocks, splitter.close_block()]


def test_blocks_hold_exactly_the_lines_however_the_output_is_cut() -> None:
    data = "one\ntwo\r\nthree é\n\n\rmid\rline\r\n\xff".encode("utf-8", "surrogateescape")
    data += b"\xe2\x82\nafter a cut character\n\xe2\x82"
    expected = split_all([(STDOUT, data)])
    assert expected[-1] == "\ufffd"  # the cut character at the end, alone on its line
    for size in (1, 2, 3, 5, 8, len(data)):
        chunks = [(STDOUT, data[i : i + size]) for i in range(0, len(data), size)]
        blocks = blocks_of(chunks)
        assert all(block == "" or block.endswith("\n") for block in blocks)
        assert "".join(blocks).split("\n")[:-1] == expected, size
        assert split_all(chunks) == expected, size


def test_a_block_keeps_each_streams_unfinished_line_apart() -> None:
    blocks = blocks_of(
        [(STDOUT, b"out-a"), (STDERR, b"err\nerr-b"), (STDOUT, b"\n"), (STDERR, b"")]
    )
    assert blocks == ["", "err\n", "out-a\n", "", "err-b\n"]


async def test_split_blocks_gives_what_arrived_together() -> None:
    stream = chunks(b"a\nb", b"\nc\nd\n", b"tail")
    assert [block async for block in split_blocks(stream)] == ["a\n", "b\nc\nd\n", "tail\n"]
