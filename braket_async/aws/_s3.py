"""S3 for remote jobs: addresses, the source archive, uploads and prefix copies.

Uploads are single ``PutObject`` calls (up to S3's 5 GB object limit); multipart uploads
are not implemented.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from .._rules import parse_s3_uri

if TYPE_CHECKING:
    from ._session import AwsSession

__all__ = [
    "UPLOAD_CONCURRENCY",
    "copy_s3_prefix",
    "join_s3",
    "parse_s3_uri",
    "tar_gz_source",
    "upload_path",
]

UPLOAD_CONCURRENCY = 8


def join_s3(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *(part.strip("/") for part in parts)])


def tar_gz_source(path: Path) -> bytes:
    """The source module as ``source.tar.gz``: the file or folder under its own name."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.dereference = True
        archive.add(path, arcname=path.name)
    return buffer.getvalue()


def _files_under(path: Path) -> list[tuple[Path, str]]:
    """``(file, relative name)`` for a file (its own name) or every file of a folder."""
    if path.is_file():
        return [(path, path.name)]
    found = []
    for root, _, names in os.walk(path):
        for name in sorted(names):
            file = Path(root, name)
            found.append((file, file.relative_to(path).as_posix()))
    return found


async def upload_path(session: AwsSession, path: Path, uri: str) -> None:
    """Upload a file to ``uri``, or a folder's files to ``uri/<relative path>``."""
    files = await anyio.to_thread.run_sync(_files_under, path)
    bucket, prefix = parse_s3_uri(uri)
    single = files == [(path, path.name)]
    limit = anyio.Semaphore(UPLOAD_CONCURRENCY)

    async def upload(file: Path, relative: str) -> None:
        async with limit:
            data = await anyio.to_thread.run_sync(file.read_bytes)
            key = prefix if single else f"{prefix.rstrip('/')}/{relative}"
            await session.call("s3", "put_object", Bucket=bucket, Key=key, Body=data)

    async with anyio.create_task_group() as group:
        for file, relative in files:
            group.start_soon(upload, file, relative)


async def copy_s3_prefix(session: AwsSession, source: str, destination: str) -> int:
    """Copy every object under ``source`` to the same relative key under ``destination``.

    Returns how many objects were copied; nothing happens when both are the same.
    """
    if source.rstrip("/") == destination.rstrip("/"):
        return 0
    source_bucket, source_prefix = parse_s3_uri(source)
    target_bucket, target_prefix = parse_s3_uri(destination)
    source_prefix = source_prefix.rstrip("/")
    target_prefix = target_prefix.rstrip("/")
    params: dict[str, Any] = {"Bucket": source_bucket, "Prefix": f"{source_prefix}/"}
    count = 0
    while True:
        page = await session.call("s3", "list_objects_v2", **params)
        for item in page.get("Contents", ()):
            key = str(item["Key"])
            relative = key[len(source_prefix) :].lstrip("/")
            await session.call(
                "s3",
                "copy_object",
                Bucket=target_bucket,
                Key=f"{target_prefix}/{relative}" if target_prefix else relative,
                CopySource={"Bucket": source_bucket, "Key": key},
            )
            count += 1
        if not page.get("IsTruncated"):
            return count
        params["ContinuationToken"] = page["NextContinuationToken"]
