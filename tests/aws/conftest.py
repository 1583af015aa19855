"""Fixtures for remote-job tests: moto and the Braket emulator on loopback, over HTTP.

No developer AWS settings reach a test: the environment is stripped of ``AWS_*`` and
given fake credentials; every endpoint is 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from aws_helpers import ROLE, session_for

from braket_async.aws import AwsSession
from braket_async.emulator import FakeRunner
from braket_async.emulator.testing import EmulatorStack, clean_aws_environment, emulator_stack
from braket_async.emulator.testing import moto_server as start_moto_server


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


@pytest.fixture
async def session(stack: EmulatorStack) -> AsyncIterator[AwsSession]:
    async with session_for(stack) as opened:
        yield opened


@pytest.fixture
async def fake_session(fake_stack: EmulatorStack) -> AsyncIterator[AwsSession]:
    async with session_for(fake_stack) as opened:
        yield opened
