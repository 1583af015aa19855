"""An object store for what does not fit in a Ray package or log: S3 (or S3-compatible).

The job gets no credentials: the creator presigns one URL per object (the tree to
download, each output to upload), and the keeper uses them with ``urllib``. The creator
uses the AWS configuration of its own environment (variables, profile, role; the
supervisor inherits it), streams files through aiohttp, and removes the job's objects
when the job is closed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from ..._rules import parse_s3_uri
from ..._shield import finish
from ...errors import ContainerError

__all__ = ["ARCHIVE_TYPE", "PRESIGN_SECONDS", "ObjectStore"]

#: How long a presigned URL is valid: SigV4's maximum, seven days.
PRESIGN_SECONDS = 7 * 24 * 3600
_CHUNK = 1 << 20
#: The content type of every object: part of what a presigned upload is signed with.
ARCHIVE_TYPE = "application/x-tar"


class ObjectStore:
    """The objects of jobs under ``uri`` (``s3://bucket/prefix``)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.bucket, prefix = parse_s3_uri(uri, "storage")
        self.prefix = prefix.strip("/")
        self._session: Any = None
        self._http: aiohttp.ClientSession | None = None

    def key(self, *parts: str) -> str:
        """The key of ``parts`` under the store's prefix."""
        return "/".join([*([self.prefix] if self.prefix else []), *parts])

    async def _aws(self) -> Any:
        if self._session is None:
            from ...aws import AwsSession

            self._session = AwsSession(rates={})
        return self._session

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self._http

    async def presign(self, method: str, key: str, seconds: int = PRESIGN_SECONDS) -> str:
        """A URL that lets its holder ``GET`` or ``PUT`` the object ``key`` for ``seconds``."""
        session = await self._aws()
        client = await session.client("s3")
        params = {"Bucket": self.bucket, "Key": key}
        if method == "PUT":
            params["ContentType"] = ARCHIVE_TYPE
        operation = {"GET": "get_object", "PUT": "put_object"}[method]
        url: str = await client.generate_presigned_url(operation, Params=params, ExpiresIn=seconds)
        return url

    async def upload(self, path: Path, key: str) -> None:
        """Stream the file ``path`` to ``key``."""
        url = await self.presign("PUT", key, 3600)
        size = (await asyncio.to_thread(path.stat)).st_size
        file = await asyncio.to_thread(open, path, "rb")
        try:
            async with self._client().put(
                url, data=file, headers={"Content-Length": str(size), "Content-Type": ARCHIVE_TYPE}
            ) as response:
                if response.status >= 300:
                    text = await response.text(errors="replace")
                    raise ContainerError(
                        f"Uploading to {self._where(key)} failed (HTTP {response.status}): "
                        f"{text[:300]}"
                    )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ContainerError(f"Uploading to {self._where(key)} failed: {exc}") from exc
        finally:
            await asyncio.to_thread(file.close)

    async def download(self, key: str, path: Path) -> None:
        """Stream the object ``key`` into the new file ``path``."""
        url = await self.presign("GET", key, 3600)
        file = await asyncio.to_thread(open, path, "xb")
        try:
            async with self._client().get(url) as response:
                if response.status >= 300:
                    raise ContainerError(
                        f"Downloading {self._where(key)} failed (HTTP {response.status})"
                    )
                async for chunk in response.content.iter_chunked(_CHUNK):
                    await asyncio.to_thread(file.write, chunk)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ContainerError(f"Downloading {self._where(key)} failed: {exc}") from exc
        finally:
            await asyncio.to_thread(file.close)

    async def delete(self, keys: list[str]) -> None:
        """Remove ``keys`` (missing ones are no error)."""
        if not keys:
            return
        session = await self._aws()
        await session.call(
            "s3",
            "delete_objects",
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    async def aclose(self) -> None:
        """Close the store's clients. Idempotent."""
        http, self._http = self._http, None
        session, self._session = self._session, None
        if http is not None:
            await finish(http.close())
        if session is not None:
            await finish(session.aclose())
