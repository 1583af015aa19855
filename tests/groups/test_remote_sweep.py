"""Remote sweeps against the emulator over real HTTP: resumable, within the quotas."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import anyio
import pytest
from support.aws import SV1, session_for
from support.owning import eventually
from support.sweeping import manifest_points, start_sweeper

from braket_async import BillingLimitError, JobState, sweep
from braket_async.aws import OperationRate, RetryPolicy
from braket_async.emulator import FakeRunner, Faults, Rate, RateLimits
from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

FAST = 0.05


def write(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "point.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent("print('point')\n"))
    return path


async def finish_as_they_come(stack: EmulatorStack, runner: FakeRunner, count: int) -> None:
    """End every emulated job once it exists, until ``count`` jobs have ended."""
    while True:
        jobs = stack.emulator.service.jobs
        for record in jobs:
            runner.finish(record.arn)
        if sum(record.status.is_terminal for record in jobs) >= count:
            return
        await anyio.sleep(FAST)  # the service has no "job created" event to await


@pytest.mark.parametrize("fake_runner", [FakeRunner(auto_finish=False)])
async def test_a_remote_sweep_killed_halfway_resumes_without_a_second_job(
    fake_stack: EmulatorStack, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    source = write(tmp_path)
    manifest = tmp_path / "sweep.json"
    async with session_for(fake_stack) as session:
        target = {
            "region": session.region,
            "endpoint_urls": session.endpoint_urls,
            "default_bucket": await session.default_bucket(),
        }
        arguments = {
            "source_module": str(source),
            "points": [{"x": x} for x in range(6)],
            "device": SV1,
            "manifest": str(manifest),
            "concurrent_jobs_quota": 4,
            "poll_interval_seconds": FAST,
        }
        sweeper = start_sweeper(tmp_path, target=target, **arguments)
        try:
            # Halfway: four jobs exist (the quota), none has ended, two points wait.
            await eventually(
                lambda: len([e for e in manifest_points(manifest) if e and e["arn"]]) == 4
            )
        finally:
            sweeper.send_signal(signal.SIGKILL)
            output = sweeper.communicate()
        assert sweeper.returncode == -signal.SIGKILL, output
        assert len(fake_stack.emulator.service.jobs) == 4
        async with anyio.create_task_group() as helpers:
            helpers.start_soon(finish_as_they_come, fake_stack, fake_runner, 6)
            resumed = await sweep(target=session, progress=False, **arguments)  # type: ignore[arg-type]
    assert [point.state for point in resumed] == [JobState.COMPLETED] * 6
    jobs = fake_stack.emulator.service.jobs
    assert len(jobs) == 6  # no point has two jobs
    arns = [entry["arn"] for entry in manifest_points(manifest) if entry]
    assert sorted(arns) == sorted(record.arn for record in jobs)
    assert [point.job.arn for point in resumed if point.job] == arns


async def test_200_points_within_a_quota_of_3_under_throttling_and_5xx(
    fake_stack: EmulatorStack, tmp_path: Path
) -> None:
    source = write(tmp_path)
    fake_stack.emulator.set_concurrent_jobs_quota(3)
    # The service allows less than the session asks for: throttling happens, and is retried.
    fake_stack.emulator.set_rate_limits(
        RateLimits(
            operations={"CreateJob": Rate(40, 5), "GetJob": Rate(40, 10), "SearchJobs": Rate(5, 5)},
            account=None,
        )
    )
    fake_stack.emulator.set_faults(Faults(error_rate=0.1, seed=7))
    fast = {name: OperationRate(200, 50) for name in ("CreateJob", "GetJob", "SearchJobs")}
    async with session_for(
        fake_stack, rates=fast, retry=RetryPolicy(max_attempts=None, base_delay=0.01)
    ) as session:
        with anyio.fail_after(240):
            points = await sweep(
                source,
                points=[{"x": x} for x in range(200)],
                target=session,
                device=SV1,
                concurrent_jobs_quota=3,
                progress=False,
                poll_interval_seconds=FAST,
            )
    assert [point.state for point in points] == [JobState.COMPLETED] * 200
    stats = fake_stack.emulator.stats.snapshot()
    assert len(fake_stack.emulator.service.jobs) == 200
    assert stats["CreateJob"]["succeeded"] >= 200
    assert stats["CreateJob"]["server_errors"] + stats["GetJob"]["server_errors"] > 0
    throttled = sum(operation.get("throttled", 0) for operation in stats.values())
    assert throttled > 0


@pytest.mark.parametrize("fake_runner", [FakeRunner(auto_finish=False)])
async def test_max_billable_seconds_stops_creating_points(
    fake_stack: EmulatorStack, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    async def bill_each_job_a_while() -> None:
        done: set[str] = set()
        while len(done) < 2:
            for record in fake_stack.emulator.service.jobs:
                if record.arn not in done:
                    await anyio.sleep(0.3)  # the job's billable time
                    fake_runner.finish(record.arn)
                    done.add(record.arn)
            await anyio.sleep(FAST)  # the service has no "job created" event to await

    async with session_for(fake_stack) as session, anyio.create_task_group() as helpers:
        helpers.start_soon(bill_each_job_a_while)
        points = await sweep(
            write(tmp_path),
            points=[{"x": x} for x in range(4)],
            target=session,
            device=SV1,
            concurrent_jobs_quota=1,
            max_billable_seconds=0.1,
            progress=False,
            poll_interval_seconds=FAST,
        )
        helpers.cancel_scope.cancel()
    assert points[0].state is JobState.COMPLETED
    assert points[0].billable_seconds is not None
    assert points[0].billable_seconds >= 0.3
    stopped = [point for point in points if isinstance(point.error, BillingLimitError)]
    assert len(stopped) >= 2
    assert all(point.job is None for point in stopped)
    assert "max_billable_seconds=0.1" in str(stopped[0].error)
    assert len(fake_stack.emulator.service.jobs) == 4 - len(stopped)
