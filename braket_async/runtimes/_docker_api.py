"""The Docker daemon's API as the runtime uses it: calls that need care, and the one
boundary where aiodocker's and aiohttp's errors become :mod:`braket_async.errors`.

aiodocker's private ``_do_query`` is used where its public API falls short:
:func:`open_get` (its public ``get_archive()`` holds a whole archive in memory),
:func:`stat_path` (no ``HEAD``) and ``_docker_attach.open_attach`` (the attach stream read
in big pieces). The aiodocker version is capped in ``pyproject.toml`` for that reason.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import aiodocker
import aiohttp
import anyio
from aiodocker.containers import DockerContainer
from aiodocker.exceptions import DockerError

from .._archives import extract_tree
from .._shield import finish
from ..errors import ArchiveError, BraketAsyncError, ContainerError, RuntimeUnavailableError

__all__ = [
    "CANNOT_CONNECT",
    "CONFLICT",
    "FIX_DAEMON",
    "NOT_FOUND",
    "Missing",
    "create_container",
    "delete_container",
    "docker_errors",
    "error_text",
    "extract_spooled",
    "missing_image",
    "open_get",
    "read_failure_reason",
    "stat_path",
    "translate",
]

# The daemon answers 404 for a missing container, image or path, and 409 when a container
# is not running or is already being removed.
NOT_FOUND = 404
CONFLICT = 409
# aiodocker reports a daemon it cannot connect to as this pseudo HTTP status.
CANNOT_CONNECT = 900
_FAILURE_LINE_LIMIT = 1 << 16
# The header of an archive HEAD: the path's lstat, as base64 of a JSON object.
_PATH_STAT_HEADER = "X-Docker-Container-Path-Stat"
FIX_DAEMON = (
    "start Docker, set DOCKER_HOST (or pass docker_url=) to a daemon that runs, "
    'or use runtime="process" to run jobs without Docker'
)


class Missing(Exception):
    """The daemon has no such path in the container."""


async def open_get(
    docker: aiodocker.Docker,
    path: str,
    params: dict[str, Any],
    action: str,
    *,
    missing_ok: bool = False,
) -> aiohttp.ClientResponse:
    """Open a streamed GET of the daemon API; the caller closes the response.

    Raises:
        Missing: ``missing_ok`` and the daemon has no such path (the container exists).
        ContainerError, RuntimeUnavailableError: Any other failure.
    """
    try:
        response: aiohttp.ClientResponse = await docker._do_query(
            path, "GET", params=params, timeout=None
        )
    except DockerError as exc:
        # 404 also means that the container is gone, which is an error here.
        gone = "no such container" in exc.message.lower()
        if missing_ok and exc.status == NOT_FOUND and not gone:
            raise Missing from exc
        raise translate(exc, action) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise translate(exc, action) from exc
    return response


async def stat_path(
    docker: aiodocker.Docker, container_id: str, path: str
) -> dict[str, Any] | None:
    """The daemon's ``lstat`` of ``path`` in the container (``name``, ``size``, ``mode``,
    ``mtime``, ``linkTarget``), or ``None`` when it gives none.

    ``None`` covers every failure too (a missing path or container, a daemon error): the
    caller then does the full copy, which reports errors with the daemon's message (the
    answer to a ``HEAD`` has no body to take one from).
    """
    try:
        response: aiohttp.ClientResponse = await docker._do_query(
            f"containers/{container_id}/archive", "HEAD", params={"path": path}, timeout=None
        )
    except (DockerError, aiohttp.ClientError, OSError, ValueError):
        # ValueError: aiodocker fails to decode the empty JSON body of a HEAD's error.
        return None
    encoded = response.headers.get(_PATH_STAT_HEADER)
    response.release()  # no body: the connection can serve the next call
    if encoded is None:
        return None
    try:
        stat = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        return None
    return stat if isinstance(stat, dict) else None


# --- copying out (blocking; run in a worker thread) --------------------------------------


def extract_spooled(spool: IO[bytes], root: str, destination: Path, label: str) -> list[str]:
    try:
        with tarfile.open(fileobj=spool, mode="r:") as archive:
            return extract_tree(archive, root, destination, label)
    except tarfile.TarError as exc:
        raise ContainerError(f"unreadable archive of {root}: {exc}") from exc
    except ArchiveError as exc:
        raise ContainerError(str(exc)) from exc


def read_failure_reason(spool: IO[bytes]) -> str | None:
    """The first line of the failure file in ``spool`` (an archive), or ``None``."""
    try:
        with tarfile.open(fileobj=spool, mode="r:") as archive:
            for member in archive:
                extracted = archive.extractfile(member) if member.isreg() else None
                if extracted is None:
                    continue
                with extracted:
                    # Only the first line counts, however much the job wrote.
                    first = extracted.readline(_FAILURE_LINE_LIMIT)
                return first.decode("utf-8", errors="replace").strip() or None
    except tarfile.TarError as exc:
        raise ContainerError(f"unreadable archive of the failure file: {exc}") from exc
    return None


def missing_image(image: str, reason: str) -> RuntimeUnavailableError:
    return RuntimeUnavailableError(
        f"The Docker image {image} is not available locally ({reason}). Fix: "
        f"`docker pull {image}` (for the Braket base image, log in to its ECR registry "
        "first), `docker load` it from a file, or pass image_uri= with an image you have."
    )


async def create_container(
    docker: aiodocker.Docker, config: dict[str, Any], image: str
) -> DockerContainer:
    """Create a container; if cancelled meanwhile, let the creation end and remove it.

    A create request cut off by a cancellation still creates the container (the daemon
    finishes it), and then no one would know its id.
    """
    creating = asyncio.ensure_future(docker.containers.create(config))
    try:
        with anyio.CancelScope(shield=True):
            container = await finish(creating)
    except DockerError as exc:  # the daemon answered, so it created nothing
        if exc.status == NOT_FOUND and "image" in exc.message.lower():
            raise missing_image(image, exc.message) from exc
        raise translate(exc, "creating the job container") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise translate(exc, "creating the job container") from exc
    except BaseException:
        if creating.done() and not creating.cancelled() and creating.exception() is None:
            with anyio.CancelScope(shield=True):
                await finish(delete_container(creating.result()))
        raise
    return container


async def delete_container(container: DockerContainer) -> None:
    """Force-remove ``container``; a container already gone or going is fine."""
    try:
        await container.delete(force=True)
    except DockerError as exc:
        if exc.status not in (NOT_FOUND, CONFLICT):  # gone, or being removed
            raise translate(exc, "removing the job's container") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise translate(exc, "removing the job's container") from exc


# --- error translation --------------------------------------------------------------------


def error_text(exc: BaseException) -> str:
    if isinstance(exc, DockerError):
        return exc.message
    return str(exc) or type(exc).__name__


def translate(exc: BaseException, action: str) -> BraketAsyncError:
    """The braket_async error for a failure of aiodocker or aiohttp while doing ``action``."""
    if isinstance(exc, DockerError) and exc.status == CANNOT_CONNECT:
        return RuntimeUnavailableError(
            f"Lost the Docker daemon while {action} ({exc.message}): {FIX_DAEMON}."
        )
    return ContainerError(f"Docker failed while {action}: {error_text(exc)}")


@contextlib.contextmanager
def docker_errors(action: str) -> Iterator[None]:
    try:
        yield
    except BraketAsyncError:
        raise
    except (DockerError, aiohttp.ClientError, OSError) as exc:
        raise translate(exc, action) from exc
