"""JobGroup with real jobs: local processes and remote jobs on the emulator."""

from __future__ import annotations

import textwrap
from pathlib import Path

import anyio
import pytest
from support.aws import SV1, session_for
from support.owning import alive

from braket_async import (
    JobEvent,
    JobFailedError,
    JobGroup,
    JobState,
    LocalQuantumJob,
    as_completed,
    gather,
)
from braket_async.emulator import FakeRunner
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import ClosedError, ConfigurationError
from braket_async.runtimes import ProcessRuntime

pytestmark = pytest.mark.anyio

DEVICE = "local:none/none"
FAST = 0.05
POINT = """
import os, sys, time
from braket_async.jobs import get_hyperparameters, save_job_result
x = int(get_hyperparameters()["x"])
if x < 0:
    sys.exit(f"negative x={x}")
save_job_result({"x": x})
"""
FOREVER = """
import os, time
print("started", os.getpid(), flush=True)
time.sleep(600)
"""


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / "src" / f"{name}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


async def test_results_in_order_with_failures_collected(tmp_path: Path) -> None:
    source = write(tmp_path, "point", POINT)
    runtime = ProcessRuntime()
    async with runtime, JobGroup(max_concurrent_jobs=3, poll_interval_seconds=FAST) as group:
        for x in (1, -2, 3, 4):
            await group.create(
                DEVICE, source, target=runtime, hyperparameters={"x": x}, root=tmp_path / "jobs"
            )
        results = await group.results()
    assert results[0] == {"x": 1}
    assert isinstance(results[1], JobFailedError)
    assert "negative x=-2" in str(results[1].failure_reason)
    assert results[2:] == [{"x": 3}, {"x": 4}]
    assert group.state_counts() == {JobState.COMPLETED: 3, JobState.FAILED: 1}


async def test_max_concurrent_jobs_bounds_unfinished_jobs(tmp_path: Path) -> None:
    source = write(tmp_path, "point", POINT)
    seen_running: list[int] = []
    async with JobGroup(max_concurrent_jobs=2, poll_interval_seconds=FAST) as group:
        events = group.events()

        async def count() -> None:
            running: set[str] = set()
            async for event in events:
                if event.new_state is JobState.RUNNING:
                    running.add(event.job.arn)
                if event.new_state.is_terminal:
                    running.discard(event.job.arn)
                seen_running.append(len(running))

        async with anyio.create_task_group() as counting:
            counting.start_soon(count)
            for x in range(6):
                await group.create(DEVICE, source, hyperparameters={"x": x}, root=tmp_path)
            assert len([job async for job in group.as_completed()]) == 6
            counting.cancel_scope.cancel()
    assert max(seen_running) <= 2


async def test_events_say_every_change_once_in_order(tmp_path: Path) -> None:
    source = write(tmp_path, "point", POINT)
    received: list[JobEvent] = []
    async with JobGroup(poll_interval_seconds=FAST) as group:
        events = group.events()
        job = await group.create(DEVICE, source, hyperparameters={"x": 5}, root=tmp_path)
        async for event in events:
            received.append(event)
            if event.new_state.is_terminal:
                break
    assert all(event.job is job for event in received)
    states = [event.new_state for event in received]
    assert states[-1] is JobState.COMPLETED
    assert len(states) == len(set(states))
    assert [event.old_state for event in received] == [None, *states[:-1]]


async def test_on_error_raise_cancels_the_rest_with_on_exit_cancel(tmp_path: Path) -> None:
    failing = write(tmp_path, "point", POINT)
    forever = write(tmp_path, "forever", FOREVER)
    pids: list[int] = []
    sleepers = []

    async def body() -> None:
        async with JobGroup(
            on_error="raise", on_exit="cancel", poll_interval_seconds=FAST
        ) as group:
            sleeper = await group.create(DEVICE, forever, root=tmp_path, job_name="sleeper")
            sleepers.append(sleeper)
            async for event in sleeper.logs(wait=True):
                pids.append(int(event.message.split()[1]))
                break
            await group.create(DEVICE, failing, hyperparameters={"x": -1}, root=tmp_path)
            await anyio.sleep_forever()

    with pytest.raises(JobFailedError, match="negative x=-1"):
        await body()
    (sleeper,) = sleepers
    (pid,) = pids
    assert await sleeper.state() is JobState.CANCELLED
    assert not alive(pid)


