"""A sweep's manifest: what it is about to create, written durably before it creates it.

One JSON file. Every write goes to a temporary file in the same folder, is fsynced,
renamed over the manifest, and the folder is fsynced: after a crash the manifest is the
old one or the new one, never a mix. A point's entry is written with its job name and
client token before the job is created, and again with the ARN once known, so a rerun
can always find out whether the job exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs

from .errors import ConfigurationError

__all__ = ["Manifest", "PointEntry", "fingerprint"]

_VERSION = 1


@attrs.define
class PointEntry:
    """What the manifest knows of one point.

    Attributes:
        job_name: The name of the point's current job.
        client_token: The token of its CreateJob (remote jobs).
        arn: The job's ARN once it is known to exist (local: once created).
        attempt: 0 for the first job; a rerun of a local job that died with its owner
            makes a new job ``<name>-r<attempt>``.
    """

    job_name: str
    client_token: str
    arn: str | None = None
    attempt: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "jobName": self.job_name,
            "clientToken": self.client_token,
            "arn": self.arn,
            "attempt": self.attempt,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PointEntry:
        return cls(
            job_name=str(data["jobName"]),
            client_token=str(data["clientToken"]),
            arn=None if data.get("arn") is None else str(data["arn"]),
            attempt=int(data.get("attempt", 0)),
        )


def fingerprint(arguments: Mapping[str, Any]) -> str:
    """A digest of a sweep's arguments (JSON-able values; others by their ``repr``)."""
    text = json.dumps(arguments, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class Manifest:
    """The manifest file of one sweep, loaded or new.

    Args:
        path: The file.
        digest: The :func:`fingerprint` of the sweep's arguments.
        prefix: The job name prefix a new manifest records (an existing one keeps its own).
        size: How many points the sweep has.
    """

    def __init__(self, path: Path, digest: str, prefix: str, size: int) -> None:
        self.path = path
        self.digest = digest
        self.prefix = prefix
        self.entries: list[PointEntry | None] = [None] * size
        self._lock = anyio.Lock()

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], digest: str, prefix: str, size: int
    ) -> Manifest:
        """Load the manifest at ``path`` if it exists, else start a new one (written at
        once, so that a second sweep with other arguments is refused from the start).

        Raises:
            ConfigurationError: The file is not a manifest, or one of a sweep with other
                arguments.
        """
        manifest = cls(Path(path), digest, prefix, size)
        data = await anyio.to_thread.run_sync(_read, manifest.path)
        if data is None:
            await manifest.save()
            return manifest
        try:
            version = data["version"]
            recorded_digest = data["fingerprint"]
            recorded_prefix = str(data["prefix"])
            points: Sequence[Any] = data["points"]
        except (KeyError, TypeError) as exc:
            raise ConfigurationError(f"{path} is not a sweep manifest ({exc})") from exc
        if version != _VERSION:
            raise ConfigurationError(f"{path} is a manifest of version {version}, not {_VERSION}")
        if recorded_digest != digest or len(points) != size:
            raise ConfigurationError(
                f"{path} is the manifest of a sweep with other arguments: rerun that sweep "
                "with its own arguments, or pass another manifest"
            )
        manifest.prefix = recorded_prefix
        manifest.entries = [
            None if point is None else PointEntry.from_json(point) for point in points
        ]
        return manifest

    async def record(self, index: int, entry: PointEntry) -> None:
        """Set point ``index``'s entry and write the manifest durably."""
        async with self._lock:
            self.entries[index] = attrs.evolve(entry)
            await self._write()

    async def save(self) -> None:
        """Write the manifest durably."""
        async with self._lock:
            await self._write()

    async def _write(self) -> None:
        document = {
            "version": _VERSION,
            "fingerprint": self.digest,
            "prefix": self.prefix,
            "points": [None if entry is None else entry.to_json() for entry in self.entries],
        }
        text = json.dumps(document, indent=1)
        # Shielded: a write cut in the middle would leave only the temporary file, but
        # the record that a job is being created must not be lost to a cancel.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_write_durably, self.path, text)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(f"cannot read the manifest {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{path} is not a sweep manifest (not JSON: {exc})") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} is not a sweep manifest")
    return data


def _write_durably(path: Path, text: str) -> None:
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
