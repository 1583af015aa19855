"""What the Docker runtime learns about an image once, and updates it from its registry.

An image is inspected once per runtime (in ``prepare()``, by the process that creates
the job); what the runtime needs of it for every container travels as
:class:`ImageFacts`, also to a job's supervisor, which so creates the container without
asking the daemon again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiodocker
import aiohttp
import attrs
from aiodocker.exceptions import DockerError

from ._docker_api import NOT_FOUND, error_text, missing_image, translate

__all__ = ["ImageFacts", "ImageUpdates", "inspect_image"]

logger = logging.getLogger("braket_async.runtimes._docker")

_ROOT_USERS = frozenset({"", "0", "root", "0:0", "root:root", "root:0", "0:root"})


@attrs.frozen
class ImageFacts:
    """What a job's container needs to know of its image.

    Attributes:
        python_path: The ``PYTHONPATH`` the image sets (a container's own ``Env``
            replaces it, so the runtime keeps it after the in-job library's).
        runs_as_root: Whether the image's processes start as root: then the job's files
            can be unpacked by the container itself, from its standard input (any
            other user could not write them where they go).
    """

    python_path: str | None
    runs_as_root: bool

    def to_json(self) -> dict[str, Any]:
        return {"python_path": self.python_path, "runs_as_root": self.runs_as_root}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageFacts:
        return cls(python_path=data.get("python_path"), runs_as_root=bool(data["runs_as_root"]))


async def inspect_image(docker: aiodocker.Docker, image: str) -> ImageFacts:
    """Inspect ``image`` on the daemon.

    Raises:
        RuntimeUnavailableError: The image is not there (the message says how to get
            it), or the daemon broke off.
        ContainerError: The daemon failed otherwise.
    """
    try:
        info = await docker.images.inspect(image)
    except DockerError as exc:
        if exc.status == NOT_FOUND:
            raise missing_image(image, exc.message) from exc
        raise translate(exc, f"inspecting image {image}") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise translate(exc, f"inspecting image {image}") from exc
    config = info.get("Config") or {}
    python_path = None
    for entry in config.get("Env") or []:
        key, _, value = entry.partition("=")
        if key == "PYTHONPATH":
            python_path = value or None
    return ImageFacts(
        python_path=python_path, runs_as_root=(config.get("User") or "") in _ROOT_USERS
    )


class ImageUpdates:
    """Pulls each image at most once, for at most ``timeout`` seconds; remembers why an
    update failed (the local image is used then)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._failures: dict[str, str | None] = {}  # image -> why its update failed

    async def update(self, docker: aiodocker.Docker, image: str, timeout: float) -> str | None:
        """Pull ``image`` unless done before; why the update failed, or ``None``."""
        lock = self._locks.setdefault(image, asyncio.Lock())
        async with lock:
            if image in self._failures:
                return self._failures[image]
            failure: str | None = None
            try:
                # aiohttp enforces the bound and closes the connection, which stops the
                # daemon's pull too.
                await docker.images.pull(image, timeout=float(timeout))
            except asyncio.TimeoutError:  # before OSError: TimeoutError is one since 3.11
                failure = f"no answer within {timeout:g} s"
            except (DockerError, aiohttp.ClientError, OSError) as exc:
                failure = error_text(exc)
            if failure is not None:
                logger.info("could not update image %s (%s); using the local one", image, failure)
            self._failures[image] = failure
            return failure
