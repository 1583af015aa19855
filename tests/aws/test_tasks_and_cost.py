"""A job's quantum tasks and its cost, over real HTTP against the emulator.

Tasks: ``get_tasks`` beside the official ``AwsQuantumJob.get_tasks()``, ``tasks`` page
by page, ``describe_tasks``. Cost: the same numbers as the official ``Tracker`` inside a
real job (and outside one), tasks still running, tasks that cost nothing, prices that are
missing or malformed, a price list that cannot be reached.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from support.aws import SV1, session_for
from support.jobs import calls
from support.quantum_tasks import (
    EMU9,
    RESERVATION,
    PriceServer,
    closed_port_url,
    create_job,
    create_task,
    price_server,
    read_price_list,
)

from braket_async._states import QuantumTaskState
from braket_async.aws import AwsQuantumJob, AwsSession
from braket_async.aws._cost import TaskFacts, job_cost, task_costs
from braket_async.aws._price_list import (
    PriceList,
    PriceListFormatError,
    PriceListUnavailableError,
)
from braket_async.aws._pricing import PriceListCache
from braket_async.aws._tasks import describe_tasks, get_tasks, tasks
from braket_async.emulator import FakeRunner, SimulatorPool
from braket_async.emulator.testing import EmulatorStack, emulator_stack
from braket_async.errors import ConfigurationError

pytestmark = pytest.mark.anyio

UNKNOWN_JOB = "arn:aws:braket:us-east-1:123456789012:job/00000000-0000-0000-0000-000000000000"

#: The emulator's test prices (braket_async/emulator/_prices.py), inside jobs.
SV1_IN_JOB_PER_MINUTE = Decimal("0.05")
EMU9_IN_JOB_TASK = Decimal("0.4")
EMU9_IN_JOB_SHOT = Decimal("0.008")
M5_LARGE_PER_MINUTE = Decimal("0.002")

TRACKED_JOB = """
    import os
    from datetime import timedelta

    from braket.aws import AwsDevice
    from braket.circuits import Circuit
    from braket.jobs import save_job_result
    from braket.tracking import Tracker

    SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
    EMU9 = "arn:aws:braket:us-east-1::device/qpu/braket-async/Emu-9"
    bell = Circuit().h(0).cnot(0, 1)
    too_wide = Circuit().h(range(10))  # Emu-9 has 9 qubits: the task FAILS

    with Tracker() as tracker:
        sv1, emu9 = AwsDevice(SV1), AwsDevice(EMU9)
        tasks = [
            sv1.run(bell, shots=100),
            emu9.run(bell, shots=10),
            sv1.run(Circuit().h(0).h(1).h(2).probability(), shots=0),
            emu9.run(bell, shots=25),
            emu9.run(too_wide, shots=5),
        ]
        for task in tasks:
            task.result()
    stats = tracker.quantum_tasks_statistics()
    billed = stats[SV1]["billed_execution_duration"] / timedelta(milliseconds=1)
    save_job_result(
        {
            "tasks": [task.id for task in tasks],
            "simulator": str(tracker.simulator_tasks_cost()),
            "qpu": str(tracker.qpu_tasks_cost()),
            "sv1_billed_ms": billed,
            "price_list": os.environ["BRAKET_PRICE_OFFERS_URL"],
        }
    )
"""


@pytest.fixture(scope="module")
def simulators() -> Iterator[SimulatorPool]:
    pool = SimulatorPool(workers=2)
    yield pool
    pool.close()


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner(auto_finish=False)


@pytest.fixture
async def stack(
    moto_endpoint: str, simulators: SimulatorPool, runner: FakeRunner
) -> AsyncIterator[EmulatorStack]:
    """Jobs that run until told to end (``session`` is on this stack), tasks for real."""
    async with emulator_stack(
        runner=runner, aws_endpoint_url=moto_endpoint, simulators=simulators
    ) as running:
        yield running


@pytest.fixture
def held(stack: EmulatorStack) -> None:
    """Quantum tasks stay QUEUED."""
    stack.emulator.service.quantum_tasks.pause()


@pytest.fixture
async def braket(stack: EmulatorStack) -> AsyncIterator[Any]:
    """A raw Braket client: it stands in for a job's code creating tasks."""
    async with stack.client("braket") as client:
        yield client


