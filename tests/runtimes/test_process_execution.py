"""ProcessExecution: its output in blocks, bounded when nobody reads it, and as a resource
(what happens when its owner forgets to close it)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import braket_async.jobs
from braket_async.errors import ClosedError
from braket_async.runtimes import JobSpec, ProcessExecution, ProcessRuntime
from braket_async.runtimes._resting import BUFFER_LIMIT

pytestmark = pytest.mark.anyio


async def test_an_execution_dropped_without_aclose_warns(tmp_path: Path) -> None:
    code = tmp_path / "algo.py"
    code.write_text("print('ran')\n")
    workspaces = tmp_path / "workspaces"
    workspaces.mkdir()
    runtime = ProcessRuntime(workspace_root=workspaces)
    spec = JobSpec(
        job_name="dropped",
        job_arn="local:job/dropped",
        device="local:none/none",
        entry_point="algo",
        code=[code],
    )
    execution = await runtime.start(spec)
    assert [line async for line in execution.output()] == ["ran"]
    assert await execution.wait() == 0
    # The last reference goes inside the block: the warning comes from __del__.
    with pytest.warns(ResourceWarning, match="never closed"):  # noqa: PT031
        del execution
        gc.collect()
    await runtime.aclose()


def _spec(tmp_path: Path, name: str, code: str) -> JobSpec:
    path = tmp_path / f"{name}.py"
    path.write_text(code)
    return JobSpec(
        job_name=name,
        job_arn=f"local:job/{name}",
        device="local:none/none",
        entry_point=name,
        code=[path],
    )


@contextlib.asynccontextmanager
async def started(tmp_path: Path, name: str, code: str) -> AsyncIterator[ProcessExecution]:
    """A job of ``code`` on a runtime of its own; both closed when the block is left."""
    runtime = ProcessRuntime(workspace_root=tmp_path)
    try:
        execution = await runtime.start(_spec(tmp_path, name, code))
        try:
            yield execution
        finally:
            await execution.aclose()
    finally:
        await runtime.aclose()


async def test_many_short_lines_come_in_few_blocks_of_whole_lines(tmp_path: Path) -> None:
    code = "for i in range(20000):\n    print(i)\nprint('end', end='')\n"
    async with started(tmp_path, "printer", code) as execution:
        blocks = [block async for block in execution.output_blocks()]
        assert await execution.wait() == 0
    assert all(block.endswith("\n") for block in blocks)
    assert "".join(blocks).split("\n") == [*map(str, range(20000)), "end", ""]
    # One block per read of the pipe, and the pipe rests a millisecond after each read:
    # far fewer blocks than lines (measured without the rest: 1929 blocks).
    assert len(blocks) < 1000, len(blocks)


async def test_output_nobody_reads_stalls_the_job_at_the_buffer_limit(tmp_path: Path) -> None:
    code = "import sys\nfor i in range(40):\n    sys.stdout.write('z' * (1 << 20) + '\\n')\n"
    async with started(tmp_path, "flood", code) as execution:
        output = execution._output
        await output.filled.wait()
        assert not execution._exited.is_set()
        assert output.pending_bytes() <= BUFFER_LIMIT + (1 << 18)  # one more read at most
        lines = [line async for line in execution.output()]
        assert await execution.wait() == 0
    assert len(lines) == 40


async def test_the_output_is_read_once(tmp_path: Path) -> None:
    async with started(tmp_path, "once", "print('x')\n") as execution:
        assert [line async for line in execution.output()] == ["x"]
        with pytest.raises(ClosedError):
            execution.output_blocks()
        assert await execution.wait() == 0


async def test_jobs_share_the_in_job_library_and_removing_a_workspace_spares_it(
    tmp_path: Path,
) -> None:
    library = Path(braket_async.jobs.__file__).parent
    before = sorted(path.name for path in library.iterdir())
    code = """
import os
import braket_async.jobs
here = os.path.dirname(braket_async.jobs.__file__)
print("linked", os.path.islink(here), os.path.realpath(here))
"""
    async with started(tmp_path, "shared", code) as execution:
        lines = [line async for line in execution.output()]
        assert await execution.wait() == 0
    assert lines == [f"linked True {library}"]
    assert not execution.workspace.exists()
    assert sorted(path.name for path in library.iterdir()) == before
