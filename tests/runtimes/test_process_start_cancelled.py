"""A process job's start cancelled at any step ends its whole process group at once and
removes its workspace, even when something the job started holds its output pipe
(asyncio's own clean-up of a cancelled start waits for that pipe to close)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import anyio
import pytest
from support.owning import alive, eventually

from braket_async.runtimes import JobSpec, ProcessRuntime

pytestmark = pytest.mark.anyio


def interpreter(tmp_path: Path, pids: Path) -> Path:
    """An interpreter that leaves a ``sleep`` holding its stdout before it becomes
    Python (as a job's own background child would); the sleeps' pids go to ``pids``."""
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nsleep 300 &\necho $! >> {pids}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


async def test_a_start_cancelled_at_any_step_leaves_nothing_running(tmp_path: Path) -> None:
    code = tmp_path / "idle.py"
    code.write_text("import time\ntime.sleep(300)\n")
    spec = JobSpec(
        job_name="idle",
        job_arn="local:job/idle",
        device="local:none/none",
        entry_point="idle",
        code=[code],
    )
    pids = tmp_path / "pids"
    workspaces = tmp_path / "workspaces"
    workspaces.mkdir()
    runtime = ProcessRuntime(python=interpreter(tmp_path, pids), workspace_root=workspaces)
    try:
        for steps in range(200):
            start = asyncio.create_task(runtime.start(spec))
            for _ in range(steps):
                await asyncio.sleep(0)
            # The loop stalls a moment, as on a loaded machine: the processes of a start
            # under way get ahead of it (the sleep holds the output pipe by then).
            time.sleep(0.05)  # noqa: ASYNC251 - the stall is the point
            if start.done():
                await (await start).aclose()
                break  # every step before the start's end has been tried
            start.cancel()
            with anyio.fail_after(20), pytest.raises(asyncio.CancelledError):
                await start
            assert list(workspaces.iterdir()) == [], steps
        else:
            raise AssertionError("the start never ended")
        assert steps > 2
        started = [int(pid) for pid in pids.read_text().split()] if pids.exists() else []
        assert started  # some starts got as far as the interpreter
        await eventually(lambda: not any(alive(pid) for pid in started))
    finally:
        for pid in pids.read_text().split() if pids.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        await runtime.aclose()
