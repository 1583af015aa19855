"""The job's files as a stream for a container's stdin: written here, unpacked by the few
lines the container's Python runs first (run here as a real subprocess)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from braket_async.runtimes._file_stream import HEADER, UNPACK, write_stream
from braket_async.runtimes._staging import JobTree, TreeEntry


def unpack(data: bytes, *, then: str = "print('unpacked')") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", UNPACK + then],
        input=data.decode("latin-1"),
        capture_output=True,
        text=True,
        encoding="latin-1",
        timeout=60,
    )


def stream_of(tree: JobTree) -> bytes:
    output = io.BytesIO()
    write_stream(tree, output)
    return output.getvalue()


def test_files_folders_and_links_arrive_as_staged(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "pkg" / "sub").mkdir(parents=True)
    (source / "pkg" / "__init__.py").write_text("")
    script = source / "pkg" / "sub" / "run.sh"
    script.write_bytes(b"#!/bin/sh\n" + bytes(range(256)))
    script.chmod(0o750)
    os.utime(script, (1_600_000_000, 1_600_000_000))
    (source / "pkg" / "link").symlink_to("sub/run.sh")
    (source / "pkg" / "__pycache__").mkdir()
    (source / "pkg" / "__pycache__" / "stale.pyc").write_bytes(b"\0")
    root = tmp_path / "root"
    tree = JobTree(
        (
            TreeEntry(PurePosixPath(root / "code")),
            TreeEntry(PurePosixPath(root / "code" / "pkg"), source=source / "pkg"),
            TreeEntry(PurePosixPath(root / "model")),
            TreeEntry(PurePosixPath(root / "data.json"), data=b'{"a": 1}'),
            TreeEntry(PurePosixPath(root / "braket"), link="ml"),
            TreeEntry(PurePosixPath(root / "café ünïcode.txt"), data="é".encode()),
        )
    )
    outcome = unpack(stream_of(tree), then="import sys; print(repr(sys.stdin.read()))")
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stdout == "''\n"  # the job's stdin is at its end, nothing left in it
    copied = root / "code" / "pkg" / "sub" / "run.sh"
    assert copied.read_bytes() == script.read_bytes()
    assert stat.S_IMODE(copied.stat().st_mode) == 0o750
    assert copied.stat().st_mtime == 1_600_000_000  # bytecode caches stay valid
    assert os.readlink(root / "code" / "pkg" / "link") == "sub/run.sh"
    assert not (root / "code" / "pkg" / "__pycache__").exists()  # a user's caches stay home
    assert (root / "data.json").read_bytes() == b'{"a": 1}'
    assert os.readlink(root / "braket") == "ml"
    assert (root / "café ünïcode.txt").read_text() == "é"
    # Folders staged empty keep the epoch: that is how an untouched one is told apart.
    assert (root / "model").stat().st_mtime == 0
    assert (root / "code").stat().st_mtime == 0


def test_a_stream_cut_short_fails_and_says_so(tmp_path: Path) -> None:
    tree = JobTree((TreeEntry(PurePosixPath(tmp_path / "big"), data=b"x" * 100_000),))
    data = stream_of(tree)
    outcome = unpack(data[: HEADER.size + 50_000])
    assert outcome.returncode != 0
    assert "the job's files ended early" in outcome.stderr
    assert "unpacked" not in outcome.stdout


def test_a_file_that_shrinks_while_sent_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shrinks = tmp_path / "shrinks.bin"
    shrinks.write_bytes(b"12345")
    tree = JobTree((TreeEntry(PurePosixPath(tmp_path / "out" / "f"), source=shrinks),))
    walked = list(tree.items())  # the size is taken here
    shrinks.write_bytes(b"1")
    monkeypatch.setattr(JobTree, "items", lambda self: iter(walked))
    with pytest.raises(OSError, match="changed while it was sent"):
        write_stream(tree, io.BytesIO())
