"""The job's files as a stream for a container's standard input: both ends of one format.

The Docker runtime starts a container with a short Python program (:data:`UNPACK`) ahead
of the bootstrap, which reads the job's files from its standard input and makes them,
as root, before the bootstrap runs. Unpacking a tar archive in the container would need
``tarfile``, whose import alone costs a trivial job about 9 ms there; this format needs
nothing but built-ins. It is written here (:func:`write_stream`) from the same tree
items as the tar archive of the daemon's archive API, and read only by :data:`UNPACK`.

Each item: a header of :data:`HEADER` (kind ``d``/``f``/``l``, mode, modification time,
size, length of the path), the absolute path in UTF-8, then ``size`` bytes (a file's
contents, or a link's target). The stream ends with an item of kind ``e``. Folders get
their mode and time once everything is made, deepest first, so that a file made in a
folder does not change the folder's time (the staged time tells an untouched folder at
the end, see ``_docker_files.py``).
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Final

from ._staging import JobTree

__all__ = ["HEADER", "UNPACK", "write_stream"]

#: kind, mode, modification time (whole seconds), size, length of the path.
HEADER: Final = struct.Struct(">cIqQI")
_KINDS: Final = {"dir": b"d", "file": b"f", "link": b"l"}
_COPY_SIZE: Final = 1 << 20

#: The reading end, run by the container's Python before the bootstrap (any Python 3).
UNPACK: Final = f"""\
import os, sys
read = sys.stdin.buffer.read
folders = []
while True:
    head = read({HEADER.size})
    if len(head) < {HEADER.size} or head[:1] == b"e":
        break
    kind, mode = head[:1], int.from_bytes(head[1:5], "big")
    mtime = int.from_bytes(head[5:13], "big", signed=True)
    size = int.from_bytes(head[13:21], "big")
    path = read(int.from_bytes(head[21:25], "big")).decode("utf-8", "surrogateescape")
    if kind == b"d":
        os.makedirs(path, exist_ok=True)
        folders.append((path, mode, mtime))
    elif kind == b"l":
        if os.path.lexists(path):
            os.unlink(path)
        os.symlink(read(size).decode("utf-8", "surrogateescape"), path)
    else:
        with open(path, "wb") as file:
            while size:
                chunk = read(min(size, {_COPY_SIZE}))
                if not chunk:
                    sys.exit("braket_async: the job's files ended early")
                file.write(chunk)
                size -= len(chunk)
        os.chmod(path, mode)
        os.utime(path, (mtime, mtime))
for path, mode, mtime in reversed(folders):
    os.chmod(path, mode)
    os.utime(path, (mtime, mtime))
sys.stdin.buffer.read()
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
sys.path_importer_cache.clear()
"""


def write_stream(tree: JobTree, output: BinaryIO) -> None:
    """Write ``tree`` to ``output`` in this format (blocking; written in order)."""
    for item in tree.items():
        path = str(item.path).encode("utf-8", "surrogateescape")
        kind = _KINDS[item.kind]
        if item.kind == "link":
            target = item.link.encode("utf-8", "surrogateescape")
            output.write(HEADER.pack(kind, item.mode, item.mtime, len(target), len(path)))
            output.write(path + target)
        elif item.kind == "dir":
            output.write(HEADER.pack(kind, item.mode, item.mtime, 0, len(path)) + path)
        else:
            output.write(HEADER.pack(kind, item.mode, item.mtime, item.size, len(path)) + path)
            with item.open() as contents:
                copied = _copy(contents, output, item.size)
            if copied != item.size:
                raise OSError(f"{item.source} changed while it was sent ({copied} bytes)")
    output.write(HEADER.pack(b"e", 0, 0, 0, 0))


def _copy(source: BinaryIO, output: BinaryIO, size: int) -> int:
    copied = 0
    while copied < size:
        chunk = source.read(min(size - copied, _COPY_SIZE))
        if not chunk:
            break
        output.write(chunk)
        copied += len(chunk)
    return copied
