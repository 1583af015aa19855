"""Copying a job's outputs out of its container, with as few archive calls as possible.

On many engines every archive ``GET`` or ``PUT`` starts a helper process on the daemon's
side (tens of milliseconds), while a ``HEAD`` of the same endpoint is a plain ``lstat``
(about one). So a folder that was empty when the job started is looked at first. The
job's files are staged with every folder's modification time at the epoch (0), which
unpacking them keeps: a folder that is still a folder (not a link) with that time is the
one the job started with, and it made nothing in it (adding, removing or renaming an
entry sets the time to now), so no archive is fetched. Anything else (a changed time, a
link, a missing folder, an error) takes the ``GET`` and the extraction policy of
:func:`~braket_async._archives.extract_tree`, which never follows a link the job made
and writes only inside its target.

The folders are copied concurrently, and the failure file with them.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Iterable
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final, TypeVar

import aiodocker
import aiohttp
import anyio
import anyio.to_thread

from ._base import CollectedOutputs
from ._docker_api import (
    Missing,
    extract_spooled,
    open_get,
    read_failure_reason,
    stat_path,
    translate,
)

__all__ = ["ContainerFiles", "FolderCopy", "empty_at_start", "run_all"]

T = TypeVar("T")

# Archives are spooled to a temporary file in pieces of this size (one thread hop each).
_SPOOL_CHUNK: Final = 1 << 20
# An lstat as the daemon gives it: Go's file mode bits, the time in RFC 3339.
_MODE_DIR: Final = 1 << 31
_MODE_SYMLINK: Final = 1 << 27
_EPOCH: Final = "1970-01-01T00:00:00"


def empty_at_start(folder: str, paths: Iterable[PurePosixPath]) -> bool:
    """Whether no path of the job's tree (``paths``) lies inside ``folder``."""
    root = PurePosixPath(folder)
    return not any(root in path.parents for path in paths)


class FolderCopy:
    """One folder to copy out: where it is in the container, where it goes, and whether
    the job started with it empty."""

    def __init__(
        self, container_path: str, destination: Path, label: str, *, empty_at_start: bool
    ) -> None:
        self.container_path = container_path
        self.destination = destination
        self.label = label
        self.empty_at_start = empty_at_start


class ContainerFiles:
    """Archive calls on one container; open responses are closed by :meth:`release_all`."""

    def __init__(self, docker: aiodocker.Docker, container_id: str) -> None:
        self._docker = docker
        self._container_id = container_id
        self._responses: set[aiohttp.ClientResponse] = set()

    async def stat(self, container_path: str) -> dict[str, Any] | None:
        """The ``lstat`` of ``container_path`` as the daemon reports it, or ``None``."""
        return await stat_path(self._docker, self._container_id, container_path)

    async def unchanged(self, folder: FolderCopy) -> bool:
        """Whether ``folder`` is still the empty folder the job started with."""
        if not folder.empty_at_start:
            return False
        stat = await self.stat(folder.container_path)
        if stat is None:
            return False
        mode = stat.get("mode")
        return (
            isinstance(mode, int)
            and bool(mode & _MODE_DIR)
            and not mode & _MODE_SYMLINK
            and str(stat.get("mtime", "")).startswith(_EPOCH)
        )

    async def collect(self, folders: list[FolderCopy], failure_path: str) -> CollectedOutputs:
        """Copy each folder into its destination and read the failure file, concurrently.

        Raises:
            ContainerError, RuntimeUnavailableError: A copy failed (the container is
                gone, the daemon broke off, an unreadable archive).
        """
        reason: str | None = None

        async def read_reason() -> list[str]:
            nonlocal reason
            reason = await self.failure_reason(failure_path)
            return []

        refused = await run_all(*(self._copy_folder(folder) for folder in folders), read_reason())
        return CollectedOutputs(reason, tuple(line for lines in refused for line in lines))

    async def _copy_folder(self, folder: FolderCopy) -> list[str]:
        if await self.unchanged(folder):
            await anyio.to_thread.run_sync(folder.destination.mkdir)
            return []
        spool = await self.download(folder.container_path)
        if spool is None:  # the job removed the folder: nothing to copy
            return []
        root = PurePosixPath(folder.container_path).name
        with spool:  # closed here too, in case the worker thread never ran
            return await anyio.to_thread.run_sync(
                extract_spooled, spool, root, folder.destination, folder.label
            )

    async def failure_reason(self, container_path: str) -> str | None:
        """The first line of the failure file, or ``None`` without one.

        Fetched at once: a missing path costs the daemon no helper process.
        """
        spool = await self.download(container_path)
        if spool is None:
            return None
        with spool:
            return await anyio.to_thread.run_sync(read_failure_reason, spool)

    async def download(self, container_path: str) -> IO[bytes] | None:
        """The archive of ``container_path`` in a temporary file, or ``None`` if missing."""
        action = f"copying {container_path} out of the job's container"
        try:
            response = await open_get(
                self._docker,
                f"containers/{self._container_id}/archive",
                {"path": container_path},
                action,
                missing_ok=True,
            )
        except Missing:
            return None
        self._responses.add(response)
        spool: IO[bytes] | None = None
        try:
            spool = await anyio.to_thread.run_sync(_spool)
            pending = bytearray()
            while True:
                try:
                    chunk = await response.content.readany()
                except (aiohttp.ClientError, OSError) as exc:
                    raise translate(exc, f"copying {container_path} out") from exc
                if chunk:
                    pending += chunk
                if pending and (not chunk or len(pending) >= _SPOOL_CHUNK):
                    await anyio.to_thread.run_sync(_spool_write, spool, bytes(pending))
                    pending.clear()
                if not chunk:
                    break
            await anyio.to_thread.run_sync(spool.seek, 0)
        except BaseException:
            if spool is not None:
                spool.close()
            raise
        finally:
            self._release(response)
        return spool

    def release_all(self) -> None:
        """Close every response still open (a copy cut short by a cancellation)."""
        for response in list(self._responses):
            self._release(response)

    def _release(self, response: aiohttp.ClientResponse) -> None:
        self._responses.discard(response)
        # close(), not release(): a stream cut short must not return to the pool.
        response.close()


def _spool() -> IO[bytes]:
    try:
        return tempfile.TemporaryFile()
    except OSError as exc:
        raise _in_temporary_folder(exc) from exc


def _spool_write(spool: IO[bytes], data: bytes) -> None:
    """Write to a spool; an error (a full disk) names the folder of temporary files,
    where the unnamed spool is."""
    try:
        spool.write(data)
        spool.flush()  # here, not in a later seek that would not say where
    except OSError as exc:
        raise _in_temporary_folder(exc) from exc


def _in_temporary_folder(exc: OSError) -> OSError:
    where = f"a temporary file in {tempfile.gettempdir()}"
    return type(exc)(exc.errno, exc.strerror or str(exc), where)


async def run_all(*steps: Awaitable[T]) -> list[T]:
    """Run ``steps`` concurrently and return their results in order.

    If a step fails, the others are cancelled and awaited, and the error of the first
    failed step (in argument order) is raised as it is, not in a group. If the caller is
    cancelled, the steps are cancelled and awaited before the cancellation goes on.
    """
    tasks = [asyncio.ensure_future(step) for step in steps]
    if not tasks:
        return []
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()  # nothing for the steps that ended
        await asyncio.wait(tasks)
        # Retrieved in every case, so that no error is reported as never retrieved.
        errors = [task.exception() for task in tasks if not task.cancelled()]
    for error in errors:
        if error is not None:
            raise error
    return [task.result() for task in tasks]
