"""What a job wrote, brought out safely: tar archives (S3 results, users' uploads) and trees.

Blocking: call it from a worker thread. Every member is checked before anything is
written, and the whole archive is refused if one member would land outside the target:
absolute names, ``..``, devices and FIFOs, links that point outside, and members whose
path goes through a link of the same archive (a link chain is how lexical checks are
usually fooled). Where Python has extraction filters, ``filter="data"`` checks the same
against the real file system as a second line.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import stat
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from .errors import ArchiveError, UnsafeArchiveError

__all__ = [
    "copy_tree",
    "extract_tree",
    "is_write_failure",
    "link_refusal",
    "safe_extract",
    "safe_relative_path",
    "tar_gz_folder",
]


#: Errors of writing the copy itself (the disk is full, a quota, a failing device): they
#: end the copy, with the partial file removed, instead of refusing one path the job
#: wrote.
_WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})


def is_write_failure(exc: OSError) -> bool:
    """Whether ``exc`` says that writing failed for a reason of the disk, not the data."""
    return exc.errno in _WRITE_FAILURES


def link_refusal(target: str) -> str | None:
    """Why a link the job made with ``target`` is refused, or ``None`` if it may stay.

    A link may stay only when it points down from its own folder: a relative target
    without ``..``. Such a link resolves inside the tree whatever other links the tree
    holds; any ``..`` or absolute target can be made to leave it (``a -> .`` then
    ``b -> a/..``).
    """
    if not target:
        return "a link without a target"
    if target.startswith("/") or "\\" in target:
        return f"a link to the absolute path {target!r}"
    if ".." in PurePosixPath(target).parts:
        return f"a link to {target!r}, which goes up with '..'"
    return None


def copy_tree(
    source: Path, destination: Path, label: str, *, within: Path | None = None
) -> list[str]:
    """Copy the folder ``source`` that a job wrote into the new folder ``destination``.

    Blocking. No link is followed, in ``source`` (every path component is opened
    without following links, so a job that swaps a folder for a link is refused) or in
    ``destination`` (created here; every entry is created exclusively). Links that
    :func:`link_refusal` refuses, devices, FIFOs and sockets are not copied. Returns one
    line per refused path, named ``<label>/<relative path>``; a missing ``source``
    copies nothing and refuses nothing. With ``within`` (a folder the job cannot
    replace), the components of ``source`` below it are opened one by one, none
    followed if it is a link.

    Raises:
        OSError: Writing the copy failed (:func:`is_write_failure`: a full disk, ...);
            its ``filename`` is the file being written, which is removed. What was
            copied whole before stays.
    """
    refused: list[str] = []
    try:
        root = _open_folder(source, within)
    except FileNotFoundError:
        return refused
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return [f"{label}: the job replaced a folder on its path with a link or file"]
        return [f"{label}: cannot be read ({exc.strerror or exc})"]
    try:
        destination.mkdir(parents=True, exist_ok=False)
        _copy_folder(root, destination, PurePosixPath(label), refused)
    finally:
        os.close(root)
    return refused


def _open_folder(source: Path, within: Path | None) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    if within is None:
        return os.open(source, flags)
    descriptor = os.open(within, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in source.relative_to(within).parts:
            child = os.open(part, flags, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = child
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _copy_folder(folder: int, destination: Path, label: PurePosixPath, refused: list[str]) -> None:
    with os.scandir(folder) as entries:
        listing = sorted(entries, key=lambda entry: entry.name)
    for entry in listing:
        name = label / entry.name
        target = destination / entry.name
        try:
            if entry.is_symlink():
                link = os.readlink(entry.name, dir_fd=folder)
                why = link_refusal(link)
                if why is not None:
                    refused.append(f"{name}: {why}")
                    continue
                os.symlink(link, target)
            elif entry.is_dir(follow_symlinks=False):
                child = os.open(
                    entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder
                )
                try:
                    target.mkdir()
                    _copy_folder(child, target, name, refused)
                finally:
                    os.close(child)
            elif entry.is_file(follow_symlinks=False):
                _copy_file(folder, entry.name, target)
            else:
                refused.append(f"{name}: a device, FIFO or socket")
        except OSError as exc:
            if is_write_failure(exc):
                if exc.filename is None:  # named once, where it happened
                    raise _naming(exc, target) from None
                raise
            refused.append(f"{name}: cannot be copied ({exc.strerror or exc})")


def extract_tree(archive: tarfile.TarFile, root: str, destination: Path, label: str) -> list[str]:
    """Extract the folder ``root`` of ``archive`` (as ``docker cp`` sends one: ``root`` and
    ``root/...``) into the new folder ``destination``, with :func:`copy_tree`'s policy.

    Blocking; the archive is read once, in order (a stream will do). Every member is
    written without following a link: files and folders are created exclusively below
    ``destination`` through descriptors opened with ``O_NOFOLLOW``. Refused, one line
    each (``<label>/<relative path>: why``), while everything else is extracted:
    members outside ``root``, absolute names and ``..``, links :func:`link_refusal`
    refuses, hard links to outside ``root``, devices and FIFOs, paths that go through a
    link, and names that appear twice. Modes keep only the permission bits.

    Raises:
        ArchiveError: The archive cannot be read.
        OSError: Writing failed (:func:`is_write_failure`: a full disk, ...); its
            ``filename`` is the file being written, which is removed.
    """
    refused: list[str] = []
    destination.mkdir(parents=True, exist_ok=False)
    top = os.open(destination, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    prefix = f"{root}/"
    try:
        for member in archive:
            name = member.name.removeprefix("./").rstrip("/")
            if name == root:
                continue
            shown = f"{label}/{name.removeprefix(prefix)}"
            if not name.startswith(prefix):
                refused.append(f"{label}: {member.name!r} is not inside the folder")
                continue
            try:
                why = _extract_member(archive, member, name[len(prefix) :], prefix, top)
            except OSError as exc:
                if not is_write_failure(exc):
                    raise
                raise _naming(exc, destination / name[len(prefix) :]) from None
            if why is not None:
                refused.append(f"{shown}: {why}")
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveError(f"the archive of the job's {label} folder is unreadable: {exc}") from exc
    finally:
        os.close(top)
    return refused


def _extract_member(
    archive: tarfile.TarFile, member: tarfile.TarInfo, relative: str, prefix: str, top: int
) -> str | None:
    """Write one member below the folder ``top``; return why it was refused, or None."""
    path = PurePosixPath(relative)
    if path.is_absolute() or "\\" in relative or ".." in path.parts or not path.parts:
        return "its path is absolute or goes up with '..'"
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        return "a device, FIFO or socket"
    if member.issym():
        why = link_refusal(member.linkname)
        if why is not None:
            return why
    if member.islnk():
        target = PurePosixPath(member.linkname.removeprefix("./"))
        if not str(target).startswith(prefix) or ".." in target.parts:
            return "a hard link to a file outside the folder"
    try:
        parent = _open_parents(top, path.parts[:-1])
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return "its path goes through a link or a file"
        if is_write_failure(exc):
            raise
        return f"cannot be written ({exc.strerror or exc})"
    leaf = path.parts[-1]
    mode = member.mode & 0o755
    try:
        if member.isdir():
            try:
                os.mkdir(leaf, 0o700 | mode, dir_fd=parent)
            except FileExistsError:
                if not _is_folder(parent, leaf):
                    return "the name appears twice in the archive"
        elif member.issym():
            os.symlink(member.linkname, leaf, dir_fd=parent)
        else:  # a file, or a hard link, whose data tarfile reads from its target
            try:
                data = archive.extractfile(member)
            except KeyError:  # a hard link to a name the archive does not hold before it
                return "a hard link to a file outside the folder"
            if data is None:  # a hard link to a member that is not a file
                return "a hard link to something that is not a file"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            written = os.open(leaf, flags, 0o600 | mode, dir_fd=parent)
            try:
                with data:
                    while chunk := data.read(1 << 20):
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(written, view) :]
            except OSError as exc:
                if is_write_failure(exc):  # no truncated file is left
                    with contextlib.suppress(OSError):
                        os.unlink(leaf, dir_fd=parent)
                raise
            finally:
                os.close(written)
    except FileExistsError:
        return "the name appears twice in the archive"
    except OSError as exc:
        if is_write_failure(exc):
            raise
        return f"cannot be written ({exc.strerror or exc})"
    finally:
        if parent != top:
            os.close(parent)
    return None


def _open_parents(top: int, parts: tuple[str, ...]) -> int:
    """The folder ``parts`` below ``top``, made where missing, opened without following a
    link; the caller closes it unless it is ``top``."""
    descriptor = top
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o700, dir_fd=descriptor)
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=descriptor)
            if descriptor != top:
                os.close(descriptor)
            descriptor = child
    except BaseException:
        if descriptor != top:
            os.close(descriptor)
        raise
    return descriptor


def _is_folder(parent: int, name: str) -> bool:
    return stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)


def _copy_file(folder: int, name: str, target: Path) -> None:
    source = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder)
    try:
        mode = os.fstat(source).st_mode & 0o755 | 0o600
        copied = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        try:
            while chunk := os.read(source, 1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(copied, view) :]
        except OSError as exc:
            if is_write_failure(exc):  # no truncated copy is left
                with contextlib.suppress(OSError):
                    os.unlink(target)
            raise
        finally:
            os.close(copied)
    finally:
        os.close(source)


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` naming the file that was being written (a failed write names none)."""
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


