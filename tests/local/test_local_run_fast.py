"""The paths of a local run that real jobs make slow to reach: a fake runtime, no process.

Runtimes that cannot be rebuilt in a supervisor (this one) run their jobs in the
creating process, through the same LocalJobRun the supervisor uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.runtime import FakeRuntime

from braket_async import JobState, LocalQuantumJob
from braket_async.errors import ContainerError, JobCancelledError

pytestmark = pytest.mark.anyio

DEVICE = "local:none/none"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "algo.py"
    path.write_text("pass\n")
    return path


async def test_a_job_runs_to_completion(source: Path, tmp_path: Path) -> None:
    runtime = FakeRuntime()
    job = await LocalQuantumJob.create(DEVICE, source, job_name="a", runtime=runtime, root=tmp_path)
    execution = runtime.started["a"]
    execution.say("one", "two")
    execution.exit(0)
    assert await job.result() == {"fake": True}
    assert job.run_log == "one\ntwo\n"
    assert execution.closed
    assert (await job.metadata())["supervisor"]["inProcess"] is True


async def test_a_queued_job_cancelled_never_starts(source: Path, tmp_path: Path) -> None:
    runtime = FakeRuntime(max_concurrent_jobs=1)
    first = await LocalQuantumJob.create(
        DEVICE, source, job_name="first", runtime=runtime, root=tmp_path
    )
    queued = await LocalQuantumJob.create(
        DEVICE, source, job_name="queued", runtime=runtime, root=tmp_path
    )
    assert await queued.state() is JobState.QUEUED
    assert await queued.cancel(wait=True) is JobState.CANCELLED
    runtime.started["first"].exit(0)
    assert await first.wait() is JobState.COMPLETED
    assert "queued" not in runtime.started
    with pytest.raises(JobCancelledError):
        await queued.result()


async def test_cancelling_a_running_job_kills_keeps_lines_and_collects(
    source: Path, tmp_path: Path
) -> None:
    runtime = FakeRuntime()
    job = await LocalQuantumJob.create(DEVICE, source, job_name="c", runtime=runtime, root=tmp_path)
    execution = runtime.started["c"]
    execution.say("before")
    assert await job.logs().lines() in ([], ["before"])
    assert await job.cancel(wait=True) is JobState.CANCELLED
    assert execution.killed
    assert execution.closed
    assert job.run_log == "before\n"
    assert (tmp_path / "c" / "results.json").is_file()  # collected after the kill


async def test_a_start_failure_raises_from_create_and_records_failed(
    source: Path, tmp_path: Path
) -> None:
    runtime = FakeRuntime()
    runtime.fail_start = ContainerError("no such image")
    with pytest.raises(ContainerError, match="no such image"):
        await LocalQuantumJob.create(DEVICE, source, job_name="f", runtime=runtime, root=tmp_path)
    job = LocalQuantumJob("local:job/f", root=tmp_path)
    assert await job.state() is JobState.FAILED
    assert "no such image" in (await job.metadata())["failureReason"]


async def test_leaving_the_scope_cancels_the_job(source: Path, tmp_path: Path) -> None:
    runtime = FakeRuntime()
    async with LocalQuantumJob.create(
        DEVICE, source, job_name="s", runtime=runtime, root=tmp_path
    ) as job:
        pass
    assert await job.state() is JobState.CANCELLED
    assert runtime.started["s"].killed
