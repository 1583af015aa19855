"""Validation of job names and other user-supplied identifiers: job, channel, entry point."""

from __future__ import annotations

import os
import re
import time

from .errors import ConfigurationError

__all__ = [
    "default_job_name",
    "validate_channel_name",
    "validate_client_token",
    "validate_entry_point",
    "validate_job_name",
]

_JOB_NAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,50}(?<!-)$")
# SageMaker-style channel names, as the service accepts them.
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9\.\-_]{1,64}$")
_MODULE = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
# The job's container runs ``module`` as ``python -m`` would, or calls ``function`` of it.
_ENTRY_POINT = re.compile(rf"^{_MODULE}(?::[A-Za-z_][A-Za-z0-9_]*)?$")
# CreateJob's clientToken.
_CLIENT_TOKEN = re.compile(r"^[\x21-\x7e]{1,64}$")


def validate_job_name(name: str) -> str:
    """Return ``name`` if it is a valid job name, else raise :class:`ConfigurationError`."""
    if not isinstance(name, str) or not _JOB_NAME.fullmatch(name):
        raise ConfigurationError(
            f"Invalid job name {name!r}: use 1 to 50 letters, digits and hyphens, "
            "not starting or ending with a hyphen"
        )
    return name


def validate_channel_name(name: str) -> str:
    """Return ``name`` if it is a valid input channel name."""
    if not isinstance(name, str) or not _CHANNEL_NAME.fullmatch(name) or name in {".", ".."}:
        raise ConfigurationError(
            f"Invalid input channel name {name!r}: use 1 to 64 letters, digits, '.', '-', '_'"
        )
    return name


def validate_entry_point(entry_point: object) -> str:
    """Return ``entry_point`` if it is ``package.module`` or ``package.module:function``.

    Raises:
        ConfigurationError: It is not.
    """
    if not isinstance(entry_point, str) or not _ENTRY_POINT.fullmatch(entry_point):
        raise ConfigurationError(
            f"Invalid entry point {entry_point!r}: use 'package.module' or "
            "'package.module:function'"
        )
    return entry_point


def validate_client_token(token: object) -> str:
    """``token`` if it can be a CreateJob ``clientToken`` (1 to 64 printable ASCII
    characters, no spaces).

    Raises:
        ConfigurationError: It cannot.
    """
    if not isinstance(token, str) or not _CLIENT_TOKEN.fullmatch(token):
        raise ConfigurationError(
            f"Invalid client_token {token!r}: 1 to 64 printable ASCII characters, no spaces"
        )
    return token


def default_job_name(prefix: str) -> str:
    """A job name that is unique across processes: ``<prefix>-<ms timestamp>-<random>``.

    The official SDK uses ``<prefix>-<ms timestamp>`` alone, which collides when several
    jobs are created in the same millisecond.
    """
    suffix = f"{int(time.time() * 1000)}-{os.urandom(3).hex()}"
    prefix = re.sub(r"[^A-Za-z0-9-]+", "-", prefix).strip("-")[: 50 - len(suffix) - 1]
    return validate_job_name(f"{prefix}-{suffix}" if prefix else f"job-{suffix}")