def safe_relative_path(name: str) -> PurePosixPath:
    """``name`` (an archive member, an object key below a prefix) as a relative path that
    stays inside its folder; raise :class:`UnsafeArchiveError` for an absolute name, one
    with ``..`` or a backslash, or one that names the folder itself."""
    relative = _relative(name)
    if not relative.parts:
        raise UnsafeArchiveError(f"refusing path {name!r}: it names no file")
    return relative


def _relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    parts = [part for part in path.parts if part not in ("", ".")]
    if path.is_absolute() or ".." in parts or "\\" in name:
        raise UnsafeArchiveError(f"refusing path {name!r}: it leaves the target folder")
    return PurePosixPath(*parts)


def _check(members: list[tarfile.TarInfo]) -> None:
    links: set[PurePosixPath] = set()
    for member in members:
        path = _relative(member.name)
        if not path.parts and not member.isdir():
            raise UnsafeArchiveError(f"refusing archive member {member.name!r}: it names no file")
        if any(parent in links for parent in path.parents):
            raise UnsafeArchiveError(
                f"refusing archive member {member.name!r}: its path goes through a link"
            )
        if member.issym():
            why = link_refusal(member.linkname)
            if why is not None:
                raise UnsafeArchiveError(f"refusing archive member {member.name!r}: {why}")
            links.add(path)
        elif member.islnk():
            safe_relative_path(member.linkname)
            links.add(path)
        elif not (member.isfile() or member.isdir()):
            raise UnsafeArchiveError(
                f"refusing archive member {member.name!r}: devices and FIFOs are not allowed"
            )


