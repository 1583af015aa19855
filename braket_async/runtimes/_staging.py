"""The file tree a job starts with, written as a folder or as a tar archive.

One description (:func:`job_tree`) serves both runtimes: the process runtime writes it
into a workspace folder, the Docker runtime streams it as one archive
(:func:`tar_stream`), so no bind mount of the user's tree is needed and a big source or
input channel never sits in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import os
import shutil
import stat
import tarfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import attrs

from ._base import JobSpec
from ._layout import (
    BRAKET_ROOT,
    CODE_PATH,
    FAILURE_PATH,
    HYPERPARAMETERS_PATH,
    INPUT_DATA_PATH,
    LIBRARY_PATH,
    ML_ROOT,
    MODEL_PATH,
    hyperparameters_json,
)

__all__ = ["JobTree", "TreeEntry", "job_tree", "tar_stream"]

_PACKAGE_STUB = b'"""braket_async, as shipped into a job: the in-job API only."""\n'
_SKIPPED_NAMES = frozenset({"__pycache__"})

# braket_async/jobs, found by path: importing it would load the in-job API here.
_IN_JOB_LIBRARY = Path(__file__).resolve().parent.parent / "jobs"


@attrs.frozen
class TreeEntry:
    """One path of the job's tree.

    Exactly one of ``source`` (a local file or folder, whose contents are copied),
    ``data`` (file contents) or ``link`` (a symbolic link target) is set; with none the
    entry is an empty folder.
    """

    path: PurePosixPath
    source: Path | None = None
    data: bytes | None = None
    link: str | None = None
    #: Keep the ``__pycache__`` folders of ``source`` (only the in-job library's: their
    #: bytecode spares each job compiling it; a user's caches may be stale).
    caches: bool = False


@attrs.frozen
class TreeItem:
    """One file, folder or link of the tree, as every writer of the tree sees it."""

    kind: str  # "dir", "file" or "link"
    path: PurePosixPath
    mode: int = 0o777
    mtime: int = 0  # staged folders have the epoch: see _docker_files.py
    size: int = 0
    source: Path | None = None  # a file's contents, or
    data: bytes | None = None
    link: str = ""

    def open(self) -> BinaryIO:
        """A file's contents (blocking)."""
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.source is not None
        return open(self.source, "rb")


@attrs.frozen
class JobTree:
    """The files a job starts with, at their paths inside the job."""

    entries: tuple[TreeEntry, ...]

    def write_to(self, root: Path) -> None:
        """Create the tree under the local folder ``root`` (blocking)."""
        for item in self.items():
            target = root / item.path.relative_to("/")
            if item.kind == "dir":
                target.mkdir(parents=True, exist_ok=True)
            elif item.kind == "link":
                target.symlink_to(item.link)
            elif item.data is not None:
                target.write_bytes(item.data)
            else:
                assert item.source is not None
                shutil.copy2(item.source, target)

    def items(self) -> Iterator[TreeItem]:
        """Every folder, file and link of the tree, each folder before what is in it
        (blocking: source folders are walked; links in them are kept as links, other
        special files are left out)."""
        folders: set[PurePosixPath] = set()
        for entry in self.entries:
            for parent in reversed(entry.path.parents[:-1]):
                if parent not in folders:
                    folders.add(parent)
                    yield TreeItem("dir", parent)
            if entry.link is not None:
                yield TreeItem("link", entry.path, mode=0o777, link=entry.link)
            elif entry.data is not None:
                yield TreeItem(
                    "file", entry.path, mode=0o644, size=len(entry.data), data=entry.data
                )
            elif entry.source is not None:
                if entry.caches:
                    _fresh_bytecode(entry.source)  # done already in a supervisor
                yield from _source_items(entry.source, entry.path, entry.caches)
            elif entry.path not in folders:
                folders.add(entry.path)
                yield TreeItem("dir", entry.path)

    def write_tar(self, output: BinaryIO) -> None:
        """Write the tree to ``output`` as an uncompressed tar archive rooted at ``/``
        (blocking; ``output`` is written in order, never sought)."""
        with tarfile.open(fileobj=output, mode="w|", format=tarfile.PAX_FORMAT) as archive:
            for item in self.items():
                info = tarfile.TarInfo(str(item.path.relative_to("/")))
                info.mode = item.mode
                info.mtime = item.mtime
                if item.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    archive.addfile(info)
                elif item.kind == "link":
                    info.type = tarfile.SYMTYPE
                    info.linkname = item.link
                    archive.addfile(info)
                else:
                    info.size = item.size
                    with item.open() as contents:
                        archive.addfile(info, contents)


def library_bytecode() -> None:
    """Bring the in-job library's bytecode up to date (blocking; once per process)."""
    _fresh_bytecode(_IN_JOB_LIBRARY)


@functools.cache
def _fresh_bytecode(folder: Path) -> None:
    """Bring the bytecode caches of ``folder`` up to date, once per process (blocking).

    They are this interpreter's: an image with the same Python version uses them, any
    other ignores them. A folder that cannot be written is left as it is.
    """
    import compileall

    with contextlib.suppress(OSError):
        compileall.compile_dir(folder, quiet=2)


