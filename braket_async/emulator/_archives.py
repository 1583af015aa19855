"""Tar archives in and out of jobs: safe extraction and the results archive (blocking).

Archives come from users' S3 objects, so extraction refuses every member that would land
outside the target folder (absolute names, ``..``, links, devices) instead of trusting
the archive.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath

__all__ = ["UnsafeArchiveError", "safe_extract", "safe_relative_path", "tar_gz_folder"]


class UnsafeArchiveError(ValueError):
    """An archive member or object key would land outside its target folder."""


def safe_relative_path(name: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside its folder, else raise."""
    path = PurePosixPath(name)
    parts = [part for part in path.parts if part not in ("", ".")]
    if path.is_absolute() or ".." in parts or not parts or "\\" in name:
        raise UnsafeArchiveError(f"refusing path {name!r}: it leaves the target folder")
    return PurePosixPath(*parts)


def safe_extract(data: bytes, destination: Path) -> list[str]:
    """Extract a tar archive (gzip or plain) into ``destination``; return member names.

    Only regular files and folders are accepted; anything else is refused whole, before
    a single file is written.
    """
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        members = archive.getmembers()
        for member in members:
            safe_relative_path(member.name)
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchiveError(
                    f"refusing member {member.name!r}: only files and folders are allowed"
                )
        destination.mkdir(parents=True, exist_ok=True)
        for member in members:
            target = destination / safe_relative_path(member.name)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            with source, target.open("wb") as output:
                while chunk := source.read(1 << 20):
                    output.write(chunk)
            if member.mode & 0o111:
                target.chmod(0o755)
        return [member.name for member in members]


def tar_gz_folder(folder: Path, *, exclude: frozenset[str] = frozenset()) -> bytes:
    """The contents of ``folder`` (top-level names in ``exclude`` left out) as tar.gz."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if entry.name not in exclude:
                    archive.add(entry, arcname=entry.name)
    return buffer.getvalue()
