"""Test-wide settings: asyncio as the anyio backend, the AWS fixtures for every folder."""

from __future__ import annotations

import pytest

pytest_plugins = ["support.aws_fixtures"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
