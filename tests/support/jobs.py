"""Helpers for the AwsQuantumJob tests: job code on disk, S3 reads, emulator stacks."""

from __future__ import annotations

import contextlib
import io
import tarfile
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from braket_async.aws import AwsSession
from braket_async.emulator import FakeRunner
from braket_async.emulator.testing import EmulatorStack, emulator_stack
from braket_async.errors import ServiceError
from support.aws import session_for

BASE_IMAGE = "292282985366.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-base-jobs:latest"


def write_module(folder: Path, name: str, source: str = "print('hello')\n") -> Path:
    """Write ``<folder>/<name>.py`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def listing(folder: Path) -> list[str]:
    """The names in ``folder``, sorted."""
    return sorted(path.name for path in folder.iterdir())


def unique_name(stem: str = "job") -> str:
    return f"{stem}-{uuid.uuid4().hex[:10]}"


def split_s3(uri: str) -> tuple[str, str]:
    assert uri.startswith("s3://"), uri
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


async def read_object(session: AwsSession, uri: str) -> bytes:
    bucket, key = split_s3(uri)
    response = await session.call("s3", "get_object", Bucket=bucket, Key=key)
    async with response["Body"] as body:
        data: bytes = await body.read()
    return data


async def put_object(session: AwsSession, uri: str, data: bytes) -> None:
    bucket, key = split_s3(uri)
    await session.call("s3", "put_object", Bucket=bucket, Key=key, Body=data)


async def list_keys(session: AwsSession, uri: str) -> list[str]:
    bucket, prefix = split_s3(uri)
    page = await session.call("s3", "list_objects_v2", Bucket=bucket, Prefix=prefix)
    return sorted(str(item["Key"]) for item in page.get("Contents", ()))


async def bucket_exists(session: AwsSession, bucket: str) -> bool:
    try:
        await session.call("s3", "head_bucket", Bucket=bucket)
    except ServiceError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def tar_members(data: bytes) -> dict[str, bytes | None]:
    """Names of a tar.gz's members, with the contents of regular files."""
    members: dict[str, bytes | None] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            extracted = archive.extractfile(member) if member.isfile() else None
            members[member.name] = extracted.read() if extracted else None
    return members


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@contextlib.asynccontextmanager
async def fake_stack_with(
    moto_endpoint: str, runner: FakeRunner
) -> AsyncIterator[tuple[EmulatorStack, AwsSession]]:
    """An emulator with ``runner`` and a session on it."""
    async with (
        emulator_stack(runner=runner, aws_endpoint_url=moto_endpoint) as stack,
        session_for(stack) as session,
    ):
        yield stack, session


def calls(stack: EmulatorStack, operation: str, counter: str = "calls") -> int:
    return stack.emulator.stats.get(operation, counter)
