"""The Docker runtime's fast paths, from outside: what a job does to the folders whose
archive GET is skipped when they look untouched, and the attach stream read in big
pieces under output that is large, bursty or not read at all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiodocker
import pytest
from support.docker import JobFactory, JobRecord

from braket_async.runtimes import _docker_attach
from braket_async.runtimes._base import JobSpec
from braket_async.runtimes._docker import DockerRuntime
from braket_async.runtimes._docker_attach import FrameReader

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

Run = Callable[[JobSpec], Awaitable[JobRecord]]


async def test_output_written_at_the_first_instant_is_collected(jobs: JobFactory, run: Run) -> None:
    # The first statement of the job writes: as close to the baseline lstat as a job gets.
    record = await run(
        jobs.spec(
            """
            open("/opt/ml/model/first.txt", "w").write("first")
            open("/opt/jobs/checkpoints/c.json", "w").write("{}")
            """
        )
    )
    assert (record.results / "first.txt").read_text() == "first"
    assert (record.checkpoints / "c.json").read_text() == "{}"


async def test_a_folder_removed_and_made_again_is_collected(jobs: JobFactory, run: Run) -> None:
    record = await run(
        jobs.spec(
            """
            import os, shutil
            shutil.rmtree("/opt/ml/model")
            os.mkdir("/opt/ml/model")
            open("/opt/ml/model/again.txt", "w").write("again")
            """
        )
    )
    assert (record.results / "again.txt").read_text() == "again"


async def test_a_file_changed_in_a_subfolder_is_collected(jobs: JobFactory, run: Run) -> None:
    # A change deep inside leaves the top folder's time alone once the subfolder exists;
    # the subfolder's creation changed it, so the archive is fetched.
    record = await run(
        jobs.spec(
            """
            import os
            os.makedirs("/opt/ml/model/a/b")
            open("/opt/ml/model/a/b/deep.txt", "w").write("deep")
            """
        )
    )
    assert (record.results / "a" / "b" / "deep.txt").read_text() == "deep"


async def test_an_output_folder_replaced_by_a_link_is_not_followed(
    jobs: JobFactory, run: Run, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    record = await run(
        jobs.spec(
            f"""
            import os, shutil
            shutil.rmtree("/opt/ml/model")
            os.symlink({str(tmp_path)!r}, "/opt/ml/model")
            shutil.rmtree("/opt/jobs/checkpoints")
            os.symlink("/etc", "/opt/jobs/checkpoints")
            """
        )
    )
    assert record.exit_code == 0
    # What lands on the host is no link and no copy of what the links name.
    landed = [path for folder in (record.results, record.checkpoints) for path in walk(folder)]
    assert not any(path.is_symlink() for path in landed)
    assert not {path.name for path in landed} & {"secret.txt", "passwd", "hostname"}
    assert secret.read_text() == "host secret"


def walk(folder: Path) -> list[Path]:
    """``folder`` and what is under it, without following links."""
    if folder.is_symlink() or not folder.is_dir():
        return [folder] if folder.exists() or folder.is_symlink() else []
    return [folder, *folder.rglob("*")]


async def test_checkpoints_given_to_the_job_and_kept_are_copied_back(
    jobs: JobFactory, run: Run, tmp_path: Path
) -> None:
    # A checkpoint folder the job starts with is never taken as untouched.
    given = tmp_path / "given"
    given.mkdir()
    (given / "state.json").write_text('{"step": 1}')
    record = await run(jobs.spec("print('kept')", checkpoint_input=given))
    assert json.loads((record.checkpoints / "state.json").read_text()) == {"step": 1}


async def test_a_30_mb_line_without_a_newline_arrives_whole(jobs: JobFactory, run: Run) -> None:
    record = await run(
        jobs.spec(
            """
            import sys
            for _ in range(30):
                sys.stdout.write("y" * (1 << 20))
                sys.stdout.flush()
            """
        )
    )
    assert record.exit_code == 0
    assert len(record.lines) == 1
    assert record.lines[0] == "y" * (30 << 20)


async def test_output_nobody_reads_blocks_the_job_instead_of_filling_memory(
    jobs: JobFactory, runtime: DockerRuntime, docker: aiodocker.Docker
) -> None:
    # The job prints far more than the reader's buffer, then exits; nothing reads its
    # output until it has filled the buffers. It cannot end before the output is read.
    spec = jobs.spec(
        """
        import sys
        for i in range(40):
            sys.stdout.write(f"{i:04d}" + "z" * (1 << 20) + "\\n")
        sys.stdout.flush()
        """
    )
    execution = await runtime.start(spec)
    try:
        frames = execution._attached._frames  # type: ignore[union-attr]
        await frames.filled.wait()
        state = (await docker.containers.container(execution.container_id).show())["State"]
        assert state["Running"]  # stalled on its full pipe, not ended
        assert frames.pending_bytes() <= _docker_attach.BUFFER_LIMIT + (1 << 21)
        lines = [line async for line in execution.output()]
        assert await execution.wait() == 0
    finally:
        await execution.aclose()
    assert [line[:4] for line in lines] == [f"{i:04d}" for i in range(40)]


class FakeProtocol:
    """The two calls :class:`FrameReader` makes on aiohttp's protocol, recorded."""

    def __init__(self) -> None:
        self._reading_paused = False
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self._reading_paused = True
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self._reading_paused = False
        self.calls.append("resume")


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


async def test_frames_split_anywhere_are_put_together_in_order() -> None:
    reader = FrameReader(FakeProtocol())
    raw = frame(1, b"out one\n") + frame(2, b"err\n") + frame(1, b"out two\n")
    for index in range(len(raw)):  # one byte at a time: every cut point
        reader.feed_data(raw[index : index + 1])
    reader.feed_eof()
    assert await reader.read() == [(1, b"out one\n"), (2, b"err\n"), (1, b"out two\n")]
    assert await reader.read() is None


async def test_the_socket_rests_after_a_read_and_pauses_while_the_reader_is_behind() -> None:
    protocol = FakeProtocol()
    reader = FrameReader(protocol)
    reader.feed_data(frame(1, b"x" * 10))
    assert protocol.calls == ["pause"]  # resting: what comes next waits in the kernel
    await reader.rested.wait()
    assert protocol.calls == ["pause", "resume"]
    big = frame(1, b"y" * (_docker_attach.BUFFER_LIMIT + 1))
    reader.feed_data(big)
    await reader.rested.wait()
    assert protocol.calls[-1] == "pause"  # the rest is over, but the reader is behind
    assert reader.filled.is_set()
    batch = await reader.read()
    assert batch is not None
    assert [len(payload) for _, payload in batch] == [
        10,
        _docker_attach.BUFFER_LIMIT + 1,
    ]
    assert protocol.calls[-1] == "resume"
    reader.feed_eof()
    assert await reader.read() is None


async def test_a_broken_connection_is_raised_after_the_frames_before_it() -> None:
    reader = FrameReader(FakeProtocol())
    reader.feed_data(frame(1, b"last words\n"))
    reader.set_exception(ConnectionResetError("gone"))
    assert await reader.read() == [(1, b"last words\n")]
    with pytest.raises(ConnectionResetError):
        await reader.read()


async def test_a_reader_waiting_for_frames_is_woken_by_them() -> None:
    reader = FrameReader(FakeProtocol())
    pending = asyncio.ensure_future(reader.read())
    await asyncio.sleep(0)
    assert not pending.done()
    reader.feed_data(frame(2, b"late\n"))
    assert await pending == [(2, b"late\n")]
    reader.feed_eof()
