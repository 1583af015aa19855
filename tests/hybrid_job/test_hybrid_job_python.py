"""A call pickled by value is refused before any job when the job's Python minor version
is known to differ from the caller's: a process runtime's interpreter, a Docker image, a
Braket image's ``-pyXY-`` tag."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import hybrid_job_functions as functions
import pytest

from braket_async import hybrid_job
from braket_async.aws import AwsSession
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import ConfigurationError
from braket_async.runtimes import DockerRuntime, ProcessRuntime

pytestmark = pytest.mark.anyio

OTHER = (3, 9) if sys.version_info[:2] != (3, 9) else (3, 10)
HERE = f"{sys.version_info[0]}.{sys.version_info[1]}"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
BRAKET_IMAGE = REGISTRY + "/amazon-braket-base-jobs:1.0-cpu-py{}{}-ubuntu22.04"


@pytest.fixture
def other_python(tmp_path: Path) -> Path:
    """An 'interpreter' that says it is another Python version when asked."""
    path = tmp_path / "python-other"
    path.write_text(f"#!/bin/sh\necho {OTHER[0]} {OTHER[1]}\n")
    path.chmod(0o755)
    return path


async def test_a_process_runtime_of_another_python_is_refused(
    jobs_root: Path, other_python: Path, staged: Any
) -> None:
    runtime = ProcessRuntime(python=other_python)
    async with runtime:
        run = hybrid_job(device=None, target=runtime, root=jobs_root)(functions.add)
        with pytest.raises(ConfigurationError) as refused:
            await run(1)
    message = str(refused.value)
    assert f"this program runs Python {HERE}, the job Python {OTHER[0]}.{OTHER[1]}" in message
    assert f"ProcessRuntime(python={str(other_python)!r})" in message
    assert "serialization='json'" in message
    assert os.listdir(jobs_root) == []
    assert staged() == []


@pytest.mark.parametrize(
    "image",
    [
        BRAKET_IMAGE.format(*OTHER),
        f"python:{OTHER[0]}.{OTHER[1]}-slim",
        f"docker.io/library/python:{OTHER[0]}.{OTHER[1]}.7@sha256:{'0' * 64}",
    ],
)
async def test_a_docker_image_of_another_python_is_refused(jobs_root: Path, image: str) -> None:
    # Refused before the Docker daemon is asked anything.
    run = hybrid_job(device=None, local=True, image_uri=image, root=jobs_root)(functions.add)
    with pytest.raises(ConfigurationError, match=f"the job Python {OTHER[0]}.{OTHER[1]}"):
        await run(1)
    runtime = DockerRuntime(image_uri=image)
    run = hybrid_job(device=None, target=runtime, root=jobs_root)(functions.add)
    with pytest.raises(ConfigurationError, match=f"image {image}"):
        await run(1)
    await runtime.aclose()
    assert os.listdir(jobs_root) == []


async def test_remote_jobs_are_checked_by_their_image_tag(
    fake_stack: EmulatorStack, fake_session: AwsSession
) -> None:
    calls = fake_stack.emulator.stats.snapshot()
    other = hybrid_job(device=None, target=fake_session, image_uri=BRAKET_IMAGE.format(*OTHER))
    with pytest.raises(ConfigurationError, match=f"the job Python {OTHER[0]}.{OTHER[1]}"):
        await other(functions.add)(1)
    assert fake_stack.emulator.stats.snapshot() == calls  # no CreateJob
    # By reference, the job may run another Python; the same version, or an image that
    # says none (Braket's default), is not refused.
    by_reference = hybrid_job(
        device=None,
        target=fake_session,
        image_uri=BRAKET_IMAGE.format(*OTHER),
        serialization="json",
    )
    same = hybrid_job(
        device=None, target=fake_session, image_uri=BRAKET_IMAGE.format(*sys.version_info[:2])
    )
    default = hybrid_job(device=None, target=fake_session)
    for decorator in (by_reference, same, default):
        job = await decorator(functions.add)(1)
        assert job.arn.startswith("arn:aws:braket:")
