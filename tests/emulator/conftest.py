"""Fixtures for emulator tests: moto and the emulator on loopback, fake credentials only."""

from __future__ import annotations

import io
import os
import tarfile
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from braket_async.emulator import FakeRunner
from braket_async.emulator.testing import EmulatorStack, clean_aws_environment, emulator_stack
from braket_async.emulator.testing import moto_server as start_moto_server

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonBraketJobsExecutionRole"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer AWS settings reach a test: fake credentials, no config files."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in clean_aws_environment({}).items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the session; tests use fresh bucket names."""
    with start_moto_server() as url:
        yield url


@pytest.fixture
def fake_runner() -> FakeRunner:
    """A runner that completes every job at once; tests may replace it."""
    return FakeRunner()


@pytest.fixture
async def fake_stack(moto_endpoint: str, fake_runner: FakeRunner) -> AsyncIterator[EmulatorStack]:
    """The emulator with a fake runner (no job code runs), no rate limits."""
    async with emulator_stack(runner=fake_runner, aws_endpoint_url=moto_endpoint) as stack:
        yield stack


@pytest.fixture
async def real_stack(moto_endpoint: str) -> AsyncIterator[EmulatorStack]:
    """The emulator running jobs for real on the process runtime."""
    async with emulator_stack(aws_endpoint_url=moto_endpoint) as stack:
        yield stack


@pytest.fixture
async def braket(fake_stack: EmulatorStack) -> AsyncIterator[Any]:
    """A Braket client of the fake-runner emulator that never retries."""
    async with fake_stack.client("braket") as client:
        yield client


@pytest.fixture
def bucket() -> str:
    return f"emulator-test-{uuid.uuid4().hex[:12]}"


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
