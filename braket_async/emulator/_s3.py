"""S3 transfers of the job runner, through an aiobotocore S3 client."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import anyio.to_thread

from .._archives import safe_relative_path

__all__ = ["download_object", "download_prefix", "parse_s3_uri", "upload_folder"]

_S3_URI = re.compile(r"^s3://([^/]+)/?(.*)$")
_HTTPS_URI = re.compile(r"^https://([^/.]+)\.s3[.\-][^/]*amazonaws\.com/?(.*)$")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://`` or virtual-hosted ``https://`` S3 URI."""
    match = _S3_URI.match(uri) or _HTTPS_URI.match(uri)
    if match is None:
        raise ValueError(f"not an S3 URI: {uri!r}")
    return match.group(1), match.group(2)


async def download_object(s3: Any, uri: str) -> bytes:
    """The whole object at ``uri``."""
    bucket, key = parse_s3_uri(uri)
    response = await s3.get_object(Bucket=bucket, Key=key)
    async with response["Body"] as body:
        data: bytes = await body.read()
    return data


async def download_prefix(s3: Any, uri: str, folder: Path) -> int:
    """Download every object under ``uri`` into ``folder``; return how many.

    An object whose key is the prefix itself lands under its base name, others under
    their key relative to the prefix (like SageMaker's ``S3Prefix`` channels).
    """
    bucket, prefix = parse_s3_uri(uri)
    count = 0
    paginator = s3.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            key: str = item["Key"]
            if key.endswith("/"):
                continue
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            target = folder / safe_relative_path(relative)
            data = await download_object(s3, f"s3://{bucket}/{key}")
            await anyio.to_thread.run_sync(_write, target, data)
            count += 1
    return count


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def upload_folder(s3: Any, folder: Path, uri: str) -> int:
    """Upload every file under ``folder`` to ``uri``/<relative path>; return how many."""
    bucket, prefix = parse_s3_uri(uri)
    files = await anyio.to_thread.run_sync(_files, folder)
    for path in files:
        relative = path.relative_to(folder).as_posix()
        key = f"{prefix.rstrip('/')}/{relative}" if prefix.strip("/") else relative
        data = await anyio.to_thread.run_sync(path.read_bytes)
        await s3.put_object(Bucket=bucket, Key=key, Body=data)
    return len(files)


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found: list[Path] = []
    for root, _, names in os.walk(folder):
        found.extend(Path(root, name) for name in sorted(names))
    return found
