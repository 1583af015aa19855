"""Waiting on the emulator's jobs in-process, woken by changes instead of polling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from braket_async.emulator import FakeRunner
from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

JobRequest = Callable[..., dict[str, Any]]


@pytest.mark.parametrize("fake_runner", [FakeRunner(auto_start=False, auto_finish=False)])
async def test_a_test_waits_for_jobs_it_has_no_arn_of(
    fake_stack: EmulatorStack, fake_runner: FakeRunner, job_request: JobRequest
) -> None:
    service = fake_stack.emulator.service

    async def client_program() -> None:  # stands for code under test that creates jobs
        async with fake_stack.client("braket") as braket:
            for name in ("one", "two"):
                await braket.create_job(**job_request(jobName=name))

    async with anyio.create_task_group() as group:
        group.start_soon(client_program)
        with anyio.fail_after(10):
            created = await service.wait_for_jobs(2)
            assert [job.name for job in created] == ["one", "two"]
            assert [job.status for job in created] == ["QUEUED", "QUEUED"]
            fake_runner.start(created[1].arn)
            running = await service.wait_for_jobs(1, states=["RUNNING"])
            assert [job.name for job in running] == ["two"]
            for job in created:
                fake_runner.start(job.arn)
                fake_runner.finish(job.arn)
            ended = await service.wait_for_jobs(2, states=["COMPLETED"])
    assert {job.name for job in ended} == {"one", "two"}
