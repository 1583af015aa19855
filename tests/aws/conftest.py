"""Fixtures for remote-job tests: moto and the Braket emulator on loopback, over HTTP.

No developer AWS settings reach a test: the environment is stripped of ``AWS_*`` and
given fake credentials; every endpoint is 127.0.0.1.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from braket_async.aws import AwsSession
from braket_async.emulator import FakeRunner
from braket_async.emulator.testing import EmulatorStack, clean_aws_environment, emulator_stack
from braket_async.emulator.testing import moto_server as start_moto_server

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonBraketJobsExecutionRole"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "BRAKET_")):
            monkeypatch.delenv(name)
    for name, value in clean_aws_environment({}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BRAKET_JOBS_ROLE_ARN", ROLE)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the session; tests use fresh bucket names."""
    with start_moto_server() as url:
        yield url


@pytest.fixture
async def stack(moto_endpoint: str) -> AsyncIterator[EmulatorStack]:
    """The emulator running jobs for real on the process runtime, no rate limits."""
    async with emulator_stack(aws_endpoint_url=moto_endpoint) as running:
        yield running


@pytest.fixture
async def fake_stack(moto_endpoint: str) -> AsyncIterator[EmulatorStack]:
    """The emulator with a runner that completes every job at once."""
    async with emulator_stack(runner=FakeRunner(), aws_endpoint_url=moto_endpoint) as running:
        yield running


def session_for(stack: EmulatorStack, **options: object) -> AwsSession:
    """An AwsSession whose Braket is the emulator and everything else moto."""
    moto = stack.aws.endpoint_url
    endpoints = {"s3": moto, "logs": moto, "sts": moto, "iam": moto}
    endpoints["braket"] = stack.emulator.endpoint_url
    options.setdefault("default_bucket", f"braket-async-test-{uuid.uuid4().hex[:12]}")
    return AwsSession(region=stack.aws.region, endpoint_urls=endpoints, **options)  # type: ignore[arg-type]


@pytest.fixture
async def session(stack: EmulatorStack) -> AsyncIterator[AwsSession]:
    async with session_for(stack) as opened:
        yield opened


@pytest.fixture
async def fake_session(fake_stack: EmulatorStack) -> AsyncIterator[AwsSession]:
    async with session_for(fake_stack) as opened:
        yield opened