async def test_leaving_early_with_on_exit_leave_keeps_jobs_running(tmp_path: Path) -> None:
    forever = write(tmp_path, "forever", FOREVER)
    made = []

    async def body() -> None:
        async with JobGroup(on_exit="leave", poll_interval_seconds=FAST) as group:
            made.append(await group.create(DEVICE, forever, root=tmp_path, job_name="left"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await body()
    (job,) = made
    assert await job.state() is JobState.RUNNING
    assert await job.cancel(wait=True) is JobState.CANCELLED


async def test_bad_arguments_and_closed_groups_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="max_concurrent_jobs"):
        JobGroup(max_concurrent_jobs=0)
    with pytest.raises(ConfigurationError, match="on_error"):
        JobGroup(on_error="ignore")  # type: ignore[arg-type]
    group = JobGroup()
    with pytest.raises(ClosedError):
        await group.create(DEVICE, write(tmp_path, "point", POINT))
    async with group:
        with pytest.raises(ConfigurationError, match="target must be"):
            await group.create(DEVICE, write(tmp_path, "point", POINT), target="kubernetes")


async def test_gather_and_as_completed_over_existing_handles(tmp_path: Path) -> None:
    source = write(tmp_path, "point", POINT)
    jobs = [
        await LocalQuantumJob.create(DEVICE, source, hyperparameters={"x": x}, root=tmp_path)
        for x in (1, -1)
    ]
    finished = [job async for job in as_completed(jobs, poll_interval_seconds=FAST)]
    assert sorted(job.arn for job in finished) == sorted(job.arn for job in jobs)
    results = await gather(*jobs, poll_interval_seconds=FAST)
    assert results[0] == {"x": 1}
    assert isinstance(results[1], JobFailedError)
    with pytest.raises(JobFailedError):
        await gather(*jobs, on_error="raise", poll_interval_seconds=FAST)


@pytest.mark.parametrize("fake_runner", [FakeRunner(auto_finish=False)])
async def test_remote_creates_wait_for_the_concurrent_jobs_quota(
    fake_stack: EmulatorStack, fake_runner: FakeRunner, tmp_path: Path
) -> None:
    # Other programs hold 1 of the account's 3 slots: the group's own bound (3) is not
    # enough, the service refuses past it, and the group waits instead of failing.
    fake_stack.emulator.set_concurrent_jobs_quota(3)
    source = write(tmp_path, "point", POINT)
    async with session_for(fake_stack) as session:
        other = await session.call(
            "braket",
            "create_job",
            **_request(session, "other"),
        )
        async with JobGroup(concurrent_jobs_quota=3, poll_interval_seconds=FAST) as group:

            def refusals() -> int:
                return fake_stack.emulator.stats.snapshot()["CreateJob"]["client_errors"]

            async def finish_jobs() -> None:
                # Nothing ends until the service has refused a create past the quota;
                # then jobs end as they come, and the refused creates go through.
                while refusals() == 0:  # noqa: ASYNC110 - the emulator has no refusal event
                    await anyio.sleep(FAST)
                finished: set[str] = set()
                while len(finished) < 6:
                    for job in group.jobs:
                        if job.arn not in finished:
                            fake_runner.finish(job.arn)
                            finished.add(job.arn)
                    await anyio.sleep(FAST)
                fake_runner.finish(other["jobArn"])

            with anyio.fail_after(60):
                async with anyio.create_task_group() as helpers:
                    helpers.start_soon(finish_jobs)
                    for x in range(6):
                        await group.create(SV1, source, target=session, hyperparameters={"x": x})
            finished = [job async for job in group.as_completed()]
    assert len(finished) == 6
    assert group.state_counts() == {JobState.COMPLETED: 6}
    stats = fake_stack.emulator.stats.snapshot()
    assert stats["CreateJob"]["client_errors"] > 0  # the quota was hit, and waited out
    assert len(fake_stack.emulator.service.jobs) == 7


def _request(session: object, name: str) -> dict[str, object]:
    return {
        "jobName": name,
        "clientToken": name,
        "roleArn": "arn:aws:iam::123456789012:role/service-role/AmazonBraketJobsExecutionRole",
        "algorithmSpecification": {
            "scriptModeConfig": {"entryPoint": "algo", "s3Uri": "s3://b/k.tar.gz"}
        },
        "outputDataConfig": {"s3Path": "s3://b/out"},
        "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 30},
        "deviceConfig": {"device": SV1},
    }


async def test_a_wait_on_a_job_of_a_group_left_early_ends(tmp_path: Path) -> None:
    forever = write(tmp_path, "forever", FOREVER)
    group = JobGroup(on_exit="leave", poll_interval_seconds=FAST)
    made = []

    async def body() -> None:
        async with group:
            made.append(await group.create(DEVICE, forever, root=tmp_path, job_name="left"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await body()
    (job,) = made
    with anyio.fail_after(10), pytest.raises(ClosedError, match="left before"):
        await group.wait(job)  # the job runs on; nobody watches it for the group
    assert isinstance((await group.results())[0], ClosedError)
    assert await job.cancel(wait=True) is JobState.CANCELLED