def safe_extract(
    archive: str | os.PathLike[str] | bytes,
    destination: str | os.PathLike[str],
    *,
    name: str | None = None,
) -> list[str]:
    """Extract the tar archive (plain or compressed; a file or its bytes) into
    ``destination``, which is created if needed. Returns the members' names.

    Links may stay only where :func:`link_refusal` lets them, the same policy as for
    folders a job wrote.

    Raises:
        UnsafeArchiveError: A member would land outside ``destination``; nothing was
            extracted.
        ArchiveError: ``archive`` is not a readable tar archive (``name`` says which, in
            the message).
    """
    target = Path(destination)
    label = name if name is not None else "the archive"
    source = {"fileobj": io.BytesIO(archive)} if isinstance(archive, bytes) else {"name": archive}
    try:
        with tarfile.open(mode="r:*", **source) as tar:
            members = tar.getmembers()
            _check(members)
            target.mkdir(parents=True, exist_ok=True)
            if hasattr(tarfile, "data_filter"):
                try:
                    tar.extractall(target, members=members, filter="data")
                except tarfile.FilterError as exc:
                    raise UnsafeArchiveError(f"refusing {label}: {exc}") from exc
            else:  # pragma: no cover - Python without extraction filters (< 3.10.12)
                tar.extractall(target, members=members)  # members checked above
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ArchiveError(f"{label} is not a readable tar archive ({exc})") from exc
    return [member.name for member in members]


def tar_gz_folder(folder: Path, *, exclude: frozenset[str] = frozenset()) -> bytes:
    """The contents of ``folder`` (top-level names in ``exclude`` left out) as tar.gz."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if entry.name not in exclude:
                    tar.add(entry, arcname=entry.name)
    return buffer.getvalue()
