"""ProcessExecution as a resource: what happens when its owner forgets to close it."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from braket_async.runtimes import JobSpec, ProcessRuntime

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
