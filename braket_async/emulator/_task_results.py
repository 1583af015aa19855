"""Where quantum task results go: ``results.json`` in the task's S3 folder (moto's S3)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiobotocore.session  # type: ignore[import-untyped]
import botocore.exceptions  # type: ignore[import-untyped]

from .._shield import finish
from ._endpoint import AwsEndpoint
from ._errors import validation_error
from ._tasks import QuantumTaskRecord

__all__ = ["RESULTS_FILENAME", "TaskResults"]

#: The file the service writes in a task's ``outputS3Directory``.
RESULTS_FILENAME = "results.json"


class TaskResults:
    """Checks output buckets and writes results, through one S3 client made on first use.

    Args:
        aws: The S3 endpoint and credentials.
    """

    def __init__(self, aws: AwsEndpoint) -> None:
        self.aws = aws
        self._stack = contextlib.AsyncExitStack()
        self._s3: Any = None
        self._lock = asyncio.Lock()
        self._known_buckets: set[str] = set()

    async def _client(self) -> Any:
        async with self._lock:
            if self._s3 is None:
                session = aiobotocore.session.get_session()
                self._s3 = await self._stack.enter_async_context(
                    session.create_client("s3", **self.aws.client_kwargs())
                )
            return self._s3

    async def check_bucket(self, bucket: str) -> None:
        """Refuse a task whose results could not be written, as the service does at
        creation; a bucket found once is not asked for again."""
        if bucket in self._known_buckets:
            return
        s3 = await self._client()
        try:
            await s3.head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError:
            raise validation_error(
                f"The output bucket {bucket} does not exist or the caller cannot write to it"
            ) from None
        self._known_buckets.add(bucket)

    async def write(self, record: QuantumTaskRecord, document: str) -> None:
        """Write ``document`` as the task's ``results.json``."""
        s3 = await self._client()
        await s3.put_object(
            Bucket=record.output_bucket,
            Key=f"{record.output_directory}/{RESULTS_FILENAME}",
            Body=document.encode(),
            ContentType="application/json",
        )

    async def aclose(self) -> None:
        """Close the S3 client. Idempotent."""
        await finish(self._stack.aclose())
