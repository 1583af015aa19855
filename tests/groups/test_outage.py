"""Groups and sweeps whose service goes away: a real ``braket-async emulator`` process,
killed (and started again on the same port) while jobs run on it."""

from __future__ import annotations

import signal
import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from support.aws import SV1
from support.emulator_process import EmulatorProcess, emulator_process

from braket_async import (
    JobEvent,
    JobGroup,
    JobNotFoundError,
    JobState,
    RetryEvent,
    ServiceError,
    sweep,
)
from braket_async.aws import AwsSession, RetryPolicy
from braket_async.emulator.testing import clean_aws_environment

pytestmark = pytest.mark.anyio

FAST = 0.05
# A job runs until the gate file exists, unless its hyperparameters say it is free.
GATED = """
import os, time
from braket_async.jobs import get_hyperparameters, save_job_result
hyperparameters = get_hyperparameters()
while hyperparameters.get("free") != "yes" and not os.path.exists(hyperparameters["gate"]):
    time.sleep(0.05)
save_job_result({"x": hyperparameters["x"]})
"""


def write(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "gated.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(GATED))
    return path


@asynccontextmanager
async def emulator_on(moto_endpoint: str, port: int = 0) -> AsyncIterator[EmulatorProcess]:
    """The emulator as a process of its own, on ``moto_endpoint`` (which outlives it)."""
    async with emulator_process(
        "--port",
        str(port),
        "--aws-endpoint-url",
        moto_endpoint,
        "--no-rate-limits",
        environment=clean_aws_environment(),
    ) as running:
        yield running


def session_on(running: EmulatorProcess) -> AwsSession:
    # Few, short attempts per call: the group's own retries are what is tested.
    return running.session(retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05))


async def kill(running: EmulatorProcess) -> None:
    """``kill -9`` the emulator; read its output to the end (which closes the pipe)."""
    running.process.send_signal(signal.SIGKILL)
    await running.process.wait()
    assert running.process.stdout is not None
    with anyio.fail_after(30):  # its jobs' supervisors, which hold it too, end with it
        await running.process.stdout.read()


async def test_a_group_whose_service_vanishes_ends_within_the_bound(
    moto_endpoint: str, tmp_path: Path
) -> None:
    source, gate = write(tmp_path), str(tmp_path / "gate")
    bound = 1.5
    events: list[JobEvent | RetryEvent] = []
    async with emulator_on(moto_endpoint) as running, session_on(running) as session:
        async with JobGroup(poll_interval_seconds=FAST, unreachable_timeout=bound) as group:
            stream = group.events()
            job = await group.create(
                SV1, source, target=session, hyperparameters={"x": 1, "gate": gate}
            )
            async for event in stream:
                events.append(event)
                if isinstance(event, JobEvent) and event.new_state is JobState.RUNNING:
                    break
            await kill(running)
            killed = time.monotonic()
            with anyio.fail_after(60):  # the bound, the attempts' own time, a loaded machine
                with pytest.raises(ServiceError) as lost:
                    await group.wait(job)
                waited = time.monotonic() - killed
                # A create on the dead service: retried the same way, then its last error.
                with pytest.raises(ServiceError) as not_created:
                    await group.create(
                        SV1, source, target=session, job_name="late", hyperparameters={"x": 2}
                    )
            group.end_events()
            events += [event async for event in stream]
        results = await group.results()
    assert waited >= bound
    assert lost.value.code == "ConnectionError"
    assert results == [lost.value]
    assert not_created.value.code == "ConnectionError"
    assert "creating job 'late'" in str(not_created.value)

    retries = [event for event in events if isinstance(event, RetryEvent)]
    watch = [event for event in retries if event.operation == "watch"]
    assert watch, events
    assert all(event.job is job and event.error is not None for event in watch)
    assert [event.attempt for event in watch] == list(range(1, len(watch) + 1))
    assert all(event.retry_at is not None for event in watch[:-1])
    assert watch[-1].gave_up
    assert watch[-1].error is lost.value
    assert watch[-1].time - watch[0].since >= bound
    create = [event for event in retries if event.operation == "create"]
    assert create[0].job is None
    assert create[0].job_name == "late"
    assert create[0].retry_at is not None
    assert create[-1].gave_up
    assert create[-1].error is not_created.value


async def test_a_remote_sweep_whose_service_restarts_returns_every_point(
    moto_endpoint: str, tmp_path: Path
) -> None:
    source, gate = write(tmp_path), tmp_path / "gate"
    # Points 0 and 1 are free; 2 to 6 wait for the gate. Four at a time: 0-3 first, then
    # 4 and 5 once 0 and 1 completed, and 6 once a slot frees.
    points = [{"x": x, "gate": str(gate), "free": "yes" if x < 2 else "no"} for x in range(7)]
    seen: list[JobEvent | RetryEvent] = []
    restarted, swept_all = anyio.Event(), anyio.Event()

    async with emulator_on(moto_endpoint) as first:
        port = int(first.url.rsplit(":", 1)[1])
        async with session_on(first) as session, anyio.create_task_group() as helpers:

            async def restart_when_halfway() -> None:
                while True:
                    states = {e.job.arn: e.new_state for e in seen if isinstance(e, JobEvent)}
                    now = list(states.values())
                    if now.count(JobState.COMPLETED) == 2 and now.count(JobState.RUNNING) == 4:
                        break
                    await anyio.sleep(FAST)  # the events come in through on_event
                await kill(first)
                gate.touch()  # what runs after the restart is not held
                async with emulator_on(moto_endpoint, port):
                    restarted.set()
                    await swept_all.wait()  # not cancelled: the emulator is stopped in order

            helpers.start_soon(restart_when_halfway)
            with anyio.fail_after(120):
                swept = await sweep(
                    source,
                    points=points,
                    target=session,
                    device=SV1,
                    max_concurrent_jobs=4,
                    on_error="collect",
                    on_event=seen.append,
                    progress=False,
                    poll_interval_seconds=FAST,
                )
            assert restarted.is_set()
            swept_all.set()

    assert [point.hyperparameters["x"] for point in swept] == list(range(7))
    for point in (swept[0], swept[1], swept[6]):
        assert point.state is JobState.COMPLETED, point.error
        assert point.result == {"x": str(point.hyperparameters["x"])}
    for point in swept[2:6]:
        assert point.job is not None
        assert point.state is None
        assert point.result is None
        assert isinstance(point.error, JobNotFoundError)
        assert point.job.arn in str(point.error)
        assert "vanished while the group waited on it, last seen RUNNING" in str(point.error)
