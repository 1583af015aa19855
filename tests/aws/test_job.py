"""AwsQuantumJob handles against the emulator: reattach, state, queue, cancel, sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.aws import SV1, session_for
from support.jobs import fake_stack_with, unique_name, write_module

from braket_async import JobState
from braket_async.aws import AwsQuantumJob, AwsSession, QueuePosition
from braket_async.emulator import FakeRunner, JobControl
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import (
    BraketAsyncError,
    ClosedError,
    ConfigurationError,
    JobFailedError,
    JobNotFoundError,
    JobTimeoutError,
)

pytestmark = pytest.mark.anyio

MISSING = "arn:aws:braket:us-east-1:123456789012:job/00000000-0000-0000-0000-000000000000"


async def test_reattach_by_arn(fake_session: AwsSession, tmp_path: Path) -> None:
    name = unique_name("again")
    created = await AwsQuantumJob.create(
        SV1, write_module(tmp_path, "algo"), job_name=name, aws_session=fake_session
    )
    job = AwsQuantumJob(created.arn, fake_session)
    assert job == created
    assert hash(job) == hash(created)
    assert repr(job) == f"AwsQuantumJob({created.arn!r})"
    with pytest.raises(BraketAsyncError, match=r"await job\.metadata"):
        _ = job.name
    metadata = await job.metadata()
    assert metadata["jobArn"] == created.arn
    assert "ResponseMetadata" not in metadata
    assert job.name == name
    assert await job.state() is JobState.COMPLETED
    assert await job.state(use_cached_value=True) == "COMPLETED"
    metadata["status"] = "changed"  # callers get copies
    assert (await job.metadata(use_cached_value=True))["status"] == "COMPLETED"


@pytest.mark.parametrize(
    "arn",
    [
        "job-name",
        "arn:aws:braket:us-east-1:123456789012:device/x",
        "arn:aws:braket::123456789012:job/x",
        "arn:aws:braket:us-east-1:1234:job/x",
        "local:job/x",
    ],
)
async def test_reattach_refuses_what_is_not_a_job_arn(fake_session: AwsSession, arn: str) -> None:
    with pytest.raises(ConfigurationError, match="Invalid job ARN"):
        AwsQuantumJob(arn, fake_session)


async def test_reattach_refuses_a_session_of_another_region(fake_session: AwsSession) -> None:
    with pytest.raises(ConfigurationError, match="us-east-1 but job"):
        AwsQuantumJob(MISSING.replace("us-east-1", "us-west-2"), fake_session)


async def test_an_unknown_job_is_not_found(fake_session: AwsSession) -> None:
    job = AwsQuantumJob(MISSING, fake_session)
    with pytest.raises(JobNotFoundError):
        await job.metadata()
    with pytest.raises(JobNotFoundError):
        await job.state()
    with pytest.raises(JobNotFoundError):
        await job.queue_position()
    with pytest.raises(JobNotFoundError):
        await job.cancel()


async def test_queue_position(moto_endpoint: str, tmp_path: Path) -> None:
    runner = FakeRunner(auto_start=False)
    async with fake_stack_with(moto_endpoint, runner) as (stack, session):
        module = write_module(tmp_path, "algo")
        first = await AwsQuantumJob.create(SV1, module, aws_session=session)
        second = await AwsQuantumJob.create(SV1, module, aws_session=session)
        assert await first.queue_position() == QueuePosition("1", None)
        assert await second.queue_position() == QueuePosition("2", None)
        assert await second.state(use_cached_value=True) is JobState.QUEUED
        runner.start(first.arn)
        await stack.emulator.service.wait_for_job(first.arn)
        position = await first.queue_position()
        assert position.queue_position is None
        assert position.message is not None
        assert "COMPLETED" in position.message
        assert await second.queue_position() == QueuePosition("1", None)


async def test_cancel(moto_endpoint: str, tmp_path: Path) -> None:
    runner = FakeRunner(auto_finish=False)
    async with fake_stack_with(moto_endpoint, runner) as (stack, session):
        module = write_module(tmp_path, "algo")
        job = await AwsQuantumJob.create(SV1, module, aws_session=session)
        await stack.emulator.service.wait_for_job(job.arn, [JobState.RUNNING])
        assert await job.cancel() is JobState.CANCELLING
        await stack.emulator.service.wait_for_job(job.arn)
        assert await job.state() is JobState.CANCELLED
        # Cancelling a job that has ended leaves it as it is.
        assert await job.cancel() is JobState.CANCELLED

        done = await AwsQuantumJob.create(SV1, module, aws_session=session)
        runner.finish(done.arn)
        await stack.emulator.service.wait_for_job(done.arn)
        assert await done.cancel() is JobState.COMPLETED


async def test_cancel_and_wait(moto_endpoint: str, tmp_path: Path) -> None:
    runner = FakeRunner(auto_finish=False)
    async with fake_stack_with(moto_endpoint, runner) as (_, session):
        job = await AwsQuantumJob.create(SV1, write_module(tmp_path, "algo"), aws_session=session)
        state = await job.cancel(wait=True, poll_interval_seconds=0.05)
        assert state is JobState.CANCELLED
        assert await job.state(use_cached_value=True) is JobState.CANCELLED


async def test_a_job_without_a_session_owns_one(
    fake_stack: EmulatorStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in fake_stack.environment().items():
        monkeypatch.setenv(name, value)
    async with AwsQuantumJob.create(SV1, write_module(tmp_path, "algo")) as job:
        session = job.aws_session
        assert await job.state() is JobState.COMPLETED
        again = AwsQuantumJob(job.arn)
        assert (await again.metadata())["jobName"] == job.name
        await again.aclose()
        await again.aclose()
    with pytest.raises(ClosedError):
        await session.client("braket")
    # The job was never cancelled by closing.
    assert fake_stack.emulator.service.job(job.arn).status is JobState.COMPLETED


async def test_a_borrowed_session_stays_open(fake_stack: EmulatorStack, tmp_path: Path) -> None:
    async with session_for(fake_stack) as session:
        async with AwsQuantumJob.create(
            SV1, write_module(tmp_path, "algo"), aws_session=session
        ) as job:
            pass
        assert job.aws_session is session
        assert await job.state() is JobState.COMPLETED


async def test_waiting_times_out(moto_endpoint: str, tmp_path: Path) -> None:
    runner = FakeRunner(auto_finish=False)
    async with fake_stack_with(moto_endpoint, runner) as (stack, session):
        job = await AwsQuantumJob.create(SV1, write_module(tmp_path, "algo"), aws_session=session)
        with pytest.raises(JobTimeoutError) as caught:
            await job.result(poll_timeout_seconds=0.2, poll_interval_seconds=0.05)
        assert isinstance(caught.value, TimeoutError)
        with pytest.raises(TimeoutError):
            await job.wait(poll_timeout_seconds=0.2, poll_interval_seconds=0.05)
        assert stack.emulator.service.job(job.arn).status is JobState.RUNNING
        runner.finish(job.arn, "AlgorithmError: boom")
        assert await job.wait(poll_interval_seconds=0.05) is JobState.FAILED
        with pytest.raises(JobFailedError, match="AlgorithmError: boom"):
            await job.result(poll_interval_seconds=0.05)


class _SignallingRunner(FakeRunner):
    """A fake runner that says when a job started running."""

    def __init__(self) -> None:
        super().__init__(auto_finish=False)
        self.running = asyncio.Event()

    async def run(self, job: JobControl) -> str | None:
        self.running.set()
        return await super().run(job)


async def test_an_abandoned_create_never_cancels_the_job(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runner = _SignallingRunner()
    async with fake_stack_with(moto_endpoint, runner) as (stack, _):
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        creating = asyncio.ensure_future(
            AwsQuantumJob.create(
                SV1,
                write_module(tmp_path, "algo"),
                wait_until_complete=True,
                poll_interval_seconds=0.05,
            )
        )
        await runner.running.wait()
        creating.cancel()
        with pytest.raises(asyncio.CancelledError):
            await creating
        (record,) = stack.emulator.service.jobs
        assert record.status is JobState.RUNNING  # its own session is closed, the job runs on
        runner.finish(record.arn)
