"""Job and channel names follow the service's rules."""

from __future__ import annotations

import pytest

from braket_async._names import default_job_name, validate_channel_name, validate_job_name
from braket_async.errors import ConfigurationError


@pytest.mark.parametrize("name", ["a", "job-1", "A" * 50, "9-x"])
def test_valid_job_names(name: str) -> None:
    assert validate_job_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "a b", "a/b", "A" * 51, "ü"])
def test_invalid_job_names(name: str) -> None:
    with pytest.raises(ConfigurationError):
        validate_job_name(name)


@pytest.mark.parametrize("name", ["..", ".", "a/b", "", "x" * 65])
def test_invalid_channel_names(name: str) -> None:
    with pytest.raises(ConfigurationError):
        validate_channel_name(name)


def test_default_names_are_valid_unique_and_prefixed() -> None:
    names = {default_job_name("my_runtime" * 10) for _ in range(100)}
    assert len(names) == 100
    for name in names:
        assert validate_job_name(name) == name
        assert name.startswith("my-runtime")
