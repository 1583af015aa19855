"""Local and remote jobs through one interface: the same code drives both."""

from __future__ import annotations

import inspect
from pathlib import Path

import anyio
import pytest
from support.aws import SV1
from support.jobs import write_module

from braket_async import (
    AwsQuantumJob,
    JobFailedError,
    JobState,
    LocalQuantumJob,
    LogEvent,
    QuantumJob,
)
from braket_async.aws import AwsSession

pytestmark = pytest.mark.anyio

FAST = 0.05
SWEEP_JOB = """
from braket_async.jobs import get_hyperparameters, log_metric, save_job_result
x = int(get_hyperparameters()["x"])
print(f"point {x}", flush=True)
log_metric("energy", -x, iteration_number=0)
if x == 3:
    raise SystemExit("x=3 is a bad point")
save_job_result({"square": x * x})
"""

PUBLIC = [
    name
    for name, member in vars(QuantumJob).items()
    if not name.startswith("_") and (callable(member) or isinstance(member, property))
]


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_both_handles_have_the_interfaces_signatures(name: str) -> None:
    expected = getattr(QuantumJob, name)
    for handle in (LocalQuantumJob, AwsQuantumJob):
        assert issubclass(handle, QuantumJob)
        actual = getattr(handle, name)
        if isinstance(expected, property):
            assert isinstance(actual, property), (handle, name)
            continue
        assert inspect.signature(actual) == inspect.signature(expected), (handle, name)


async def sweep(jobs: list[QuantumJob], folder: Path) -> list[tuple[object, ...]]:
    """What a sweep does with its jobs, written once for any handle."""
    rows: list[tuple[object, ...]] = []

    async def collect(job: QuantumJob) -> None:
        state = await job.wait(poll_interval_seconds=FAST)
        events = [event async for event in job.logs()]
        assert all(isinstance(event, LogEvent) for event in events)
        messages = [event.message for event in events if event.message.startswith("point")]
        try:
            outcome: object = await job.result(poll_interval_seconds=FAST)
            downloaded = await job.download_result(folder, poll_interval_seconds=FAST)
            assert downloaded == folder / job.name
            assert (downloaded / "results.json").is_file()
        except JobFailedError as exc:
            outcome = exc.failure_reason
        metrics = await job.metrics()
        rows.append((job.name, state, messages, outcome, metrics.get("energy")))

    async with anyio.create_task_group() as group:
        for job in jobs:
            group.start_soon(collect, job)
    return sorted(rows, key=lambda row: str(row[0]))


async def test_a_sweep_of_local_and_remote_jobs_runs_through_one_code_path(
    session: AwsSession, tmp_path: Path
) -> None:
    source = write_module(tmp_path / "src", "point", SWEEP_JOB)
    jobs: list[QuantumJob] = []
    for x in (1, 2, 3):
        jobs.append(
            await LocalQuantumJob.create(
                "local:none/none",
                source,
                job_name=f"local-{x}",
                hyperparameters={"x": x},
                root=tmp_path / "local",
            )
        )
        jobs.append(
            await AwsQuantumJob.create(
                SV1, source, job_name=f"remote-{x}", hyperparameters={"x": x}, aws_session=session
            )
        )

    rows = await sweep(jobs, tmp_path / "downloads")

    for kind in ("local", "remote"):
        mine = [row for row in rows if str(row[0]).startswith(kind)]
        assert [row[1] for row in mine] == [JobState.COMPLETED, JobState.COMPLETED, JobState.FAILED]
        assert [row[2] for row in mine] == [["point 1"], ["point 2"], ["point 3"]]
        assert mine[0][3] == {"square": 1}
        assert mine[1][3] == {"square": 4}
        assert "x=3 is a bad point" in str(mine[2][3])
        assert [row[4] for row in mine] == [[-1.0], [-2.0], [-3.0]]


async def test_cancel_with_wait_means_the_same_on_both(session: AwsSession, tmp_path: Path) -> None:
    source = write_module(tmp_path / "src", "forever", "import time\ntime.sleep(600)\n")
    local = await LocalQuantumJob.create(
        "local:none/none", source, job_name="forever", root=tmp_path / "local"
    )
    remote = await AwsQuantumJob.create(SV1, source, aws_session=session)
    jobs: list[QuantumJob] = [local, remote]
    for job in jobs:
        assert await job.cancel(wait=True, poll_interval_seconds=FAST) is JobState.CANCELLED
        assert await job.state() is JobState.CANCELLED
        # Cancelling an ended job leaves it as it is.
        assert await job.cancel() is JobState.CANCELLED
