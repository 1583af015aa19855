"""Jobs in Docker containers, through the daemon's HTTP API (aiodocker).

A job is one container: created from the job's image with the job environment in its
config, attached to (before it starts, so that no output is missed), started, and given
the whole job tree as one archive, which the container unpacks from its standard input
before the bootstrap runs (for images that run as root; others get it through the
archive API before the start, which costs the daemon a helper process per call); its
outputs are copied out with the archive API. Nothing is bind-mounted and no secret is
put on a command line. The daemon calls that need care and the translation of
aiodocker's and aiohttp's errors are in :mod:`._docker_api`; what is learned of an image
in :mod:`._docker_images`; the running container in :mod:`._docker_execution`.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Final

import aiodocker
import anyio
from aiodocker.exceptions import DockerError

from .._braket import base_image_uri
from .._shield import finish
from ..errors import ClosedError, RuntimeUnavailableError
from ._base import JobRuntime, JobSpec
from ._docker_api import (
    FIX_DAEMON,
    NOT_FOUND,
    create_container,
    docker_errors,
    error_text,
    missing_image,
)
from ._docker_execution import DockerExecution
from ._docker_images import ImageFacts, ImageUpdates, inspect_image
from ._file_stream import UNPACK, write_stream
from ._layout import ML_ROOT, bootstrap_command, job_environment
from ._staging import JobTree, job_tree, tar_stream

__all__ = ["JOB_ARN_LABEL", "JOB_LABEL", "DockerExecution", "DockerRuntime"]

logger = logging.getLogger(__name__)

#: Label set on every job container (value: the job name), so leftovers can be found.
JOB_LABEL: Final = "braket-async.job"
#: Label with the job's ARN; job names need not be unique, ARNs are.
JOB_ARN_LABEL: Final = "braket-async.job-arn"

_DEFAULT_REGION = "us-west-2"
# The daemon handles each write of a container on its own: the user code's output is
# relayed in large writes (see jobs/_relay.py).
_BOOTSTRAP_OPTIONS = ("--ml-root", ML_ROOT, "--relay-output")
# Learned once per process: each daemon address's API version, and which images were
# updated from their registry (once per image and process, with local_container_update).
_API_VERSIONS: dict[str | None, str] = {}
_UPDATES = ImageUpdates()


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
            (once per image and process, for at most :attr:`pull_timeout` seconds). When
            no registry answers, the local image is used.
        docker_url: The daemon's address, e.g. ``unix:///var/run/docker.sock``; by default
            the Docker context, ``DOCKER_HOST`` or the usual sockets decide.
        max_concurrent_jobs: How many jobs may run at once; ``None`` for no limit.
    """

    name = "docker"
    #: Upper bound, in seconds, for one image update attempt. Without a network the
    #: daemon usually fails at once (no DNS); a registry that does not answer costs this
    #: much, once per image and process.
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
        # The daemon's API version, negotiated by the first runtime of this process
        # that talked to the same address (an address's daemon keeps its version).
        self._api_version = _API_VERSIONS.get(docker_url, "auto")
        self._closed = False
        self._images: dict[str, ImageFacts] = {}
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
        """Check that the daemon answers and the job's image is there (pulling a newer
        one first with ``local_container_update``); learn what the container needs.

        Raises:
            RuntimeUnavailableError: No daemon answers, or the image is neither local nor
                pullable. The message says how to fix it.
            ClosedError: The runtime was closed.
        """
        docker = self._docker()
        image = self.image_for(spec)
        update_failure = None
        if self.local_container_update:
            update_failure = await _UPDATES.update(docker, image, self.pull_timeout)
        try:
            self._images[image] = await inspect_image(docker, image)
            _API_VERSIONS[self.docker_url] = docker.api_version
        except RuntimeUnavailableError as exc:  # a missing image, or no daemon
            cause = exc.__cause__
            if isinstance(cause, DockerError) and cause.status == NOT_FOUND:
                why = f"pulling it failed: {update_failure}" if update_failure else cause.message
                raise missing_image(image, why) from cause
            raise RuntimeUnavailableError(
                f"Cannot reach the Docker daemon ({error_text(cause or exc)}): {FIX_DAEMON}."
            ) from exc

    async def start(self, spec: JobSpec) -> DockerExecution:
        """Create the job's container, start it and give it the job's files.

        The archive of the tree is being written while the container is created. If
        anything fails after the container was created (cancellation included), the
        container is removed before the error propagates.

        Raises:
            RuntimeUnavailableError: No daemon answers or the image is missing.
            ContainerError: The daemon refused to create, fill or start the container.
            ClosedError: The runtime was closed.
        """
        docker = self._docker()
        image = self.image_for(spec)
        facts = self._images.get(image)
        if facts is None:
            facts = self._images[image] = await inspect_image(docker, image)
        from_stdin = facts.runs_as_root
        tree = job_tree(spec)
        execution: DockerExecution | None = None
        try:
            write = write_stream if from_stdin else JobTree.write_tar
            async with tar_stream(tree, write=write) as archive:
                config = self._container_config(spec, image, facts, from_stdin)
                container = await create_container(docker, config, image)
                execution = DockerExecution(
                    self, docker, container, spec, [entry.path for entry in tree.entries]
                )
                self._executions.add(execution)
                logger.debug(
                    "job %s: container %s from %s", spec.job_name, container.id[:12], image
                )
                await execution.attach(stdin=from_stdin)
                if not from_stdin:
                    await execution.fill(archive)
                with docker_errors("starting the job's container"):
                    await container.start()
                execution.started()
                if from_stdin:
                    await execution.send(archive)
        except BaseException:
            if execution is not None:
                await execution.aclose()
            raise
        return execution

    def _container_config(
        self, spec: JobSpec, image: str, facts: ImageFacts, files_from_stdin: bool
    ) -> dict[str, Any]:
        environment = job_environment(spec)
        if facts.python_path:  # keep what the image puts on the path, after the in-job API
            environment["PYTHONPATH"] = f"{environment['PYTHONPATH']}:{facts.python_path}"
        command = bootstrap_command("python3", prelude=UNPACK if files_from_stdin else "")
        return {
            "Image": image,
            # An image's own entry point (the official containers have one) would receive
            # the bootstrap command as arguments; an empty list drops it.
            "Entrypoint": [],
            "Cmd": [*command, *_BOOTSTRAP_OPTIONS],
            # Secrets travel only here, never on a command line (and are never logged).
            "Env": [f"{key}={value}" for key, value in environment.items()],
            # No WorkingDir: the bootstrap goes to the code folder itself, and a working
            # folder the image lacks costs the create a mount of the container's files.
            "Labels": {
                JOB_LABEL: spec.job_name,
                JOB_ARN_LABEL: spec.job_arn,
            },
            "Tty": False,
            # The job's files come through stdin, which closes once they are in.
            "OpenStdin": files_from_stdin,
            "StdinOnce": files_from_stdin,
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

    def supervisor_config(self) -> dict[str, Any] | None:
        """How a job's supervisor rebuilds this runtime, with what it learned of the
        daemon and the images (so the supervisor's container starts without asking the
        daemon again); ``None`` for a subclass, which runs its jobs in this process."""
        if type(self) is not DockerRuntime:
            return None
        client = self._client
        return {
            "factory": "braket_async.runtimes._docker:rebuilt_runtime",
            "kwargs": {
                "image_uri": self.image_uri,
                "network_mode": self.network_mode,
                "docker_url": self.docker_url,
                "api_version": client.api_version if client is not None else "auto",
                "images": {image: facts.to_json() for image, facts in self._images.items()},
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
                self._client = aiodocker.Docker(url=self.docker_url, api_version=self._api_version)
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

    def _forget(self, execution: DockerExecution) -> None:
        """Called by an execution's ``aclose()``."""
        self._executions.discard(execution)

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if getattr(self, "_client", None) is not None and not self._closed:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=2)


def rebuilt_runtime(
    *,
    image_uri: str | None,
    network_mode: str,
    docker_url: str | None,
    api_version: str,
    images: dict[str, dict[str, Any]],
) -> DockerRuntime:
    """A :class:`DockerRuntime` as :meth:`DockerRuntime.supervisor_config` describes it
    (the creator tried image updates already)."""
    runtime = DockerRuntime(
        image_uri=image_uri,
        network_mode=network_mode,
        local_container_update=False,
        docker_url=docker_url,
    )
    runtime._api_version = api_version
    runtime._images = {image: ImageFacts.from_json(facts) for image, facts in images.items()}
    return runtime
