"""Safe extraction of tar archives that come from elsewhere (S3 results, users' uploads).

Blocking: call it from a worker thread. Every member is checked before anything is
written, and the whole archive is refused if one member would land outside the target:
absolute names, ``..``, devices and FIFOs, links that point outside, and members whose
path goes through a link of the same archive (a link chain is how lexical checks are
usually fooled). Where Python has extraction filters, ``filter="data"`` checks the same
against the real file system as a second line.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from pathlib import Path, PurePosixPath

from .errors import BraketAsyncError

__all__ = ["UnsafeArchiveError", "safe_extract"]


class UnsafeArchiveError(BraketAsyncError, ValueError):
    """An archive member would land outside the folder it is extracted into."""


def _relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    parts = [part for part in path.parts if part not in ("", ".")]
    if path.is_absolute() or ".." in parts or "\\" in name:
        raise UnsafeArchiveError(f"refusing archive member {name!r}: it leaves the target")
    return PurePosixPath(*parts)


def _check(members: list[tarfile.TarInfo]) -> None:
    links: set[PurePosixPath] = set()
    for member in members:
        path = _relative(member.name)
        if any(parent in links for parent in path.parents):
            raise UnsafeArchiveError(
                f"refusing archive member {member.name!r}: its path goes through a link"
            )
        if member.issym():
            target = member.linkname
            resolved = posixpath.normpath(posixpath.join(str(path.parent), target))
            if posixpath.isabs(target) or resolved == ".." or resolved.startswith("../"):
                raise UnsafeArchiveError(
                    f"refusing link {member.name!r} -> {target!r}: it points outside the target"
                )
            links.add(path)
        elif member.islnk():
            _relative(member.linkname)
            links.add(path)
        elif not (member.isfile() or member.isdir()):
            raise UnsafeArchiveError(
                f"refusing archive member {member.name!r}: devices and FIFOs are not allowed"
            )


def safe_extract(archive: str | os.PathLike[str], destination: str | os.PathLike[str]) -> list[str]:
    """Extract the tar archive (plain or compressed) at ``archive`` into ``destination``.

    Returns the members' names. ``destination`` is created if needed.

    Raises:
        UnsafeArchiveError: A member would land outside ``destination`` (a ``ValueError``);
            nothing was extracted.
        tarfile.TarError: The file is not a readable tar archive.
    """
    target = Path(destination)
    with tarfile.open(archive, mode="r:*") as tar:
        members = tar.getmembers()
        _check(members)
        target.mkdir(parents=True, exist_ok=True)
        if hasattr(tarfile, "data_filter"):
            try:
                tar.extractall(target, members=members, filter="data")
            except tarfile.FilterError as exc:
                raise UnsafeArchiveError(f"refusing archive: {exc}") from exc
        else:  # pragma: no cover - Python without extraction filters (< 3.10.12)
            tar.extractall(target, members=members)  # members checked above
    return [member.name for member in members]
