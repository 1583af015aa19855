"""A hundred remote jobs under one event loop, through faults and throttling."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.aws import SV1, session_for
from support.jobs import write_module

from braket_async.aws import AwsQuantumJob, RetryPolicy
from braket_async.emulator import Faults, RateLimits
from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

JOBS = 100


async def test_a_hundred_jobs_through_faults_every_result_once(
    stack: EmulatorStack, tmp_path: Path
) -> None:
    # Quota-shaped limits, sped up 50x so the test takes seconds; the client's own
    # limits are Braket's real ones scaled the same way, so throttling still happens
    # whenever the two disagree (the burst sizes differ).
    stack.emulator.set_rate_limits(RateLimits().scaled(50))
    stack.emulator.set_faults(
        Faults(
            error_rate=0.1, drop_rate=0.1, operations=["CreateJob", "GetJob", "SearchJobs"], seed=7
        )
    )
    source = write_module(
        tmp_path,
        "square",
        """
        from braket_async.jobs import get_hyperparameters, save_job_result
        n = int(get_hyperparameters()["n"])
        save_job_result({"square": n * n})
        """,
    )
    retry = RetryPolicy(max_attempts=None, base_delay=0.01, max_delay=0.2)
    async with session_for(stack, retry=retry) as session:
        session.limiter.rates = {
            name: type(rate)(rate.per_second * 50, rate.burst)
            for name, rate in session.limiter.rates.items()
        }
        jobs = await asyncio.gather(
            *(
                AwsQuantumJob.create(
                    SV1,
                    source,
                    hyperparameters={"n": n},
                    aws_session=session,
                    poll_interval_seconds=0.5,
                )
                for n in range(JOBS)
            )
        )
        results = await asyncio.gather(
            *(job.result(poll_interval_seconds=0.5, poll_timeout_seconds=600) for job in jobs)
        )
    assert [result["square"] for result in results] == [n * n for n in range(JOBS)]
    assert len(stack.emulator.service.jobs) == JOBS  # no job created twice
    counts = stack.emulator.stats.snapshot()
    assert counts["CreateJob"]["dropped"] + counts["CreateJob"]["injected_errors"] > 0
    assert counts["GetJob"]["succeeded"] <= 2 * JOBS
