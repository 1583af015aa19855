"""Fixtures for the Docker runtime tests: a real daemon and the test image.

``tests/docker/setup.sh`` provides both. There are no skips: without a daemon or the
image, the tests that need them fail (in their ``runtime`` fixture, with the
``RuntimeUnavailableError`` that says what to fix).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiodocker
import pytest
from support.docker import TEST_IMAGE, JobFactory, JobRecord, job_containers, run_job

from braket_async.runtimes._base import JobSpec
from braket_async.runtimes._docker import DockerRuntime


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def jobs(tmp_path: Path) -> JobFactory:
    return JobFactory(tmp_path / "code")


@pytest.fixture
async def docker() -> AsyncIterator[aiodocker.Docker]:
    """A client of its own, to look at what the runtime left behind."""
    client = aiodocker.Docker()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def runtime(jobs: JobFactory, docker: aiodocker.Docker) -> AsyncIterator[DockerRuntime]:
    """A runtime on the test image, checked to work; no job container may outlive a test.

    It does not try to update the image: where DNS hangs, each attempt would cost the
    whole pull timeout (the update is tested on its own).
    """
    runtime = DockerRuntime(image_uri=TEST_IMAGE, network_mode="none", local_container_update=False)
    async with runtime:
        await runtime.prepare(jobs.spec("pass"))
        yield runtime
    for name in jobs.names:
        assert await job_containers(docker, name) == [], f"containers of {name} left behind"


@pytest.fixture
def run(runtime: DockerRuntime, tmp_path: Path) -> Callable[[JobSpec], Awaitable[JobRecord]]:
    """``await run(spec)`` runs a job to its end and returns its :class:`JobRecord`."""
    counter = itertools.count()

    async def run_one(spec: JobSpec) -> JobRecord:
        return await run_job(runtime, spec, tmp_path / f"out-{next(counter)}")

    return run_one
