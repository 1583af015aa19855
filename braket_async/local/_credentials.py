"""The AWS credentials a local job gets from ``create(..., aws_session=...)``."""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from ..errors import ConfigurationError

__all__ = ["session_environment"]


async def session_environment(session: object) -> dict[str, str]:
    """Environment variables with ``session``'s credentials and region.

    ``session`` is a :class:`braket_async.aws.AwsSession` or the official SDK's
    ``AwsSession`` (its ``boto_session`` is read in a worker thread).

    Raises:
        ConfigurationError: ``session`` is neither, or has no credentials.
    """
    from ..aws import AwsSession

    if isinstance(session, AwsSession):
        return await session.job_environment()
    boto: Any = getattr(session, "boto_session", None)
    if boto is None:
        raise ConfigurationError(
            f"aws_session must be a braket_async.aws.AwsSession or the official SDK's "
            f"AwsSession, not {type(session).__name__}"
        )

    def read() -> dict[str, str]:
        credentials = boto.get_credentials()
        if credentials is None:
            raise ConfigurationError("The aws_session has no credentials to give the job")
        frozen = credentials.get_frozen_credentials()
        environment = {
            "AWS_ACCESS_KEY_ID": frozen.access_key,
            "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
        }
        if frozen.token:
            environment["AWS_SESSION_TOKEN"] = frozen.token
        if boto.region_name:
            environment["AWS_DEFAULT_REGION"] = environment["AWS_REGION"] = boto.region_name
        return environment

    return await anyio.to_thread.run_sync(read)
