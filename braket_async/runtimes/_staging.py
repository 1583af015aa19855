"""The file tree a job starts with, written as a folder or as a tar archive.

One description (:func:`job_tree`) serves both runtimes: the process runtime writes it
into a workspace folder, the Docker runtime streams it as one archive
(:func:`tar_stream`), so no bind mount of the user's tree is needed and a big source or
input channel never sits in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import tarfile
from collections.abc import AsyncIterator, Iterator
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


@attrs.frozen
class JobTree:
    """The files a job starts with, at their paths inside the job."""

    entries: tuple[TreeEntry, ...]

    def write_to(self, root: Path) -> None:
        """Create the tree under the local folder ``root`` (blocking)."""
        for entry in self.entries:
            target = root / entry.path.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if entry.link is not None:
                target.symlink_to(entry.link)
            elif entry.data is not None:
                target.write_bytes(entry.data)
            elif entry.source is not None and entry.source.is_dir():
                shutil.copytree(
                    entry.source,
                    target,
                    symlinks=True,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(*_SKIPPED_NAMES),
                )
            elif entry.source is not None:
                shutil.copy2(entry.source, target)
            else:
                target.mkdir(parents=True, exist_ok=True)

    def write_tar(self, output: BinaryIO) -> None:
        """Write the tree to ``output`` as an uncompressed tar archive rooted at ``/``
        (blocking; ``output`` is written in order, never sought)."""
        folders: set[str] = set()
        with tarfile.open(fileobj=output, mode="w|", format=tarfile.PAX_FORMAT) as archive:
            for entry in self.entries:
                for parent in reversed(entry.path.parents[:-1]):
                    _add_folder(archive, parent, folders)
                name = str(entry.path.relative_to("/"))
                if entry.link is not None:
                    info = tarfile.TarInfo(name)
                    info.type = tarfile.SYMTYPE
                    info.linkname = entry.link
                    archive.addfile(info)
                elif entry.data is not None:
                    info = tarfile.TarInfo(name)
                    info.size = len(entry.data)
                    info.mode = 0o644
                    archive.addfile(info, io.BytesIO(entry.data))
                elif entry.source is not None:
                    archive.add(entry.source, arcname=name, filter=_skip_caches)
                else:
                    _add_folder(archive, entry.path, folders)


@contextlib.asynccontextmanager
async def tar_stream(
    tree: JobTree, *, chunk_size: int = 1 << 20
) -> AsyncIterator[AsyncIterator[bytes]]:
    """The tree as a tar archive, as an iterator of chunks of at most ``chunk_size`` bytes.

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

    def write() -> None:
        with os.fdopen(write_end, "wb", buffering=chunk_size) as output:
            tree.write_tar(output)

    writer = asyncio.ensure_future(asyncio.to_thread(write))
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


def _add_folder(archive: tarfile.TarFile, path: PurePosixPath, added: set[str]) -> None:
    name = str(path.relative_to("/"))
    if name == "." or name in added:
        return
    added.add(name)
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o777  # the job may run as any user of the image
    archive.addfile(info)


def _skip_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if _SKIPPED_NAMES.intersection(PurePosixPath(info.name).parts):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


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
        yield TreeEntry(package / "jobs", source=_IN_JOB_LIBRARY)


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
