"""A job's quantum tasks (``get_tasks``, ``tasks``) over real HTTP against the emulator,
beside the official ``AwsQuantumJob.get_tasks()``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import anyio.to_thread
import pytest
from support.aws import SV1, session_for
from support.jobs import calls
from support.quantum_tasks import EMU9, create_job, create_task

from braket_async._states import QuantumTaskState
from braket_async.aws import AwsSession
from braket_async.aws._tasks import describe_tasks, get_tasks, tasks
from braket_async.emulator import FakeRunner, SimulatorPool
from braket_async.emulator.testing import EmulatorStack, emulator_stack
from braket_async.errors import ConfigurationError

pytestmark = pytest.mark.anyio

UNKNOWN_JOB = "arn:aws:braket:us-east-1:123456789012:job/00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def simulators() -> Iterator[SimulatorPool]:
    """Workers start only when a task runs; these tests hold their tasks QUEUED."""
    pool = SimulatorPool(workers=1)
    yield pool
    pool.close()


@pytest.fixture
async def stack(moto_endpoint: str, simulators: SimulatorPool) -> AsyncIterator[EmulatorStack]:
    """Jobs that run until told to end, quantum tasks held QUEUED."""
    async with emulator_stack(
        runner=FakeRunner(auto_finish=False), aws_endpoint_url=moto_endpoint, simulators=simulators
    ) as running:
        running.emulator.service.quantum_tasks.pause()
        yield running


@pytest.fixture
async def session(stack: EmulatorStack) -> AsyncIterator[AwsSession]:
    async with session_for(stack) as opened:
        yield opened


@pytest.fixture
async def braket(stack: EmulatorStack) -> AsyncIterator[object]:
    async with stack.client("braket") as client:
        yield client


@pytest.fixture
async def bucket(stack: EmulatorStack) -> str:
    name = f"cost-test-{uuid.uuid4().hex[:12]}"
    async with stack.client("s3") as s3:
        await s3.create_bucket(Bucket=name)
    return name


async def test_a_jobs_tasks_oldest_first_as_the_official_sdk_lists_them(
    stack: EmulatorStack,
    session: AwsSession,
    braket: object,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = await create_job(braket, bucket)
    other_job = await create_job(braket, bucket)
    created = []
    for device, shots in ((SV1, 100), (EMU9, 10), (SV1, 0)):
        arn = await create_task(stack, braket, bucket, job_arn=job, device=device, shots=shots)
        created.append(arn)
        await create_task(stack, braket, bucket)  # of no job
        await create_task(stack, braket, bucket, job_arn=other_job)

    ours = await get_tasks(session, job)

    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)

    def official() -> list[str]:
        from braket.aws import AwsQuantumJob

        return [task.id for task in AwsQuantumJob(job).get_tasks()]

    assert ours == created
    assert await anyio.to_thread.run_sync(official) == ours
    summaries = {summary.arn: summary async for summary in tasks(session, job)}
    assert set(summaries) == set(created)
    first = summaries[created[1]]
    assert first.device_arn == EMU9
    assert first.shots == 10
    assert first.status is QuantumTaskState.QUEUED
    assert first.status == "QUEUED"
    assert not first.is_terminal
    assert first.ended_at is None
    assert first.job_arn == job
    assert first.output_s3_bucket == bucket
    assert first.output_s3_directory == f"tasks/{created[1].rsplit('/', 1)[1]}"
    assert summaries[created[2]].shots == 0


async def test_tasks_are_read_one_page_at_a_time_as_they_are_taken(
    stack: EmulatorStack, session: AwsSession, braket: object, bucket: str
) -> None:
    job = await create_job(braket, bucket)
    created = [await create_task(stack, braket, bucket, job_arn=job) for _ in range(5)]
    stack.emulator.stats.reset()

    pages = tasks(session, job, page_size=2)
    first = await anext(pages)
    assert calls(stack, "SearchQuantumTasks") == 1
    second = await anext(pages)
    assert calls(stack, "SearchQuantumTasks") == 1  # still the first page
    third = await anext(pages)
    assert calls(stack, "SearchQuantumTasks") == 2
    await pages.aclose()

    rest = [summary.arn async for summary in tasks(session, job, page_size=2)]
    assert calls(stack, "SearchQuantumTasks") == 2 + 3
    # The service's order: newest first.
    assert [first.arn, second.arn, third.arn] == created[::-1][:3]
    assert rest == created[::-1]


async def test_more_tasks_than_a_page_of_the_service(
    stack: EmulatorStack, session: AwsSession, braket: object, bucket: str
) -> None:
    job = await create_job(braket, bucket)
    created = await asyncio.gather(
        *(create_task(stack, braket, bucket, job_arn=job, shots=n + 1) for n in range(105))
    )
    stack.emulator.stats.reset()

    listed = await get_tasks(session, job)

    assert calls(stack, "SearchQuantumTasks") == 2  # 100 a page, the service's largest
    assert sorted(listed) == sorted(created)
    created_at = {summary.arn: summary.created_at async for summary in tasks(session, job)}
    in_order = [created_at[arn] for arn in listed]
    assert in_order == sorted(in_order)


async def test_a_job_without_tasks_and_an_unknown_job_have_none(
    stack: EmulatorStack, session: AwsSession, braket: object, bucket: str
) -> None:
    job = await create_job(braket, bucket)
    await create_task(stack, braket, bucket)  # not the job's

    assert await get_tasks(session, job) == []
    assert [summary async for summary in tasks(session, job)] == []
    assert await get_tasks(session, UNKNOWN_JOB) == []


@pytest.mark.parametrize(
    "arn",
    ["job-name", "local:job/x", "arn:aws:braket:us-east-1:123456789012:quantum-task/x", ""],
)
async def test_what_is_not_a_job_arn_is_refused(session: AwsSession, arn: str) -> None:
    with pytest.raises(ConfigurationError, match="Invalid job ARN"):
        await get_tasks(session, arn)
    with pytest.raises(ConfigurationError, match="Invalid job ARN"):
        await anext(tasks(session, arn))


@pytest.mark.parametrize("page_size", [0, 101, True, 2.0, "10"])
async def test_a_bad_page_size_is_refused(session: AwsSession, page_size: object) -> None:
    with pytest.raises(ConfigurationError, match="page_size"):
        await anext(tasks(session, UNKNOWN_JOB, page_size=page_size))  # type: ignore[arg-type]


async def test_tasks_are_described_by_arn_in_the_order_given(
    stack: EmulatorStack, session: AwsSession, braket: object, bucket: str
) -> None:
    job = await create_job(braket, bucket)
    of_job = await create_task(stack, braket, bucket, job_arn=job, device=EMU9, shots=3)
    alone = await create_task(stack, braket, bucket, shots=4)

    described = await describe_tasks(session, [alone, of_job, alone])

    assert [task.arn for task in described] == [alone, of_job, alone]
    assert [task.job_arn for task in described] == [None, job, None]
    assert [task.shots for task in described] == [4, 3, 4]
    assert described[1].device_arn == EMU9
    with pytest.raises(ConfigurationError, match="Invalid quantum task ARN"):
        await describe_tasks(session, [alone, job])
