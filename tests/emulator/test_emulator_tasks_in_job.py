"""The hybrid loop offline: a job run by the emulator (process runtime) creates quantum
tasks with the official SDK, waits for their results and tracks their cost."""

from __future__ import annotations

import asyncio
import json
import textwrap
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from support.aws import SV1

from braket_async.emulator import SimulatorPool
from braket_async.emulator.testing import EmulatorStack, emulator_stack

pytestmark = pytest.mark.anyio

ALGO = """
    import os

    from braket.aws import AwsDevice
    from braket.circuits import Circuit
    from braket.jobs import save_job_result
    from braket.tracking import Tracker

    with Tracker() as tracker:
        device = AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"])
        tasks = [device.run(Circuit().h(0).cnot(0, 1), shots=100) for _ in range(3)]
        counts = [dict(task.result().measurement_counts) for task in tasks]
    save_job_result(
        {
            "counts": counts,
            "tasks": [task.id for task in tasks],
            "cost": str(tracker.simulator_tasks_cost()),
        }
    )
"""


@pytest.fixture
async def job_stack(moto_endpoint: str, simulators: SimulatorPool) -> AsyncIterator[EmulatorStack]:
    """The emulator running jobs as processes and their quantum tasks for real."""
    async with emulator_stack(aws_endpoint_url=moto_endpoint, simulators=simulators) as stack:
        yield stack


async def test_a_jobs_tasks_carry_the_job_and_their_results_are_right(
    job_stack: EmulatorStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in job_stack.environment().items():
        monkeypatch.setenv(name, value)
    source = tmp_path / "src" / "algo.py"
    source.parent.mkdir()
    source.write_text(textwrap.dedent(ALGO))
    monkeypatch.chdir(tmp_path)  # the official result() extracts into the working directory
    async with job_stack.client("iam") as iam:
        await iam.create_role(
            RoleName=f"AmazonBraketJobsExecutionRole-{uuid.uuid4().hex[:8]}",
            Path="/service-role/",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )

    def run_job() -> tuple[str, dict[str, Any], list[str]]:
        from braket.aws import AwsQuantumJob

        loop = asyncio.new_event_loop()  # the official waits need one in this thread
        asyncio.set_event_loop(loop)
        try:
            job = AwsQuantumJob.create(
                device=SV1,
                source_module=str(source),
                job_name=f"tasks-{uuid.uuid4().hex[:8]}",
                wait_until_complete=False,
            )
            result = dict(job.result(poll_timeout_seconds=600, poll_interval_seconds=0.2))
            return job.arn, result, [task.id for task in job.get_tasks()]
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    arn, result, listed = await anyio.to_thread.run_sync(run_job)

    assert sorted(listed) == sorted(result["tasks"])
    records = [job_stack.emulator.service.quantum_tasks.record(task) for task in listed]
    assert {record.job_arn for record in records} == {arn}
    assert {record.status for record in records} == {"COMPLETED"}
    for counts in result["counts"]:
        assert set(counts) <= {"00", "11"}
        assert sum(counts.values()) == 100
    # Each task billed the minimum 3 s at the emulator's in-job SV1 price, 0.05 a minute.
    assert Decimal(result["cost"]) == Decimal("0.0075")
