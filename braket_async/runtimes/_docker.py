"""Jobs in Docker containers, through the daemon's HTTP API (aiodocker).

A job is one container: created from the job's image with the job environment in its
config, given the whole job tree as one archive, attached to (before it starts, so that
no output is missed) and started; its outputs are copied out with the archive API.
Nothing is bind-mounted and no secret is put on a command line. The daemon calls that
need care and the translation of aiodocker's and aiohttp's errors are in
:mod:`._docker_api`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import warnings
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any, Final

import aiodocker
import aiohttp
import anyio
import anyio.to_thread
from aiodocker.containers import DockerContainer
from aiodocker.exceptions import DockerError

from .._braket import base_image_uri
from .._shield import finish
from ..errors import (
    ClosedError,
    RuntimeUnavailableError,
)
from ._base import CHECKPOINTS_FOLDER, MODEL_FOLDER, CollectedOutputs, JobRuntime, JobSpec
from ._docker_api import (
    CONFLICT,
    FIX_DAEMON,
    NOT_FOUND,
    create_container,
    delete_container,
    docker_errors,
    error_text,
    image_python_path,
    missing_image,
    translate,
)
from ._docker_attach import AttachStream, open_attach
from ._docker_files import ContainerFiles, FolderCopy, empty_at_start, run_all
from ._layout import (
    CODE_PATH,
    FAILURE_PATH,
    ML_ROOT,
    MODEL_PATH,
    bootstrap_command,
    job_environment,
)
from ._staging import job_tree, tar_stream

__all__ = ["JOB_ARN_LABEL", "JOB_LABEL", "DockerExecution", "DockerRuntime"]

logger = logging.getLogger(__name__)

#: Label set on every job container (value: the job name), so leftovers can be found.
JOB_LABEL: Final = "braket-async.job"
#: Label with the job's ARN; job names need not be unique, ARNs are.
JOB_ARN_LABEL: Final = "braket-async.job-arn"

_DEFAULT_REGION = "us-west-2"
# The daemon handles each write of a container on its own: the user code's output is
# relayed in large writes (see jobs/_relay.py).
_BOOTSTRAP_COMMAND = (*bootstrap_command("python3"), "--ml-root", ML_ROOT, "--relay-output")


class DockerRuntime(JobRuntime):
    """Runs each job in its own container of a Docker daemon.

    The runtime owns one aiodocker client, created on first use and closed by
    :meth:`aclose`, which also removes the containers of executions still open.

    Args:
        image_uri: The image for jobs whose spec names none. Without either, the official
            Braket base image of ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` (else
            ``us-west-2``) is used; it must be pulled (after an ECR login) or loaded first.
        network_mode: The containers' ``HostConfig.NetworkMode``; ``"none"`` (the default)
            gives jobs no network, ``"bridge"`` or ``"host"`` let them reach AWS.
        local_container_update: Try to pull a newer image before the first job with it
            (once per image and runtime, for at most :attr:`pull_timeout` seconds). When
            no registry answers, the local image is used.
        docker_url: The daemon's address, e.g. ``unix:///var/run/docker.sock``; by default
            the Docker context, ``DOCKER_HOST`` or the usual sockets decide.
        max_concurrent_jobs: How many jobs may run at once; ``None`` for no limit.
    """

    name = "docker"
    #: Upper bound, in seconds, for one image update attempt. Without a network the
    #: daemon usually fails at once (no DNS); a registry that does not answer costs this
    #: much, once per image and runtime.
    pull_timeout: float = 15.0

    def __init__(
        self,
        *,
        image_uri: str | None = None,
        network_mode: str = "none",
        local_container_update: bool = True,
        docker_url: str | None = None,
        max_concurrent_jobs: int | None = None,
    ) -> None:
        super().__init__(max_concurrent_jobs=max_concurrent_jobs)
        self.image_uri = image_uri
        self.network_mode = network_mode
        self.local_container_update = local_container_update
        self.docker_url = docker_url
        self._client: aiodocker.Docker | None = None
        self._closed = False
        self._pull_locks: dict[str, asyncio.Lock] = {}
        self._pulled: dict[str, str | None] = {}  # image -> why its update failed
        self._executions: set[DockerExecution] = set()

    def image_for(self, spec: JobSpec) -> str:
        """The image a job described by ``spec`` runs in."""
        if spec.image_uri:
            return spec.image_uri
        if self.image_uri:
            return self.image_uri
        region = (
            os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or _DEFAULT_REGION
        )
        return base_image_uri(region)

    async def prepare(self, spec: JobSpec) -> None:
        """Check that the daemon answers and the job's image is there.

        Raises:
            RuntimeUnavailableError: No daemon answers, or the image is neither local nor
                pullable. The message says how to fix it.
            ClosedError: The runtime was closed.
        """
        docker = self._docker()
        try:
            await docker.version()
        except (DockerError, aiohttp.ClientError, OSError) as exc:
            raise RuntimeUnavailableError(
                f"Cannot reach the Docker daemon ({error_text(exc)}): {FIX_DAEMON}."
            ) from exc
        image = self.image_for(spec)
        update_failure = None
        if self.local_container_update:
            update_failure = await self._update_image(docker, image)
        try:
            await docker.images.inspect(image)
        except DockerError as exc:
            if exc.status != NOT_FOUND:
                raise translate(exc, f"inspecting image {image}") from exc
            why = f"pulling it failed: {update_failure}" if update_failure else exc.message
            raise missing_image(image, why) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise translate(exc, f"inspecting image {image}") from exc

    async def start(self, spec: JobSpec) -> DockerExecution:
        """Create the job's container, copy its tree in and start it.

        The archive of the tree is being written while the container is created, and
        the attach is made while it is copied in. If anything fails after the container
        was created (cancellation included), the container is removed before the error
        propagates.

        Raises:
            RuntimeUnavailableError: No daemon answers or the image is missing.
            ContainerError: The daemon refused to create, fill or start the container.
            ClosedError: The runtime was closed.
        """
        docker = self._docker()
        image = self.image_for(spec)
        tree = job_tree(spec)
        execution: DockerExecution | None = None
        try:
            async with tar_stream(tree) as archive:
                container = await create_container(
                    docker, await self._container_config(spec, image), image
                )
                execution = DockerExecution(
                    self, docker, container, spec, [entry.path for entry in tree.entries]
                )
                self._executions.add(execution)
                logger.debug(
                    "job %s: container %s from %s", spec.job_name, container.id[:12], image
                )
                await run_all(execution._fill(archive), execution._attach())
            with docker_errors("starting the job's container"):
                await container.start()
        except BaseException:
            if execution is not None:
                await execution.aclose()
            raise
        return execution

    async def _container_config(self, spec: JobSpec, image: str) -> dict[str, Any]:
        environment = job_environment(spec)
        image_path = await image_python_path(self._docker(), image)
        if image_path:  # keep what the image puts on the path, after the in-job API
            environment["PYTHONPATH"] = f"{environment['PYTHONPATH']}:{image_path}"
        return {
            "Image": image,
            # An image's own entry point (the official containers have one) would receive
            # the bootstrap command as arguments; an empty list drops it.
            "Entrypoint": [],
            "Cmd": list(_BOOTSTRAP_COMMAND),
            # Secrets travel only here, never on a command line (and are never logged).
            "Env": [f"{key}={value}" for key, value in environment.items()],
            "WorkingDir": CODE_PATH,
            "Labels": {
                JOB_LABEL: spec.job_name,
                JOB_ARN_LABEL: spec.job_arn,
            },
            "Tty": False,
            "AttachStdin": False,
            "AttachStdout": False,
            "AttachStderr": False,
            "HostConfig": {
                "NetworkMode": self.network_mode,
                # The output is read through an attach stream, which (unlike a followed
                # log, whose last lines daemons before 23.0 can drop at exit) delivers
                # everything; a log file on the daemon's disk would only take space.
                "LogConfig": {"Type": "none", "Config": {}},
            },
        }

    async def aclose(self) -> None:
        """Remove the containers of open executions and close the client. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await finish(self._close_all())

    async def _close_all(self) -> None:
        try:
            for execution in list(self._executions):
                await execution.aclose()
        finally:
            client, self._client = self._client, None
            if client is not None:
                await client.close()

    def _docker(self) -> aiodocker.Docker:
        if self._closed:
            raise ClosedError("this DockerRuntime was closed")
        if self._client is None:
            try:
                self._client = aiodocker.Docker(url=self.docker_url)
            # aiodocker asserts (AssertionError) that it found a socket before raising
            # its ValueError for the same case.
            except (DockerError, ValueError, OSError, AssertionError) as exc:
                why = error_text(exc)
                if isinstance(exc, AssertionError):
                    why = "no Docker socket found and DOCKER_HOST is not set"
                raise RuntimeUnavailableError(
                    f"No Docker daemon is configured ({why}): {FIX_DAEMON}."
                ) from exc
        return self._client

    async def _update_image(self, docker: aiodocker.Docker, image: str) -> str | None:
        """Pull ``image`` once per runtime; return why the update failed, or ``None``."""
        lock = self._pull_locks.setdefault(image, asyncio.Lock())
        async with lock:
            if image in self._pulled:
                return self._pulled[image]
            failure: str | None = None
            try:
                # aiohttp enforces the bound and closes the connection, which stops the
                # daemon's pull too.
                await docker.images.pull(image, timeout=float(self.pull_timeout))
            except asyncio.TimeoutError:  # before OSError: TimeoutError is one since 3.11
                failure = f"no answer within {self.pull_timeout:g} s"
            except (DockerError, aiohttp.ClientError, OSError) as exc:
                failure = error_text(exc)
            if failure is not None:
                logger.info("could not update image %s (%s); using the local one", image, failure)
            self._pulled[image] = failure
            return failure

    def _forget(self, execution: DockerExecution) -> None:
        """Called by an execution's ``aclose()``."""
        self._executions.discard(execution)

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if getattr(self, "_client", None) is not None and not self._closed:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=2)


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
        # an unchanged lstat at the end means there is nothing to copy).
        self._folders = {
            MODEL_FOLDER: (MODEL_PATH, empty_at_start(MODEL_PATH, tree_paths)),
            CHECKPOINTS_FOLDER: (
                spec.checkpoint_path,
                spec.checkpoint_input is None and empty_at_start(spec.checkpoint_path, tree_paths),
            ),
        }
        self._baselines: dict[str, dict[str, Any] | None] = {}
        self._exit_code: int | None = None
        self._attached: AttachStream | None = None
        self._output_taken = False
        self._closed = False

    @property
    def container_id(self) -> str:
        """The id of the job's container."""
        return self._container.id

    async def _fill(self, archive: AsyncIterator[bytes]) -> None:
        """Copy the job's tree in; then note the lstat of the folders it starts empty."""
        with docker_errors("copying the job's files into its container"):
            await self._container.put_archive("/", archive)  # type: ignore[no-untyped-call]
        empty = [name for name, (_, starts_empty) in self._folders.items() if starts_empty]
        stats = await run_all(*(self._files.stat(self._folders[name][0]) for name in empty))
        self._baselines = dict(zip(empty, stats, strict=True))

    async def _attach(self) -> None:
        """Attach to stdout and stderr; done before the start, as ``docker run`` does."""
        with docker_errors("attaching to the job's container"):
            self._attached = await open_attach(self._docker, self._container.id)

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
            with docker_errors("waiting for the job's container"):
                status = await self._container.wait()
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
        folders = []
        for name, (container_path, _) in self._folders.items():
            folder = FolderCopy(container_path, destination / name, name)
            folder.baseline = self._baselines.get(name)
            folders.append(folder)
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
