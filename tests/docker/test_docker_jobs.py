"""LocalQuantumJob on the Docker runtime, against the real daemon and test image."""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from pathlib import Path

import aiodocker
import pytest
from support.docker import TEST_IMAGE, job_containers
from support.interrupting import run_and_interrupt

from braket_async import JobFailedError, JobState, LocalQuantumJob, RuntimeUnavailableError
from braket_async.runtimes import DockerRuntime

pytestmark = pytest.mark.anyio

DEVICE = "local:braket/braket.local.qubit"


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / "src" / f"{name}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def docker_job(**arguments: object) -> dict[str, object]:
    return {
        "runtime": "docker",
        "image_uri": TEST_IMAGE,
        "network_mode": "none",
        "local_container_update": False,
        **arguments,
    }


async def test_docker_job_result_logs_metadata_and_checkpoints(
    tmp_path: Path, docker: aiodocker.Docker
) -> None:
    source = write(
        tmp_path,
        "algo",
        """
        from braket.jobs import save_job_checkpoint, save_job_result, get_hyperparameters
        print("in a container")
        save_job_checkpoint({"k": 1}, checkpoint_file_suffix="a")
        save_job_result({"n": int(get_hyperparameters()["n"]) + 1})
        """,
    )
    job = await LocalQuantumJob.create(
        DEVICE,
        source,
        job_name="in-docker",
        hyperparameters={"n": 1},
        root=tmp_path,
        **docker_job(),  # type: ignore[arg-type]
    )
    assert await job.result() == {"n": 2}
    assert job.run_log == "in a container\n"
    assert (tmp_path / "in-docker" / "checkpoints" / "in-docker_a.json").is_file()
    metadata = await job.metadata()
    assert metadata["status"] == "COMPLETED"
    assert metadata["algorithmSpecification"]["containerImage"] == {"uri": TEST_IMAGE}
    assert await job_containers(docker, "in-docker") == []


async def test_docker_job_failure_and_cancel(tmp_path: Path, docker: aiodocker.Docker) -> None:
    failing = write(tmp_path, "failing", 'raise ValueError("bad input")\n')
    job = await LocalQuantumJob.create(DEVICE, failing, root=tmp_path, **docker_job())  # type: ignore[arg-type]
    with pytest.raises(JobFailedError, match="ValueError: bad input"):
        await job.result()

    blocking = write(
        tmp_path, "blocking", 'import time\nprint("ready", flush=True)\ntime.sleep(3600)\n'
    )
    job = await LocalQuantumJob.create(
        DEVICE,
        blocking,
        job_name="stopped",
        root=tmp_path,
        **docker_job(),  # type: ignore[arg-type]
    )
    async for event in job.logs(wait=True):
        if event.message == "ready":
            break
    assert await job_containers(docker, "stopped") != []
    assert await job.cancel(wait=True) == JobState.CANCELLED
    assert await job_containers(docker, "stopped") == []


async def test_a_missing_image_is_a_clear_error(tmp_path: Path) -> None:
    source = write(tmp_path, "algo", "pass\n")
    with pytest.raises(RuntimeUnavailableError, match="no-such-image"):
        await LocalQuantumJob.create(
            DEVICE,
            source,
            root=tmp_path,
            **docker_job(image_uri="no-such-image:1"),  # type: ignore[arg-type]
        )
    assert os.listdir(tmp_path) == ["src"]


async def test_twenty_docker_jobs_share_a_bounded_runtime(
    tmp_path: Path, docker: aiodocker.Docker
) -> None:
    source = write(
        tmp_path,
        "square",
        """
        from braket_async.jobs import get_hyperparameters, save_job_result
        n = int(get_hyperparameters()["n"])
        save_job_result({"square": n * n})
        """,
    )
    async with DockerRuntime(
        image_uri=TEST_IMAGE,
        network_mode="none",
        local_container_update=False,
        max_concurrent_jobs=4,
    ) as runtime:
        jobs = [
            await LocalQuantumJob.create(
                DEVICE, source, hyperparameters={"n": n}, runtime=runtime, root=tmp_path
            )
            for n in range(20)
        ]
        results = await asyncio.gather(*(job.result() for job in jobs))
    assert [result["square"] for result in results] == [n * n for n in range(20)]
    for job in jobs:
        assert await job_containers(docker, job.name) == []


async def test_ctrl_c_removes_the_container(tmp_path: Path, docker: aiodocker.Docker) -> None:
    await asyncio.to_thread(run_and_interrupt, tmp_path, "docker", TEST_IMAGE)
    assert await job_containers(docker, "interrupted") == []
    metadata = json.loads((tmp_path / "jobs" / "interrupted" / "metadata.json").read_text())
    assert metadata["failureReason"].startswith("Cancelled")
