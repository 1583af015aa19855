"""The bound on running jobs, changed while jobs wait for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import anyio
import pytest
from anyio import wait_all_tasks_blocked

from braket_async.emulator import AwsEndpoint, RuntimeJobRunner
from braket_async.emulator._slots import JobSlots
from braket_async.emulator.testing import EmulatorStack, emulator_stack

pytestmark = pytest.mark.anyio

JobRequest = Callable[..., dict[str, Any]]


async def test_raising_the_bound_lets_waiting_holders_in_at_once() -> None:
    slots = JobSlots(1)
    entered = [asyncio.Event() for _ in range(3)]
    release = asyncio.Event()

    async def holder(index: int) -> None:
        async with slots.hold():
            entered[index].set()
            await release.wait()

    async with anyio.create_task_group() as group:
        for index in range(3):
            group.start_soon(holder, index)
        await wait_all_tasks_blocked()  # the holders reached their waits
        assert (slots.held, [event.is_set() for event in entered]) == (1, [True, False, False])
        slots.set_limit(3)
        with anyio.fail_after(5):
            await entered[1].wait()
            await entered[2].wait()
        assert (slots.held, slots.waiting) == (3, 0)
        slots.set_limit(1)  # lowering stops nobody
        release.set()
    assert slots.held == 0


async def test_a_waiter_cancelled_as_it_gets_its_slot_passes_it_on() -> None:
    slots = JobSlots(1)
    first = slots.hold()
    await first.__aenter__()
    waiter = asyncio.create_task(slots.hold().__aenter__())
    await wait_all_tasks_blocked()
    assert slots.waiting == 1
    await first.__aexit__(None, None, None)  # grants the waiter's slot, which has not run
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (slots.held, slots.waiting) == (0, 0)
    async with slots.hold():
        assert slots.held == 1


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        JobSlots(0)
    with pytest.raises(ValueError, match="at least 1"):
        JobSlots().set_limit(0)


# Each job connects to the test, says its name and waits for a byte: the test decides
# when a job ends, and knows when one runs.
CONNECTING_JOB = """
    import os, socket
    from braket_async.jobs import get_hyperparameters
    port = int(get_hyperparameters()["port"])
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(os.environ["AMZN_BRAKET_JOB_NAME"].encode() + b"\\n")
        connection.recv(1)
"""


@pytest.fixture
async def bounded_stack(moto_endpoint: str) -> AsyncIterator[EmulatorStack]:
    runner = RuntimeJobRunner(AwsEndpoint(endpoint_url=moto_endpoint), max_concurrent_jobs=1)
    async with emulator_stack(aws_endpoint_url=moto_endpoint, runner=runner) as stack:
        yield stack


async def test_raising_max_concurrent_jobs_starts_a_queued_job(
    bounded_stack: EmulatorStack,
    bucket: str,
    job_request: JobRequest,
    source_tarball: Callable[[dict[str, str]], bytes],
) -> None:
    stack = bounded_stack
    connected: asyncio.Queue[tuple[str, asyncio.StreamWriter]] = asyncio.Queue()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await connected.put(((await reader.readline()).decode().strip(), writer))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, stack.client("s3") as s3, stack.client("braket") as braket:
        await s3.create_bucket(Bucket=bucket)
        await s3.put_object(
            Bucket=bucket,
            Key="jobs/test-job/script/source.tar.gz",
            Body=source_tarball({"algo.py": CONNECTING_JOB}),
        )
        arns = {}
        for name in ("first", "second"):
            request = job_request(jobName=name, hyperParameters={"port": str(port)})
            arns[name] = (await braket.create_job(**request))["jobArn"]
        with anyio.fail_after(30):
            running, first_writer = await connected.get()
        waiting = "second" if running == "first" else "first"
        assert stack.emulator.service.job(arns[waiting]).status == "QUEUED"

        url = f"{stack.emulator.endpoint_url}/_emulator/settings"
        async with (
            aiohttp.ClientSession() as http,
            http.patch(url, json={"max_concurrent_jobs": 2}) as answer,
        ):
            assert answer.status == 200
            assert (await answer.json())["max_concurrent_jobs"] == 2
        with anyio.fail_after(30):
            started, second_writer = await connected.get()
        assert started == waiting
        assert stack.emulator.service.job(arns[running]).status == "RUNNING"

        for writer in (first_writer, second_writer):
            writer.write(b"x")
            await writer.drain()
            writer.close()
        with anyio.fail_after(30):
            for arn in arns.values():
                record = await stack.emulator.service.wait_for_job(arn)
                assert record.status == "COMPLETED", record.failure_reason
