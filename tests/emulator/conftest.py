"""Fixtures for emulator tests on top of ``support.aws_fixtures``: raw clients, requests,
source tarballs, the quantum tasks' simulator workers."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from support.aws import ROLE, SV1

from braket_async.emulator import FakeRunner, SimulatorPool
from braket_async.emulator.testing import EmulatorStack, emulator_stack


@pytest.fixture
async def braket(fake_stack: EmulatorStack) -> AsyncIterator[Any]:
    """A Braket client of the fake-runner emulator that never retries."""
    async with fake_stack.client("braket") as client:
        yield client


@pytest.fixture
def bucket() -> str:
    return f"emulator-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def simulators() -> Iterator[SimulatorPool]:
    """Simulator workers shared by the session's emulators: a worker's start (importing
    the simulator) costs seconds, its reuse nothing."""
    pool = SimulatorPool(workers=2)
    yield pool
    pool.close()


@pytest.fixture
async def task_stack(
    moto_endpoint: str, fake_runner: FakeRunner, simulators: SimulatorPool
) -> AsyncIterator[EmulatorStack]:
    """The emulator running quantum tasks for real (jobs with ``fake_runner``)."""
    async with emulator_stack(
        runner=fake_runner, aws_endpoint_url=moto_endpoint, simulators=simulators
    ) as running:
        yield running


@pytest.fixture
async def task_bucket(task_stack: EmulatorStack, bucket: str) -> str:
    """A fresh bucket for quantum task results."""
    async with task_stack.client("s3") as s3:
        await s3.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def job_request(bucket: str) -> Callable[..., dict[str, Any]]:
    """CreateJob keyword arguments; keyword overrides replace top-level entries."""

    def build(**overrides: Any) -> dict[str, Any]:
        request: dict[str, Any] = {
            "jobName": "test-job",
            "roleArn": ROLE,
            "algorithmSpecification": {
                "scriptModeConfig": {
                    "entryPoint": "algo",
                    "s3Uri": f"s3://{bucket}/jobs/test-job/script/source.tar.gz",
                    "compressionType": "GZIP",
                }
            },
            "outputDataConfig": {"s3Path": f"s3://{bucket}/jobs/test-job/data"},
            "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 30},
            "deviceConfig": {"device": SV1},
        }
        request.update(overrides)
        return request

    return build


@pytest.fixture
async def official_sdk_environment(stack: EmulatorStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the official SDK needs to create jobs on :func:`stack`: only environment
    variables point it there (no code of it is changed), and the account has a jobs
    role for it to find."""
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    async with stack.client("iam") as iam:
        await iam.create_role(
            RoleName=f"AmazonBraketJobsExecutionRole-{uuid.uuid4().hex[:8]}",
            Path="/service-role/",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )


@pytest.fixture
def source_tarball() -> Callable[[dict[str, str]], bytes]:
    """Makes a ``source.tar.gz`` of dedented source files."""
    return make_tarball


def make_tarball(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
