"""A sweep's manifest: an append-only journal of the jobs the sweep creates.

One file of JSON lines. The first line is the header (format version, the digest of the
sweep's arguments, the job name prefix, the number of points); every later line is one
point's entry as it changed (job name, client token, ARN once created, attempt), and a
point's last line is its entry. Recording appends a line: the cost of a point does not
grow with the number of points.

Guarantees:

* An entry recorded ``durable=True`` is on disk (written and fsynced) before
  :meth:`Manifest.record` returns: a sweep records a point's job name and client token
  so before it creates the job. Records made at the same time share one write and one
  fsync (group commit). Other records are written before :meth:`Manifest.record`
  returns (they outlive a crash of the process) and fsynced with the next durable one,
  or when the manifest is closed.
* A crash can leave a torn last line (or a few, never acknowledged); it is ignored and
  cut off when the manifest is opened again. A damaged line followed by good ones is
  not a torn tail: the manifest is refused.
* :meth:`Manifest.close` writes the journal again with one line per point (a temporary
  file, fsynced, renamed over it, the folder fsynced): the old journal or the compacted
  one, never a mix.
* One sweep at a time: the open manifest holds an exclusive lock on the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs

from .errors import ConfigurationError

__all__ = ["Manifest", "PointEntry", "fingerprint", "write_durably"]

#: The header's key, whose value is the format version. Version 1 was one JSON document
#: rewritten whole on every change.
_FORMAT_KEY = "braketAsyncSweep"
_VERSION = 2
_fdatasync = getattr(os, "fdatasync", os.fsync)


@attrs.define
class PointEntry:
    """What the manifest knows of one point.

    Attributes:
        job_name: The name of the point's current job.
        client_token: The token of its create; its job carries it as the tag
            ``braket-async:client-token`` (local and remote jobs alike).
        arn: The job's ARN once its create returned.
        attempt: 0 for the first job; a rerun of a local job that died with its owner
            makes a new job ``<name>-r<attempt>``.
    """

    job_name: str
    client_token: str
    arn: str | None = None
    attempt: int = 0

    def to_json(self, index: int) -> dict[str, Any]:
        return {
            "point": index,
            "jobName": self.job_name,
            "clientToken": self.client_token,
            "arn": self.arn,
            "attempt": self.attempt,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PointEntry:
        arn = data.get("arn")
        attempt = data.get("attempt", 0)
        if not (
            isinstance(data["jobName"], str)
            and isinstance(data["clientToken"], str)
            and (arn is None or isinstance(arn, str))
            and isinstance(attempt, int)
        ):
            raise TypeError("an entry's fields have the wrong types")
        return cls(data["jobName"], data["clientToken"], arn, attempt)


def fingerprint(arguments: Mapping[str, Any]) -> str:
    """A digest of a sweep's arguments (JSON-able values; others by their ``repr``)."""
    text = json.dumps(arguments, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _line(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"


class Manifest:
    """The manifest of one sweep, open: its entries, and the journal they go to.

    Use :meth:`open`; :meth:`close` when the sweep ends (a sweep that crashes leaves a
    journal that the next :meth:`open` reads as well).
    """

    def __init__(self, path: Path, descriptor: int, digest: str, prefix: str, size: int) -> None:
        self.path = path
        self.digest = digest
        self.prefix = prefix
        self.entries: list[PointEntry | None] = [None] * size
        self._descriptor = descriptor
        self._queued: list[bytes] = []
        self._lines_queued = 0
        self._lines_written = 0
        self._lines_synced = 0
        self._lines_in_file = 0
        self._writing: anyio.Event | None = None
        self._broken: BaseException | None = None

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], digest: str, prefix: str, size: int
    ) -> Manifest:
        """Open the manifest at ``path``, or start it (its header on disk at once, so
        that a sweep with other arguments is refused from the start).

        Args:
            path: The file.
            digest: The :func:`fingerprint` of the sweep's arguments.
            prefix: The job name prefix a new manifest records (an existing one keeps
                its own).
            size: How many points the sweep has.

        Raises:
            ConfigurationError: The file is not a manifest of this version, one of a
                sweep with other arguments, damaged, or in use by a running sweep.
        """
        return await anyio.to_thread.run_sync(cls._open, Path(path), digest, prefix, size)

    @classmethod
    def _open(cls, path: Path, digest: str, prefix: str, size: int) -> Manifest:
        descriptor = _open_locked(path)
        try:
            manifest = cls(path, descriptor, digest, prefix, size)
            manifest._load()
        except BaseException:
            os.close(descriptor)
            raise
        return manifest

    def _load(self) -> None:
        """Read the journal (blocking): check its header, take its entries, cut off a
        torn tail; a new or empty one gets its header."""
        with open(self._descriptor, "rb", closefd=False) as file:
            data = file.read()
        header_end = data.find(b"\n")
        if header_end < 0:
            # Empty, or a header torn by a crash while the manifest was made: nothing
            # was recorded after it, so nothing was created.
            if data and not _is_torn_header(data):
                raise ConfigurationError(_not_a_manifest(self.path, data))
            self._rewrite_header()
            return
        try:
            header = json.loads(data[:header_end])
        except ValueError:
            raise ConfigurationError(_not_a_manifest(self.path, data)) from None
        self._check_header(header)
        end = header_end + 1
        lines = data[end:].split(b"\n")
        lines.pop()  # what follows the last newline: empty, or torn
        for number, line in enumerate(lines, start=2):
            try:
                record = json.loads(line)
                index = record["point"]
                entry = PointEntry.from_json(record)
                if not isinstance(index, int) or not 0 <= index < len(self.entries):
                    raise ValueError(f"point {index!r} out of range")
            except (ValueError, KeyError, TypeError) as exc:
                if any(_parses(later) for later in lines[number - 1 :]):
                    raise ConfigurationError(
                        f"{self.path}: line {number} is damaged ({exc}) and later lines are "
                        "not: the manifest cannot be trusted; pass another one"
                    ) from None
                break  # a torn tail: never acknowledged, ignored
            self.entries[index] = entry
            self._lines_in_file += 1
            end += len(line) + 1
        if end < len(data):
            os.ftruncate(self._descriptor, end)
            _fdatasync(self._descriptor)

    def _check_header(self, header: Any) -> None:
        if not isinstance(header, dict) or _FORMAT_KEY not in header:
            raise ConfigurationError(f"{self.path} is not a sweep manifest")
        if header[_FORMAT_KEY] != _VERSION:
            raise ConfigurationError(
                f"{self.path} is a manifest of version {header[_FORMAT_KEY]!r}, not {_VERSION}"
            )
        if header.get("fingerprint") != self.digest or header.get("points") != len(self.entries):
            raise ConfigurationError(
                f"{self.path} is the manifest of a sweep with other arguments: rerun that "
                "sweep with its own arguments, or pass another manifest"
            )
        if not isinstance(header.get("prefix"), str):
            raise ConfigurationError(f"{self.path} is not a sweep manifest (no prefix)")
        self.prefix = header["prefix"]

    def _header(self) -> bytes:
        return _line(
            {
                _FORMAT_KEY: _VERSION,
                "fingerprint": self.digest,
                "prefix": self.prefix,
                "points": len(self.entries),
            }
        )

    def _rewrite_header(self) -> None:
        os.ftruncate(self._descriptor, 0)
        os.write(self._descriptor, self._header())
        os.fsync(self._descriptor)
        _fsync_folder(self.path.parent)

    # -- recording -----------------------------------------------------------------------

    async def record(self, index: int, entry: PointEntry, *, durable: bool = True) -> None:
        """Set point ``index``'s entry and append it to the journal.

        Args:
            index: The point.
            entry: Its entry (a copy is kept).
            durable: Return only once the line is on disk, fsynced (with every line
                recorded before it). Otherwise only once it is written: a power cut may
                lose it, a crash of the process does not.

        Raises:
            OSError: The journal could not be written (then no later record can be).
        """
        if self._broken is not None:
            raise self._broken
        self.entries[index] = attrs.evolve(entry)
        self._queued.append(_line(entry.to_json(index)))
        self._lines_queued += 1
        await self._write_through(self._lines_queued, sync=durable)

    async def _write_through(self, lines: int, *, sync: bool) -> None:
        """Return once the first ``lines`` lines queued are written (and fsynced)."""
        while self._lines_written < lines or (sync and self._lines_synced < lines):
            if self._broken is not None:
                raise self._broken
            if self._writing is not None:
                await self._writing.wait()  # its batch may hold our line; else we write next
                continue
            batch, self._queued = self._queued, []
            written = self._lines_queued
            self._writing = anyio.Event()
            try:
                # Shielded: whoever waits on this batch is owed it, whatever happens to
                # the task that happens to write it.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._append, b"".join(batch), sync)
            except BaseException as exc:
                self._broken = OSError(f"the manifest {self.path} could not be written: {exc}")
                self._broken.__cause__ = exc
                raise
            finally:
                self._writing.set()
                self._writing = None
            self._lines_written = written
            if sync:
                self._lines_synced = written
            self._lines_in_file += len(batch)

    def _append(self, data: bytes, sync: bool) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._descriptor, view) :]
        if sync:
            _fdatasync(self._descriptor)

    async def close(self) -> None:
        """Write what is queued, compact the journal to one line per point, and let the
        file go. Idempotent; shielded from cancellation."""
        if self._descriptor < 0:
            return
        with anyio.CancelScope(shield=True):
            try:
                if self._broken is None:
                    await self._write_through(self._lines_queued, sync=True)
                    if self._lines_in_file > sum(entry is not None for entry in self.entries):
                        await anyio.to_thread.run_sync(self._compact)
            finally:
                descriptor, self._descriptor = self._descriptor, -1
                os.close(descriptor)

    def _compact(self) -> None:
        lines = [self._header()]
        lines += [
            _line(entry.to_json(index))
            for index, entry in enumerate(self.entries)
            if entry is not None
        ]
        write_durably(self.path, b"".join(lines))


