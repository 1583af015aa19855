"""``@hybrid_job`` on the Docker runtime: a real daemon and the test image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import hybrid_job_functions as functions
import pytest
from support.docker import TEST_IMAGE

from braket_async import hybrid_job
from braket_async.runtimes import DockerRuntime

Staged = Callable[[], list[str]]

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


async def test_a_call_runs_in_a_container(jobs_root: Path, staged: Staged) -> None:
    runtime = DockerRuntime(image_uri=TEST_IMAGE, network_mode="none", local_container_update=False)
    async with runtime:
        run = hybrid_job(device=None, target=runtime, root=jobs_root)(functions.describe)
        job = await run("a", 2, scale=2, where="docker")
        result = await job.result(poll_interval_seconds=0.2)
    assert result == {"args": ["aa", 4], "kwargs": {"where": "docker"}, "job": job.name}
    assert (await job.metadata())["runtime"] == "docker"
    assert staged() == []
