"""Parts of the Docker runtime that need no daemon: line splitting and safe extraction."""

from __future__ import annotations

import io
import tarfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from braket_async.errors import ContainerError
from braket_async.runtimes import _docker
from braket_async.runtimes._docker import extract_folder
from braket_async.runtimes._output import LineSplitter

# --- line splitting -------------------------------------------------------------------------

STDOUT, STDERR = 1, 2


def split_all(chunks: list[tuple[int, bytes]]) -> list[str]:
    splitter = LineSplitter()
    lines: list[str] = []
    for stream, data in chunks:
        lines += splitter.feed(stream, data)
    return lines + splitter.close()


def test_lines_cut_anywhere_come_out_whole() -> None:
    data = "one\ntwo\r\nthree é\n\nlast".encode()
    expected = ["one", "two", "three é", "", "last"]
    for size in (1, 2, 3, 7, len(data)):
        chunks = [(STDOUT, data[i : i + size]) for i in range(0, len(data), size)]
        assert split_all(chunks) == expected, size


def test_streams_keep_their_own_unfinished_lines() -> None:
    chunks = [
        (STDOUT, b"out-a"),
        (STDERR, b"err-a"),
        (STDOUT, b"-b\nout2"),
        (STDERR, b"-b\n"),
        (STDERR, b"err tail"),
    ]
    assert split_all(chunks) == ["out-a-b", "err-a-b", "out2", "err tail"]


def test_undecodable_bytes_become_replacement_characters() -> None:
    # An é cut between chunks still decodes; stray bytes do not break the reader.
    assert split_all([(STDOUT, b"caf\xc3"), (STDOUT, b"\xa9 \xff\n\xfe")]) == [
        "café \ufffd",
        "\ufffd",
    ]


def test_many_lines_in_one_chunk() -> None:
    data = b"".join(f"line {i}\n".encode() for i in range(10_000))
    assert split_all([(STDOUT, data)]) == [f"line {i}" for i in range(10_000)]


def test_empty_chunks_and_no_output() -> None:
    assert split_all([(STDOUT, b""), (STDERR, b"")]) == []


# --- safe extraction ------------------------------------------------------------------------


def entry(
    name: str,
    data: bytes | None = None,
    *,
    kind: bytes = tarfile.REGTYPE,
    link: str = "",
    mode: int = 0o644,
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else mode
    if data is not None:
        info.size = len(data)
    return info, data


def archive(*entries: tuple[tarfile.TarInfo, bytes | None]) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer, mode="r:")


@pytest.fixture(params=[True, False], ids=["data-filter", "explicit-checks-only"])
def tar_filters(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    """Both paths: with tarfile's ``data`` filter, and as on Pythons that lack it."""
    monkeypatch.setattr(_docker, "_TAR_FILTERS", request.param)
    with warnings.catch_warnings():
        if not request.param:
            # Python 3.12+ warns when extractall runs without a filter; older ones lack it.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="tarfile")
        yield request.param


@pytest.fixture
def destination(tmp_path: Path) -> Path:
    return tmp_path / "out"


def test_a_folder_is_extracted_under_the_destination(tar_filters: bool, destination: Path) -> None:
    tar = archive(
        entry("model", kind=tarfile.DIRTYPE),
        entry("model/results.json", b'{"a": 1}'),
        entry("model/sub", kind=tarfile.DIRTYPE),
        entry("model/sub/deep.bin", b"\x00\x01", mode=0o4777),
        entry("model/sub/link", kind=tarfile.SYMTYPE, link="deep.bin"),
        entry("model/hard", kind=tarfile.LNKTYPE, link="model/results.json"),
    )
    extract_folder(tar, "model", destination)
    assert (destination / "results.json").read_text() == '{"a": 1}'
    assert (destination / "sub" / "deep.bin").read_bytes() == b"\x00\x01"
    assert (destination / "sub" / "link").read_bytes() == b"\x00\x01"
    assert (destination / "hard").read_text() == '{"a": 1}'
    assert not (destination / "model").exists()
    assert (destination / "sub" / "deep.bin").stat().st_mode & 0o7000 == 0  # no setuid


HOSTILE = {
    "absolute path": [entry("/etc/evil", b"x")],
    "dot-dot path": [entry("model/../../evil", b"x")],
    "outside the folder": [entry("other/evil", b"x")],
    "absolute symlink": [entry("model/link", kind=tarfile.SYMTYPE, link="/etc/passwd")],
    "symlink out": [entry("model/link", kind=tarfile.SYMTYPE, link="../../outside")],
    "symlink chain out": [
        entry("model/here", kind=tarfile.SYMTYPE, link="."),
        entry("model/up", kind=tarfile.SYMTYPE, link="here/.."),
    ],
    "write through a symlink": [
        entry("model/dir", kind=tarfile.SYMTYPE, link="."),
        entry("model/escape", kind=tarfile.SYMTYPE, link="dir/../.."),
        entry("model/escape/evil", b"x"),
    ],
    "hard link out": [entry("model/hard", kind=tarfile.LNKTYPE, link="model/../../etc/passwd")],
    "hard link to another folder": [entry("model/hard", kind=tarfile.LNKTYPE, link="etc/passwd")],
    "character device": [entry("model/tty", kind=tarfile.CHRTYPE)],
    "block device": [entry("model/disk", kind=tarfile.BLKTYPE)],
    "fifo": [entry("model/pipe", kind=tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused(
    tar_filters: bool, destination: Path, tmp_path: Path, case: str
) -> None:
    tar = archive(entry("model", kind=tarfile.DIRTYPE), *HOSTILE[case])
    with pytest.raises(ContainerError, match="refusing to extract"):
        extract_folder(tar, "model", destination)
    outside = {path.name for path in tmp_path.iterdir()}
    assert outside <= {"out"}, "nothing may be written next to the destination"
    assert not Path("/etc/evil").exists()


def test_checks_run_before_anything_is_written(tar_filters: bool, destination: Path) -> None:
    tar = archive(
        entry("model/fine.txt", b"fine"),
        entry("model/dev", kind=tarfile.CHRTYPE),
    )
    with pytest.raises(ContainerError, match="special file"):
        extract_folder(tar, "model", destination)
    assert not (destination / "fine.txt").exists()
