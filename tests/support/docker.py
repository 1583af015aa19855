"""Helpers shared by the Docker runtime tests."""

from __future__ import annotations

import contextlib
import io
import secrets
import tarfile
import textwrap
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiodocker
import attrs
import pytest

from braket_async.runtimes._base import JobSpec
from braket_async.runtimes._docker import JOB_LABEL, DockerRuntime

#: Built by ``tests/docker/setup.sh``: Debian minbase with python3, no network needed.
TEST_IMAGE = "braket-async-test:python3"
#: A registry address that refuses connections: pulls from it fail at once, on loopback.
LOOPBACK_REGISTRY = "127.0.0.1:9"
#: ``LocalQuantumJob.create()`` options of a Docker job on the test image.
DOCKER_OPTIONS = {
    "runtime": "docker",
    "image_uri": TEST_IMAGE,
    "network_mode": "none",
    "local_container_update": False,
}
#: Both runtimes of local jobs, as the ``create()`` options of a parametrized test (the
#: Docker one with the ``docker`` marker): the same program runs on each.
LOCAL_RUNTIMES = [
    pytest.param({"runtime": "process"}, id="process"),
    pytest.param(DOCKER_OPTIONS, id="docker", marks=pytest.mark.docker),
]


@attrs.define
class JobRecord:
    """What one test job produced."""

    lines: list[str]
    exit_code: int
    failure: str | None
    results: Path  # what the job left in /opt/ml/model
    checkpoints: Path
    refused: tuple[str, ...] = ()


@attrs.define
class JobFactory:
    """Writes job code into a temporary folder and makes uniquely named specs."""

    root: Path
    names: list[str] = attrs.field(factory=list)

    def spec(self, source: str, **overrides: Any) -> JobSpec:
        """A spec running ``source`` (dedented) as the module ``job``."""
        name = f"docker-test-{secrets.token_hex(6)}"
        self.names.append(name)
        code = self.root / name / "job.py"
        code.parent.mkdir(parents=True)
        code.write_text(textwrap.dedent(source))
        fields: dict[str, Any] = {
            "job_name": name,
            "job_arn": f"local:job/{name}",
            "device": "local:none/none",
            "entry_point": "job",
            "code": code,
        }
        fields.update(overrides)
        return JobSpec(**fields)


async def job_containers(docker: aiodocker.Docker, name: str) -> list[str]:
    """Ids of all containers (running or not) labelled as belonging to job ``name``."""
    found = await docker.containers.list(all=True, filters={"label": [f"{JOB_LABEL}={name}"]})
    return [container.id for container in found]


async def run_job(runtime: DockerRuntime, spec: JobSpec, destination: Path) -> JobRecord:
    """Run ``spec`` to its end the way a job handle does, always closing the execution."""
    execution = await runtime.start(spec)
    try:
        lines = [line async for line in execution.output()]
        exit_code = await execution.wait()
        outputs = await execution.collect(destination)
    finally:
        await execution.aclose()
    return JobRecord(
        lines,
        exit_code,
        outputs.failure_reason,
        destination / "model",
        destination / "checkpoints",
        outputs.refused,
    )


@contextlib.asynccontextmanager
async def derived_image(
    docker: aiodocker.Docker, changes: str, files: Mapping[str, bytes] | None = None
) -> AsyncIterator[str]:
    """A throw-away image: the test image plus ``files`` and Dockerfile ``changes``."""
    tag = f"derived-{secrets.token_hex(4)}"
    donor = await docker.containers.create({"Image": TEST_IMAGE, "Cmd": ["true"]})
    try:
        if files:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                for name, data in files.items():
                    info = tarfile.TarInfo(name.lstrip("/"))
                    info.size = len(data)
                    info.mode = 0o755  # scripts among them can run
                    tar.addfile(info, io.BytesIO(data))
            await donor.put_archive("/", buffer.getvalue())
        await donor.commit(repository="braket-async-test", tag=tag, changes=changes)
    finally:
        await donor.delete(force=True)
    try:
        yield f"braket-async-test:{tag}"
    finally:
        await docker.images.delete(f"braket-async-test:{tag}", force=True)