@pytest.fixture
async def bucket(session: AwsSession) -> str:
    return await session.default_bucket()


@pytest.fixture
async def prices(stack: EmulatorStack) -> PriceList:
    return await PriceListCache(None).get(stack.environment()["BRAKET_PRICE_OFFERS_URL"])


@pytest.fixture
async def job_stack(moto_endpoint: str, simulators: SimulatorPool) -> AsyncIterator[EmulatorStack]:
    """Jobs run as processes, quantum tasks for real."""
    async with emulator_stack(aws_endpoint_url=moto_endpoint, simulators=simulators) as running:
        yield running


async def execution_ms(stack: EmulatorStack, bucket: str, task_arn: str) -> int:
    """The simulator's execution time, read from the task's result by hand."""
    async with stack.client("s3") as s3:
        key = f"tasks/{task_arn.rsplit('/', 1)[1]}/results.json"
        response = await s3.get_object(Bucket=bucket, Key=key)
        async with response["Body"] as body:
            document = json.loads(await body.read())
    return int(document["additionalMetadata"]["simulatorMetadata"]["executionDuration"])


# --- a job's tasks ------------------------------------------------------------


async def test_a_jobs_tasks_oldest_first_as_the_official_sdk_lists_them(
    stack: EmulatorStack,
    session: AwsSession,
    braket: Any,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    held: None,
) -> None:
    job = await create_job(session, tmp_path)
    other_job = await create_job(session, tmp_path)
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
    stack: EmulatorStack, session: AwsSession, braket: Any, bucket: str, tmp_path: Path, held: None
) -> None:
    job = await create_job(session, tmp_path)
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
    stack: EmulatorStack, session: AwsSession, braket: Any, bucket: str, tmp_path: Path, held: None
) -> None:
    job = await create_job(session, tmp_path)
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
    stack: EmulatorStack, session: AwsSession, braket: Any, bucket: str, tmp_path: Path, held: None
) -> None:
    job = await create_job(session, tmp_path)
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
    stack: EmulatorStack, session: AwsSession, braket: Any, bucket: str, tmp_path: Path, held: None
) -> None:
    job = await create_job(session, tmp_path)
    of_job = await create_task(stack, braket, bucket, job_arn=job, device=EMU9, shots=3)
    alone = await create_task(stack, braket, bucket, shots=4)

    described = await describe_tasks(session, [alone, of_job, alone])

    assert [task.arn for task in described] == [alone, of_job, alone]
    assert [task.job_arn for task in described] == [None, job, None]
    assert [task.shots for task in described] == [4, 3, 4]
    assert described[1].device_arn == EMU9
    with pytest.raises(ConfigurationError, match="Invalid quantum task ARN"):
        await describe_tasks(session, [alone, job])


# --- a job's cost -------------------------------------------------------------