def _source_items(source: Path, path: PurePosixPath, caches: bool) -> Iterator[TreeItem]:
    """A local file or folder (walked, sorted, links not followed) as tree items."""
    status = source.lstat()
    if stat.S_ISLNK(status.st_mode):
        yield TreeItem("link", path, mode=0o777, link=os.readlink(source))
    elif stat.S_ISREG(status.st_mode):
        mode, mtime = stat.S_IMODE(status.st_mode), int(status.st_mtime)
        yield TreeItem("file", path, mode=mode, mtime=mtime, size=status.st_size, source=source)
    elif stat.S_ISDIR(status.st_mode):
        mode, mtime = stat.S_IMODE(status.st_mode), int(status.st_mtime)
        yield TreeItem("dir", path, mode=mode, mtime=mtime)
        for name in sorted(os.listdir(source)):
            if caches or name not in _SKIPPED_NAMES:
                yield from _source_items(source / name, path / name, caches)


@contextlib.asynccontextmanager
async def tar_stream(
    tree: JobTree,
    *,
    chunk_size: int = 1 << 20,
    write: Callable[[JobTree, BinaryIO], None] = JobTree.write_tar,
) -> AsyncIterator[AsyncIterator[bytes]]:
    """The tree as a tar archive (or as ``write`` writes it), as an iterator of chunks of
    at most ``chunk_size`` bytes.

    A worker thread writes the archive into a pipe that the iterator reads, so memory
    stays at a few chunks whatever the tree's size, and the thread waits while nobody
    reads. The iterator may be read by another task (an HTTP client's body writer); when
    the block is left, the pipe is closed, so the thread ends at its next write and a
    reader still waiting sees the end. An error of the thread (a source file that
    vanished) is raised by the iterator after the chunks written before it, and again
    when the block is left without another error.
    """
    loop = asyncio.get_running_loop()
    read_end, write_end = os.pipe()
    with contextlib.suppress(ImportError, AttributeError, OSError):  # a bigger pipe (Linux)
        import fcntl

        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, chunk_size)
    reader = asyncio.StreamReader(limit=chunk_size, loop=loop)
    # Closed through the file object only: its close is idempotent, so a transport that
    # was made before a cancel and closes it too cannot close a reused descriptor.
    pipe = os.fdopen(read_end, "rb", buffering=0)
    try:
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe
        )
    except BaseException:
        pipe.close()
        os.close(write_end)
        raise

    def write_all() -> None:
        with os.fdopen(write_end, "wb", buffering=chunk_size) as output:
            write(tree, output)

    writer = asyncio.ensure_future(asyncio.to_thread(write_all))
    # Retrieved here too: a cancelled owner may stop waiting for the writer, whose
    # BrokenPipeError is then expected, not an unhandled error.
    writer.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await reader.read(chunk_size):
            yield chunk
        await writer

    try:
        yield chunks()
    except BaseException:
        transport.close()
        with contextlib.suppress(Exception):
            await asyncio.shield(writer)
        raise
    transport.close()  # a writer still writing gets BrokenPipeError and ends
    with contextlib.suppress(BrokenPipeError):  # nobody read the rest
        await asyncio.shield(writer)


def in_job_library(linked: bool = False) -> Iterator[TreeEntry]:
    """The stdlib-only in-job API and bootstrap, as a ``braket_async`` package stub.

    ``linked``: its ``jobs`` folder is a link to this installation's, not a copy, so
    that every job shares one folder and its cached bytecode (for trees on this host).
    """
    package = PurePosixPath(LIBRARY_PATH, "braket_async")
    yield TreeEntry(package / "__init__.py", data=_PACKAGE_STUB)
    if linked:
        yield TreeEntry(package / "jobs", link=str(_IN_JOB_LIBRARY))
    else:
        yield TreeEntry(package / "jobs", source=_IN_JOB_LIBRARY, caches=True)


def job_tree(spec: JobSpec, *, link_library: bool = False) -> JobTree:
    """Describe the tree a job described by ``spec`` starts with (with the in-job
    library linked, not copied, when ``link_library``: see :func:`in_job_library`)."""
    code = PurePosixPath(CODE_PATH)
    entries = [
        TreeEntry(code),
        *(TreeEntry(code / path.name, source=path) for path in spec.code),
        TreeEntry(PurePosixPath(MODEL_PATH)),
        TreeEntry(PurePosixPath(FAILURE_PATH).parent),
        # Relative, so that the link also works inside a process runtime workspace.
        TreeEntry(PurePosixPath(BRAKET_ROOT), link=PurePosixPath(ML_ROOT).name),
        TreeEntry(PurePosixPath(spec.checkpoint_path), source=spec.checkpoint_input),
        *in_job_library(link_library),
    ]
    if spec.hyperparameters:
        entries.append(TreeEntry(_under_ml(HYPERPARAMETERS_PATH), data=hyperparameters_json(spec)))
    for channel, local_path in spec.input_data.items():
        channel_path = _under_ml(INPUT_DATA_PATH) / channel
        if local_path.is_dir():
            entries.append(TreeEntry(channel_path, source=local_path))
        else:
            entries.append(TreeEntry(channel_path / local_path.name, source=local_path))
    return JobTree(tuple(entries))


def _under_ml(braket_path: str) -> PurePosixPath:
    """``/opt/braket/x`` as ``/opt/ml/x``: files are written through the real folder."""
    return PurePosixPath(ML_ROOT) / PurePosixPath(braket_path).relative_to(BRAKET_ROOT)
