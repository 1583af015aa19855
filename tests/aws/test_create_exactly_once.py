"""Exactly-once create: 100 concurrent creates over a network that drops and fails.

The emulator drops connections *after* CreateJob acted and answers 500 *before* it
acts, as a flaky network and service do. Whatever happens, the service holds one job
per create that returned, and no create raises for a job that exists.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.aws import SV1, session_for
from support.jobs import calls, write_module

from braket_async.aws import AwsQuantumJob, RetryPolicy
from braket_async.aws._submit import CLIENT_TOKEN_TAG
from braket_async.emulator import Faults
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import ConfigurationError, ServiceError

pytestmark = pytest.mark.anyio

CREATES = 100


async def test_100_creates_under_drops_and_5xx_make_exactly_100_jobs(
    fake_stack: EmulatorStack, tmp_path: Path
) -> None:
    fake_stack.emulator.set_faults(
        Faults(drop_rate=0.4, error_rate=0.3, operations=["CreateJob"], seed=3)
    )
    module = write_module(tmp_path, "algo")
    retry = RetryPolicy(max_attempts=None, base_delay=0.001, max_delay=0.01)
    async with session_for(fake_stack, retry=retry, rates={}) as session:
        jobs = await asyncio.gather(
            *(AwsQuantumJob.create(SV1, module, aws_session=session) for _ in range(CREATES))
        )
    assert calls(fake_stack, "CreateJob", "dropped") > 10
    assert calls(fake_stack, "CreateJob", "injected_errors") > 10
    service_arns = {record.arn for record in fake_stack.emulator.service.jobs}
    assert len(service_arns) == CREATES
    assert {job.arn for job in jobs} == service_arns


async def test_when_the_budget_runs_out_create_finds_the_job_or_says_none_exists(
    fake_stack: EmulatorStack, tmp_path: Path
) -> None:
    # Two attempts each: many creates end on a dropped answer (the job exists) or on a
    # 500 (it may or may not, depending on the first attempt).
    fake_stack.emulator.set_faults(
        Faults(drop_rate=0.5, error_rate=0.3, operations=["CreateJob"], seed=5)
    )
    module = write_module(tmp_path, "algo")
    retry = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01)
    async with session_for(fake_stack, retry=retry, rates={}) as session:
        outcomes = await asyncio.gather(
            *(AwsQuantumJob.create(SV1, module, aws_session=session) for _ in range(CREATES)),
            return_exceptions=True,
        )
    created = [job for job in outcomes if isinstance(job, AwsQuantumJob)]
    failed = [error for error in outcomes if not isinstance(error, AwsQuantumJob)]
    records = fake_stack.emulator.service.jobs
    # Both kinds happened: creates rescued by the search, and creates that made nothing.
    assert calls(fake_stack, "SearchJobs") > 0
    assert failed
    assert len(created) > len(failed)
    assert {record.arn for record in records} == {job.arn for job in created}
    existing_tokens = {record.client_token for record in records}
    for error in failed:
        assert isinstance(error, ServiceError)
        assert "no job was created" in str(error)
        assert "clientToken" in str(error)
        token = str(error).split("clientToken ")[1].split(";")[0]
        assert token not in existing_tokens
    for record in records:
        assert record.tags[CLIENT_TOKEN_TAG] == record.client_token


async def test_a_failed_search_says_the_outcome_is_unknown(
    fake_stack: EmulatorStack, tmp_path: Path
) -> None:
    # Every CreateJob is dropped after acting, every SearchJobs fails: the job exists,
    # and the error must not claim otherwise.
    fake_stack.emulator.set_faults(Faults(drop_rate=1.0, operations=["CreateJob"], seed=1))
    module = write_module(tmp_path, "algo")
    retry = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01)
    async with session_for(fake_stack, retry=retry, rates={}) as session:
        await session.default_bucket()
        fake_stack.emulator.set_faults(
            Faults(drop_rate=1.0, operations=["CreateJob", "SearchJobs"], seed=1)
        )
        try:
            await AwsQuantumJob.create(SV1, module, job_name="lost-answer", aws_session=session)
        except ServiceError as error:
            message = str(error)
        else:
            raise AssertionError("create returned although no answer came back")
    assert "'lost-answer'" in message
    assert "whether the job exists is unknown" in message
    (record,) = fake_stack.emulator.service.jobs
    assert record.client_token in message


async def test_a_create_repeated_with_its_client_token_returns_the_same_job(
    fake_stack: EmulatorStack, tmp_path: Path
) -> None:
    source = write_module(tmp_path, "algo")
    async with session_for(fake_stack) as session:
        first = await AwsQuantumJob.create(
            SV1, source, job_name="same", client_token="token-1", aws_session=session
        )
        again = await AwsQuantumJob.create(
            SV1, source, job_name="same", client_token="token-1", aws_session=session
        )
        assert again.arn == first.arn
        with pytest.raises(ConfigurationError, match="Invalid client_token"):
            await AwsQuantumJob.create(SV1, source, client_token="has space", aws_session=session)