async def test_a_jobs_cost_equals_what_the_official_tracker_in_the_job_counted(
    job_stack: EmulatorStack, tmp_path: Path
) -> None:
    source = tmp_path / "algo.py"
    source.write_text(textwrap.dedent(TRACKED_JOB))
    async with session_for(job_stack) as session:
        job = await AwsQuantumJob.create(
            SV1, str(source), job_name=f"tracked-{uuid.uuid4().hex[:8]}", aws_session=session
        )
        tracked = await job.result(poll_interval_seconds=0.2, poll_timeout_seconds=300)
        metadata = await job.metadata()
        url = job_stack.environment()["BRAKET_PRICE_OFFERS_URL"]
        breakdown = await job_cost(session, metadata, await PriceListCache(None).get(url))

    assert tracked["price_list"] == url  # the Tracker in the job read the same list
    assert [task.arn for task in breakdown.tasks] == tracked["tasks"]
    assert breakdown.simulator_tasks_cost == Decimal(tracked["simulator"])
    assert breakdown.qpu_tasks_cost == Decimal(tracked["qpu"])
    # Not vacuous: two Emu-9 tasks completed (the third FAILED) and SV1 billed 3 s each.
    assert Decimal(tracked["qpu"]) == 2 * EMU9_IN_JOB_TASK + 35 * EMU9_IN_JOB_SHOT
    assert Decimal(tracked["simulator"]) >= 2 * SV1_IN_JOB_PER_MINUTE * 3000 / 60000
    sv1 = [task for task in breakdown.tasks if task.device_arn == SV1]
    assert sum(task.billed_ms or 0 for task in sv1) == tracked["sv1_billed_ms"]
    assert [task.status for task in breakdown.tasks] == ["COMPLETED"] * 4 + ["FAILED"]
    assert breakdown.tasks[-1].cost == 0
    billable = metadata["billableDuration"]
    assert breakdown.instance.billed_ms == billable > 0
    assert breakdown.instance_cost == M5_LARGE_PER_MINUTE * billable / 60000
    assert breakdown.total == (
        breakdown.instance_cost + breakdown.qpu_tasks_cost + breakdown.simulator_tasks_cost
    )
    assert breakdown.final
    assert breakdown.unpriced == ()
    assert breakdown.price_list.url == url
    assert breakdown.price_list.publication_date == "2024-01-01T00:00:00Z"
    as_json = breakdown.to_dict()
    assert Decimal(as_json["total"]) == breakdown.total
    assert as_json["price_list"]["publication_date"] == "2024-01-01T00:00:00Z"
    assert json.loads(json.dumps(as_json)) == as_json
    assert [Decimal(task["cost"]) for task in as_json["tasks"]] == [
        task.cost for task in breakdown.tasks
    ]


async def test_a_running_job_costs_what_it_has_used_so_far(
    stack: EmulatorStack,
    session: AwsSession,
    braket: Any,
    bucket: str,
    prices: PriceList,
    runner: FakeRunner,
    tmp_path: Path,
) -> None:
    tasks = stack.emulator.service.quantum_tasks
    job = await create_job(session, tmp_path)
    tasks.pause()
    qpu = await create_task(stack, braket, bucket, job_arn=job, device=EMU9, shots=10)
    simulated = await create_task(stack, braket, bucket, job_arn=job)
    facts = TaskFacts()

    running = await job_cost(session, await braket.get_job(jobArn=job), prices, facts=facts)

    assert running.job_status == "RUNNING"
    assert not running.final
    assert running.pending_tasks == 2
    by_arn = {task.arn: task for task in running.tasks}
    # A QPU task counts what it will cost if it completes, as the Tracker counts it.
    assert by_arn[qpu].cost == EMU9_IN_JOB_TASK + 10 * EMU9_IN_JOB_SHOT
    assert not by_arn[qpu].final
    # A simulator task's time is not known before it completes.
    assert by_arn[simulated].cost is None
    assert not by_arn[simulated].final
    assert by_arn[simulated].unpriced is None
    assert running.simulator_tasks_cost == 0
    assert running.instance.estimated
    assert not running.instance.final
    assert running.unpriced == ()

    tasks.resume()
    await tasks.wait_for_task(qpu)
    await tasks.wait_for_task(simulated)
    runner.finish(job)
    await stack.emulator.service.wait_for_job(job)
    stack.emulator.stats.reset()

    ended = await job_cost(session, await braket.get_job(jobArn=job), prices, facts=facts)

    assert ended.final
    assert ended.pending_tasks == 0
    by_arn = {task.arn: task for task in ended.tasks}
    ran_ms = await execution_ms(stack, bucket, simulated)
    assert by_arn[simulated].execution_ms == ran_ms
    assert by_arn[simulated].billed_ms == max(ran_ms, 3000)
    assert by_arn[simulated].cost == SV1_IN_JOB_PER_MINUTE * max(ran_ms, 3000) / 60000
    assert by_arn[qpu].cost == EMU9_IN_JOB_TASK + 10 * EMU9_IN_JOB_SHOT
    assert not ended.instance.estimated
    assert ended.instance.final

    # What cannot change is not read again.
    again = await job_cost(session, await braket.get_job(jobArn=job), prices, facts=facts)
    assert again.total == ended.total
    assert calls(stack, "GetQuantumTask") == 0  # the QPU task's reservation was known


