"""One job running in a Docker container: its output, exit, outputs and removal.

Made by :class:`~._docker.DockerRuntime`, which creates, fills and starts the container.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import warnings
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import aiodocker
import aiohttp
import anyio
import anyio.to_thread
from aiodocker.containers import DockerContainer
from aiodocker.exceptions import DockerError

from .._shield import finish
from ..errors import ClosedError
from ._base import CHECKPOINTS_FOLDER, MODEL_FOLDER, CollectedOutputs, JobSpec
from ._docker_api import CONFLICT, NOT_FOUND, delete_container, docker_errors, translate
from ._docker_attach import AttachStream, open_attach
from ._docker_files import ContainerFiles, FolderCopy, empty_at_start
from ._layout import FAILURE_PATH, MODEL_PATH

if TYPE_CHECKING:
    from ._docker import DockerRuntime

__all__ = ["DockerExecution"]

logger = logging.getLogger("braket_async.runtimes._docker")


class DockerExecution:
    """One job running in a container; see :class:`~braket_async.runtimes.Execution`.

    Made by :meth:`DockerRuntime.start`; its owner reads :meth:`output` (or
    :meth:`output_blocks`), awaits :meth:`wait`, calls :meth:`collect` and finally
    :meth:`aclose`, which removes the container.
    """

    def __init__(
        self,
        runtime: DockerRuntime,
        docker: aiodocker.Docker,
        container: DockerContainer,
        spec: JobSpec,
        tree_paths: list[PurePosixPath],
    ) -> None:
        self._runtime = runtime
        self._docker = docker
        self._container = container
        self._spec = spec
        self._files = ContainerFiles(docker, container.id)
        # The folders copied out, and whether the job starts with each one empty (then
        # one still empty-looking at the end, see _docker_files.py, is made empty here).
        self._folders = {
            MODEL_FOLDER: (MODEL_PATH, empty_at_start(MODEL_PATH, tree_paths)),
            CHECKPOINTS_FOLDER: (
                spec.checkpoint_path,
                spec.checkpoint_input is None and empty_at_start(spec.checkpoint_path, tree_paths),
            ),
        }
        self._exit_code: int | None = None
        self._exited: asyncio.Future[dict[str, Any]] | None = None
        self._attached: AttachStream | None = None
        self._stdin: AttachStream | None = None
        self._output_taken = False
        self._closed = False

    @property
    def container_id(self) -> str:
        """The id of the job's container."""
        return self._container.id

    async def attach(self, *, stdin: bool) -> None:
        """Attach to stdout and stderr (and, on a connection of its own, stdin); done
        before the start, as ``docker run`` does, so that no output is missed."""
        with docker_errors("attaching to the job's container"):
            self._attached = await open_attach(self._docker, self._container.id)
            if stdin:
                self._stdin = await open_attach(self._docker, self._container.id, stdin=True)

    async def fill(self, archive: AsyncIterator[bytes]) -> None:
        """Copy the job's files in with the archive API (before the start)."""
        with docker_errors("copying the job's files into its container"):
            await self._container.put_archive("/", archive)  # type: ignore[no-untyped-call]

    def started(self) -> None:
        """The container was started: watch for its exit from now on (one request)."""
        self._exited = asyncio.ensure_future(self._container.wait())
        # Retrieved even if no one awaits it (a start that failed right after).
        self._exited.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def send(self, archive: AsyncIterator[bytes]) -> None:
        """Send the job's files through its standard input (after the start).

        If the container exits before it took them all, the rest is not sent (the daemon
        would hold it unread for minutes): its exit code says what went wrong.
        """
        assert self._stdin is not None
        assert self._exited is not None
        sent = False
        try:
            sent = await self._stdin.send(archive, until=asyncio.shield(self._exited))
        finally:
            stdin, self._stdin = self._stdin, None
            stdin.close(abort=not sent)
        if not sent:
            logger.info(
                "job %s: container %s ended before it took all of the job's files",
                self._spec.job_name,
                self.container_id[:12],
            )

    def output(self) -> AsyncIterator[str]:
        """The job's stdout and stderr lines, live, until the container exits.

        Lines are decoded as UTF-8 (undecodable bytes become U+FFFD); a line is complete
        when its own stream (stdout or stderr) ends it, so lines of the two streams never
        mix, but their relative order is as the daemon received them. May be consumed
        once (this or :meth:`output_blocks`). As with a pipe, a job whose output nobody
        reads stalls once the buffers are full: read the output before (or while)
        awaiting :meth:`wait`.

        Raises:
            ClosedError: The output was already taken, or the execution was closed.
            ContainerError: The output stream broke off.
        """
        return self._lines(self._take_output())

    def output_blocks(self) -> AsyncIterator[str]:
        """The lines of :meth:`output` as each read of the stream completes them, in
        one string, each line ending in ``\\n``. Cheaper per line for a fast reader."""
        return self._blocks(self._take_output())

    def _take_output(self) -> AttachStream:
        self._check_open()
        if self._output_taken or self._attached is None:
            raise ClosedError("the output of this execution can be read only once")
        self._output_taken = True
        return self._attached

    async def _blocks(self, stream: AttachStream) -> AsyncGenerator[str, None]:
        try:
            async with contextlib.aclosing(stream.blocks()) as blocks:
                async for block in blocks:
                    yield block
        finally:
            self._detach()

    async def _lines(self, stream: AttachStream) -> AsyncIterator[str]:
        async with contextlib.aclosing(self._blocks(stream)) as blocks:
            async for block in blocks:
                for line in block.split("\n")[:-1]:
                    yield line

    def _detach(self) -> None:
        stream, self._attached = self._attached, None
        if stream is not None:
            stream.close()

    async def wait(self) -> int:
        """Wait until the container exits and return the job's exit code."""
        if self._exit_code is None:
            self._check_open()
            if self._exited is None:
                self.started()
            assert self._exited is not None
            with docker_errors("waiting for the job's container"):
                # Shielded: a waiter that gives up does not end the watch of the exit.
                status = await asyncio.shield(self._exited)
            self._exit_code = int(status["StatusCode"])
        return self._exit_code

    async def kill(self) -> None:
        """Kill the container now (SIGKILL). Does nothing once it has ended or is gone."""
        if self._closed:
            return
        try:
            await self._container.kill()
        except DockerError as exc:
            if exc.status in (NOT_FOUND, CONFLICT):  # not running, or already removed
                return
            raise translate(exc, "killing the job's container") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise translate(exc, "killing the job's container") from exc

    async def collect(self, destination: Path) -> CollectedOutputs:
        """Copy results and checkpoints into the new folder ``destination``.

        ``/opt/ml/model`` lands in ``destination / "model"`` and the checkpoint folder in
        ``destination / "checkpoints"``, with the policy of
        :func:`~braket_async._archives.extract_tree`: what it refuses (links leaving the
        folder, devices, ...) is named in the result, everything else is copied. A
        folder the job started with empty and left untouched (its lstat, modification
        time included, is unchanged) is made empty without an archive call; the folders
        and the failure file are fetched concurrently.
        """
        self._check_open()
        destination = Path(destination)
        await anyio.to_thread.run_sync(
            functools.partial(destination.mkdir, parents=True, exist_ok=True)
        )
        folders = [
            FolderCopy(container_path, destination / name, name, empty_at_start=starts_empty)
            for name, (container_path, starts_empty) in self._folders.items()
        ]
        return await self._files.collect(folders, FAILURE_PATH)

    async def aclose(self) -> None:
        """Force-remove the container and close its streams. Idempotent.

        The removal runs to its end even if the caller is cancelled meanwhile (by anyio
        or by ``Task.cancel()``); the cancellation is re-raised afterwards.
        """
        if self._closed:
            return
        self._closed = True
        self._runtime._forget(self)
        with anyio.CancelScope(shield=True):
            await finish(self._remove())

    async def _remove(self) -> None:
        self._files.release_all()
        self._detach()
        stdin, self._stdin = self._stdin, None
        if stdin is not None:
            stdin.close(abort=True)
        if self._exited is not None and not self._exited.done():
            self._exited.cancel()
        await delete_container(self._container)
        logger.debug("job %s: container %s removed", self._spec.job_name, self.container_id[:12])

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("this job's container was already removed")

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if not getattr(self, "_closed", True):
            _warn(
                f"job container {self._container.id[:12]} was never removed (call aclose())",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )
