"""The pytest fixtures of every test that talks to AWS: moto and the Braket emulator on
loopback, over real HTTP, with fake credentials only.

Registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``). No
developer AWS settings reach a test: the environment is stripped of ``AWS_*`` and
``BRAKET_*`` and given fake credentials; every endpoint is 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from braket_async.aws import AwsSession
from braket_async.emulator import FakeRunner
from braket_async.emulator.testing import EmulatorStack, clean_aws_environment, emulator_stack
from braket_async.emulator.testing import moto_server as start_moto_server
from support.aws import ROLE, session_for


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and the test role; nothing of the developer's AWS settings."""
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
def fake_runner() -> FakeRunner:
    """A runner that completes every job at once; tests may parametrize another."""
    return FakeRunner()


@pytest.fixture
async def stack(moto_endpoint: str) -> AsyncIterator[EmulatorStack]:
    """The emulator running jobs for real on the process runtime, no rate limits."""
    async with emulator_stack(aws_endpoint_url=moto_endpoint) as running:
        yield running


@pytest.fixture
async def fake_stack(moto_endpoint: str, fake_runner: FakeRunner) -> AsyncIterator[EmulatorStack]:
    """The emulator with ``fake_runner`` (no job code runs), no rate limits."""
    async with emulator_stack(runner=fake_runner, aws_endpoint_url=moto_endpoint) as running:
        yield running


@pytest.fixture
async def session(stack: EmulatorStack) -> AsyncIterator[AwsSession]:
    """An :class:`AwsSession` on :func:`stack`."""
    async with session_for(stack) as opened:
        yield opened


@pytest.fixture
async def fake_session(fake_stack: EmulatorStack) -> AsyncIterator[AwsSession]:
    """An :class:`AwsSession` on :func:`fake_stack`."""
    async with session_for(fake_stack) as opened:
        yield opened