async def test_cancelled_failed_and_reserved_tasks_cost_nothing(
    stack: EmulatorStack,
    session: AwsSession,
    braket: Any,
    bucket: str,
    prices: PriceList,
    tmp_path: Path,
) -> None:
    tasks = stack.emulator.service.quantum_tasks
    job = await create_job(session, tmp_path)
    tasks.pause()
    cancelled = await create_task(stack, braket, bucket, job_arn=job, device=EMU9)
    await braket.cancel_quantum_task(quantumTaskArn=cancelled, clientToken=uuid.uuid4().hex)
    reserved = await create_task(
        stack,
        braket,
        bucket,
        job_arn=job,
        device=EMU9,
        associations=[{"arn": RESERVATION, "type": "RESERVATION_TIME_WINDOW_ARN"}],
    )
    refused = await create_task(
        stack, braket, bucket, job_arn=job, source="OPENQASM 3.0;\nqubit[1] q;\nnonsense q[0];"
    )
    tasks.resume()
    for arn in (reserved, refused):
        await tasks.wait_for_task(arn)

    breakdown = await job_cost(session, await braket.get_job(jobArn=job), prices)

    by_arn = {task.arn: task for task in breakdown.tasks}
    assert by_arn[cancelled].status == "CANCELLED"
    assert by_arn[refused].status == "FAILED"
    assert by_arn[reserved].status == "COMPLETED"
    assert by_arn[reserved].reservation
    assert [by_arn[arn].cost for arn in (cancelled, reserved, refused)] == [0, 0, 0]
    assert all(task.final for task in breakdown.tasks)
    assert breakdown.tasks_cost == 0


async def test_a_job_without_tasks_costs_its_instance_time(
    stack: EmulatorStack,
    session: AwsSession,
    braket: Any,
    bucket: str,
    prices: PriceList,
    runner: FakeRunner,
    tmp_path: Path,
) -> None:
    job = await create_job(session, tmp_path, instance_type="ml.m5.xlarge", instance_count=3)
    running = await braket.get_job(jobArn=job)
    later = running["startedAt"] + datetime.timedelta(seconds=90)

    so_far = await job_cost(session, running, prices, now=later)

    assert so_far.tasks == ()
    assert not so_far.final
    assert so_far.instance.estimated
    assert so_far.instance.billed_ms == 90_000
    assert so_far.instance.instance_type == "ml.m5.xlarge"
    assert so_far.instance.instance_count == 3
    assert so_far.instance.price == Decimal("0.004")
    # Each instance is billed for the job's time (SageMaker's rule for billable time).
    assert so_far.total == Decimal("0.004") * 3 * 90 / 60 == Decimal("0.018")

    runner.finish(job)
    await stack.emulator.service.wait_for_job(job)
    ended = await braket.get_job(jobArn=job)
    breakdown = await job_cost(session, ended, prices, now=later)

    assert breakdown.final
    assert not breakdown.instance.estimated
    assert breakdown.instance.billed_ms == ended["billableDuration"]
    assert breakdown.total == Decimal("0.004") * 3 * ended["billableDuration"] / 60000


