"""``@hybrid_job`` on Amazon Braket: the emulator runs the jobs for real (process
runtime), over real HTTP on loopback, with moto's S3 and CloudWatch behind it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import hybrid_job_functions as functions
import pytest
from support.aws import SV1, session_for

from braket_async import hybrid_job
from braket_async.aws import AwsQuantumJob, AwsSession
from braket_async.config import InstanceConfig
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import ConfigurationError

Staged = Callable[[], list[str]]

pytestmark = pytest.mark.anyio

CALLS = 5


async def test_concurrent_calls_make_remote_jobs_with_their_own_results(
    stack: EmulatorStack,
    session: AwsSession,
    tmp_path: Path,
    staged: Staged,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    calls = stack.emulator.stats.snapshot()
    run = hybrid_job(
        device=SV1,
        aws_session=session,
        tags={"team": "tests"},
        instance_config=InstanceConfig(instance_type="ml.m5.xlarge"),
    )(functions.describe)
    pickled = hybrid_job(device=SV1, target=session, serialization="cloudpickle")(
        functions.make_closure(5)
    )
    # Decorating calls nothing and writes nothing.
    assert stack.emulator.stats.snapshot() == calls
    assert sorted(os.listdir(tmp_path)) == before

    jobs = await asyncio.gather(*(asyncio.create_task(run(n, scale=10)) for n in range(CALLS)))
    closure_job = await pickled(1)
    assert all(isinstance(job, AwsQuantumJob) for job in jobs)
    assert len({job.arn for job in jobs}) == len({job.name for job in jobs}) == CALLS
    results = await asyncio.gather(*(job.result(poll_interval_seconds=0.2) for job in jobs))
    for n, (job, result) in enumerate(zip(jobs, results, strict=True)):
        assert result == {"args": [10 * n], "kwargs": {}, "job": job.name}
    assert await closure_job.result(poll_interval_seconds=0.2, allow_pickle=True) == {"result": 6}
    metadata = await jobs[0].metadata()
    assert metadata["tags"]["team"] == "tests"
    assert metadata["instanceConfig"]["instanceType"] == "ml.m5.xlarge"
    assert metadata["hyperParameters"] == {"scale": "10"}
    assert sorted(os.listdir(tmp_path)) == before
    assert staged() == []


async def test_a_remote_job_continues_from_another_ones_checkpoints_with_its_input(
    session: AwsSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "steps.txt").write_text("3")

    def first_run(path: str) -> dict[str, int]:
        from braket_async.jobs import save_job_checkpoint

        with open(path) as file:  # the local input file, at the path it was given
            steps = int(file.read())
        for step in range(steps):
            save_job_checkpoint({"step": step})
        return {"steps": steps}

    first = await hybrid_job(device=SV1, target=session, input_data="steps.txt")(first_run)(
        "steps.txt"
    )
    assert await first.result(poll_interval_seconds=0.2) == {"steps": 3}
    for source in (first.arn, first):
        run = hybrid_job(device=SV1, target=session, copy_checkpoints_from_job=source)
        job = await run(functions.resume)(first.name, 10)
        assert await job.result(poll_interval_seconds=0.2) == {"resumed_at": 2, "last": 12}
    with pytest.raises(ConfigurationError, match="a remote job is named by its ARN"):
        hybrid_job(device=SV1, target=session, copy_checkpoints_from_job=first.name)


async def test_options_that_do_not_apply_to_the_target_are_refused(
    fake_stack: EmulatorStack, fake_session: AwsSession
) -> None:
    session = fake_session
    calls = fake_stack.emulator.stats.snapshot()
    with pytest.raises(ConfigurationError, match="root= applies to local jobs only"):
        hybrid_job(device=SV1, aws_session=session, root="jobs")
    with pytest.raises(ConfigurationError, match="tags= applies to remote jobs only"):
        hybrid_job(device=None, local=True, tags={"a": "b"})
    with pytest.raises(ConfigurationError, match="not both"):
        hybrid_job(device=None, target=session, local=True)
    async with session_for(fake_stack) as other:
        with pytest.raises(ConfigurationError, match="leave aws_session out"):
            hybrid_job(device=None, target=session, aws_session=other)
    with pytest.raises(ConfigurationError, match="runtime= is for local jobs"):
        hybrid_job(device=None, runtime="process")
    with pytest.raises(ConfigurationError, match="serialization must be"):
        hybrid_job(device=None, serialization="pickle")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="logger must be"):
        hybrid_job(device=None, logger=print)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="quiet must be"):
        hybrid_job(device=None, quiet="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Invalid job name"):
        hybrid_job(device=None, job_name="no spaces")
    with pytest.raises(ConfigurationError, match="tags must be"):
        hybrid_job(device=None, tags={"a": 1})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="include_modules takes"):
        hybrid_job(device=None, include_modules=["not a name"])
    with pytest.raises(ConfigurationError, match="dependencies takes"):
        hybrid_job(device=None, dependencies=["ok", "two\nlines"])
    with pytest.raises(TypeError, match="decorates functions"):
        hybrid_job(device=None)(print)  # type: ignore[arg-type]
    assert fake_stack.emulator.stats.snapshot() == calls
