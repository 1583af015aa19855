"""A create tars its source only once it holds its CreateJob rate slot, and uses that slot.

The session's clock gates every rate-limit wait on an event the test holds, so "the
create waits for its slot" is observed, not slept through: while it waits nothing of the
job is uploaded, and the archive it uploads afterwards holds what the source file says
when the slot comes, not when ``create()`` was called.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.aws import SV1, session_for
from support.jobs import calls, list_keys, read_object, tar_members, unique_name, write_module

from braket_async.aws import AwsQuantumJob, Clock, OperationRate, RetryPolicy
from braket_async.aws._submit import _HELD_SLOTS
from braket_async.emulator import Faults
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import ServiceError

pytestmark = pytest.mark.anyio

# One create at once, the next one a thousand seconds later: a second create always waits.
SLOW_CREATES = {"CreateJob": OperationRate(per_second=0.001, burst=1)}


class GatedClock(Clock):
    """A clock whose sleeps wait for :attr:`gate`; :attr:`sleeping` is set by each one."""

    def __init__(self) -> None:
        self.sleeping = asyncio.Event()
        self.gate = asyncio.Event()
        self.sleeps: list[float] = []
        super().__init__(sleep=self._sleep)

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.sleeping.set()
        await self.gate.wait()


async def test_the_source_is_tarred_once_the_slot_is_held(
    fake_stack: EmulatorStack, tmp_path: Path
) -> None:
    clock = GatedClock()
    first = write_module(tmp_path / "first", "algo")
    second = write_module(tmp_path / "second", "algo", "print('written before the slot')\n")
    async with session_for(fake_stack, rates=SLOW_CREATES, clock=clock) as session:
        bucket = await session.default_bucket()
        await AwsQuantumJob.create(SV1, first, aws_session=session)  # the one free slot
        assert clock.sleeps == []
        name = unique_name()
        create = asyncio.create_task(
            AwsQuantumJob.create(SV1, second, job_name=name, aws_session=session)
        )
        await clock.sleeping.wait()
        assert await list_keys(session, f"s3://{bucket}/jobs/{name}/") == []
        second.write_text("print('written while it waited')\n")
        clock.gate.set()
        job = await create
        script = (await job.metadata())["algorithmSpecification"]["scriptModeConfig"]
        archive = await read_object(session, script["s3Uri"])
    assert tar_members(archive) == {"algo.py": b"print('written while it waited')\n"}
    # The held slot served the CreateJob call: one wait for two creates, two calls.
    assert len(clock.sleeps) == 1
    assert calls(fake_stack, "CreateJob") == 2
    assert not _HELD_SLOTS.get(session)


async def test_a_create_cancelled_while_it_waits_for_its_slot_uploads_nothing(
    fake_stack: EmulatorStack, tmp_path: Path
) -> None:
    clock = GatedClock()
    module = write_module(tmp_path, "algo")
    async with session_for(fake_stack, rates=SLOW_CREATES, clock=clock) as session:
        bucket = await session.default_bucket()
        await AwsQuantumJob.create(SV1, module, aws_session=session)
        name = unique_name()
        create = asyncio.create_task(
            AwsQuantumJob.create(SV1, module, job_name=name, aws_session=session)
        )
        await clock.sleeping.wait()
        create.cancel()
        with pytest.raises(asyncio.CancelledError):
            await create
        assert await list_keys(session, f"s3://{bucket}/jobs/{name}/") == []
    assert calls(fake_stack, "CreateJob") == 1
    assert not _HELD_SLOTS.get(session)


@pytest.mark.parametrize("attempts", [1, 3])
async def test_a_failed_first_attempt_on_a_held_slot_keeps_the_retry_budget(
    fake_stack: EmulatorStack, tmp_path: Path, attempts: int
) -> None:
    # Every CreateJob answers 500: the attempts in all are the policy's, the held slot's
    # first one included, and each retry waits for a slot of its own.
    fake_stack.emulator.set_faults(Faults(error_rate=1.0, operations=["CreateJob"], seed=1))
    clock = GatedClock()
    clock.gate.set()
    module = write_module(tmp_path, "algo")
    retry = RetryPolicy(max_attempts=attempts, base_delay=0.001, max_delay=0.01)
    async with session_for(fake_stack, rates=SLOW_CREATES, retry=retry, clock=clock) as session:
        with pytest.raises(ServiceError):
            await AwsQuantumJob.create(SV1, module, aws_session=session)
    assert calls(fake_stack, "CreateJob") == attempts
    # No wait for the held slot (the first in the bucket); a backoff and a slot per retry.
    assert len(clock.sleeps) == 2 * (attempts - 1)