def _open_locked(path: Path) -> int:
    """The journal's descriptor, made if missing, locked for this process (blocking)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            descriptor = os.open(
                path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
            )
        except OSError as exc:
            raise ConfigurationError(f"cannot open the manifest {path}: {exc}") from exc
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise ConfigurationError(
                f"{path} is in use by a sweep that is running: one sweep per manifest"
            ) from None
        # A sweep that closed meanwhile replaced the file (compaction): lock the new one.
        try:
            same = os.fstat(descriptor).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return descriptor
        os.close(descriptor)


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _is_torn_header(data: bytes) -> bool:
    """Whether ``data`` (no newline in it) can be a header cut short by a crash: a
    start of one, or the zeros a file system may show after a crash."""
    start = b'{"' + _FORMAT_KEY.encode() + b'":'
    return data.startswith(start) or start.startswith(data) or not data.strip(b"\0")


def _not_a_manifest(path: Path, data: bytes) -> str:
    with contextlib.suppress(ValueError):
        document = json.loads(data)
        if isinstance(document, dict) and document.get("version") == 1:
            return (
                f"{path} is a manifest of an earlier braket_async (version 1, which kept no "
                "job's client token): finish that sweep with that version, or pass another "
                "manifest"
            )
    return f"{path} is not a sweep manifest"


def write_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` whole or not at all, on disk when it returns
    (blocking): a temporary file, fsynced, renamed over it, the folder fsynced."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