async def test_the_price_list_comes_from_the_official_variable_and_must_be_reachable(
    stack: EmulatorStack,
    session: AwsSession,
    braket: Any,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    job = await create_job(session, tmp_path)
    metadata = await braket.get_job(jobArn=job)
    url = stack.environment()["BRAKET_PRICE_OFFERS_URL"]
    monkeypatch.setenv("BRAKET_PRICE_OFFERS_URL", url)
    assert (await job_cost(session, metadata)).price_list.url == url

    monkeypatch.setenv("BRAKET_PRICE_OFFERS_URL", closed_port_url())
    with pytest.raises(PriceListUnavailableError, match="Cannot fetch the price list"):
        await job_cost(session, metadata)


@pytest.fixture
async def lists(stack: EmulatorStack) -> AsyncIterator[PriceServer]:
    """Variants of the emulator's price list, served on loopback."""
    async with price_server() as serving:
        good = await read_price_list(stack)
        lines = good.splitlines(keepends=True)
        serving.documents["no-emu9"] = b"".join(line for line in lines if b'"Emu-9"' not in line)
        serving.documents["bad-price"] = b"".join(
            line.replace(b'"0.0080000000"', b'"8 cents"') if b'"Emu-9"' in line else line
            for line in lines
        )
        yield serving


async def test_what_the_list_has_no_price_for_is_listed_unpriced(
    stack: EmulatorStack,
    session: AwsSession,
    braket: Any,
    bucket: str,
    lists: PriceServer,
    tmp_path: Path,
) -> None:
    tasks = stack.emulator.service.quantum_tasks
    job = await create_job(session, tmp_path, instance_type="ml.c5.4xlarge")  # not in the list
    qpu = await create_task(stack, braket, bucket, job_arn=job, device=EMU9, shots=7)
    simulated = await create_task(stack, braket, bucket, job_arn=job)
    await tasks.wait_for_task(qpu)
    await tasks.wait_for_task(simulated)
    prices = await PriceListCache(None).get(lists.url("no-emu9"))

    breakdown = await job_cost(session, await braket.get_job(jobArn=job), prices)

    by_arn = {task.arn: task for task in breakdown.tasks}
    assert by_arn[qpu].cost is None
    assert "0 prices match" in (by_arn[qpu].unpriced or "")
    assert "Emu-9" in (by_arn[qpu].unpriced or "")
    assert by_arn[simulated].cost is not None
    assert breakdown.instance.cost is None
    assert "ml.c5.4xlarge" in (breakdown.instance.unpriced or "")
    assert len(breakdown.unpriced) == 2
    assert breakdown.total == by_arn[simulated].cost

    bad = await PriceListCache(None).get(lists.url("bad-price"))
    with pytest.raises(PriceListFormatError, match="'8 cents'"):
        await job_cost(session, await braket.get_job(jobArn=job), bad)


async def test_a_simulator_result_that_is_gone_is_unpriced_saying_where(
    stack: EmulatorStack,
    session: AwsSession,
    braket: Any,
    bucket: str,
    prices: PriceList,
    tmp_path: Path,
) -> None:
    job = await create_job(session, tmp_path)
    simulated = await create_task(stack, braket, bucket, job_arn=job)
    await stack.emulator.service.quantum_tasks.wait_for_task(simulated)
    key = f"tasks/{simulated.rsplit('/', 1)[1]}/results.json"
    async with stack.client("s3") as s3:
        await s3.delete_object(Bucket=bucket, Key=key)

    breakdown = await job_cost(session, await braket.get_job(jobArn=job), prices)

    (task,) = breakdown.tasks
    assert task.cost is None
    assert f"s3://{bucket}/{key}" in (task.unpriced or "")
    assert "NoSuchKey" in (task.unpriced or "")


async def test_tasks_of_no_job_cost_what_a_tracker_outside_a_job_counted(
    stack: EmulatorStack,
    session: AwsSession,
    bucket: str,
    prices: PriceList,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)

    def track() -> tuple[list[str], str, str]:
        from braket.aws import AwsDevice
        from braket.circuits import Circuit
        from braket.tracking import Tracker

        bell = Circuit().h(0).cnot(0, 1)
        where = (bucket, "tasks")
        with Tracker() as tracker:
            runs = [
                AwsDevice(EMU9).run(bell, shots=30, s3_destination_folder=where),
                AwsDevice(SV1).run(bell, shots=50, s3_destination_folder=where),
            ]
            for run in runs:
                run.result()
        qpu, simulator = tracker.qpu_tasks_cost(), tracker.simulator_tasks_cost()
        return [run.id for run in runs], str(qpu), str(simulator)

    arns, qpu, simulator = await anyio.to_thread.run_sync(track)

    summaries = await describe_tasks(session, arns)
    costs = await task_costs(session, summaries, prices)

    assert [summary.job_arn for summary in summaries] == [None, None]
    assert costs[0].cost == Decimal(qpu) == Decimal("0.5") + 30 * Decimal("0.01")
    assert costs[1].cost == Decimal(simulator) > 0
    assert costs[1].billed_ms == max(costs[1].execution_ms or 0, 3000)
