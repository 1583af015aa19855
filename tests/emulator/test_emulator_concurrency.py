"""Many clients at once under injected faults: retries never create a job twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest

from braket_async.emulator import Faults
from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio


async def test_concurrent_creates_under_faults_make_each_job_once(
    fake_stack: EmulatorStack, job_request: Callable[..., dict[str, Any]]
) -> None:
    emulator = fake_stack.emulator
    emulator.set_faults(Faults(error_rate=0.2, drop_rate=0.2, seed=3))

    async def create(braket: Any, index: int) -> str:
        token = str(uuid.uuid4())
        while True:  # retry at once with the same token, as an SDK would after backoff
            try:
                answer = await braket.create_job(
                    clientToken=token, **job_request(jobName=f"job-{index}")
                )
            except (botocore.exceptions.ClientError, botocore.exceptions.HTTPClientError):
                continue
            return str(answer["jobArn"])

    async with fake_stack.client("braket") as braket:
        arns = await asyncio.gather(*(create(braket, index) for index in range(100)))
        emulator.set_faults(Faults())
        for arn in arns:
            await emulator.service.wait_for_job(arn)
        states = await asyncio.gather(*(braket.get_job(jobArn=arn) for arn in arns))

    assert len(set(arns)) == 100
    assert len(emulator.service.jobs) == 100
    assert {state["status"] for state in states} == {"COMPLETED"}
    counts = emulator.stats.snapshot()["CreateJob"]
    assert counts["succeeded"] == 100
    assert counts["calls"] == 100 + counts["injected_errors"] + counts["dropped"]
    assert counts["injected_errors"] > 0
    assert counts["dropped"] > 0
