"""Copying a folder out of a ``docker cp`` archive: refuse what leaves it, keep the rest."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from braket_async._archives import extract_tree
from braket_async.errors import ArchiveError


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


@pytest.fixture
def destination(tmp_path: Path) -> Path:
    return tmp_path / "out"


def test_a_folder_is_extracted_under_the_destination(destination: Path) -> None:
    tar = archive(
        entry("model", kind=tarfile.DIRTYPE),
        entry("model/results.json", b'{"a": 1}'),
        entry("model/sub", kind=tarfile.DIRTYPE),
        entry("model/sub/deep.bin", b"\x00\x01", mode=0o4777),
        entry("model/sub/link", kind=tarfile.SYMTYPE, link="deep.bin"),
        entry("model/hard", kind=tarfile.LNKTYPE, link="model/results.json"),
        entry("model/implicit/parent.txt", b"p"),
    )
    assert extract_tree(tar, "model", destination, "model") == []
    assert (destination / "results.json").read_text() == '{"a": 1}'
    assert (destination / "sub" / "deep.bin").read_bytes() == b"\x00\x01"
    assert os.readlink(destination / "sub" / "link") == "deep.bin"
    assert (destination / "hard").read_text() == '{"a": 1}'
    assert not (destination / "hard").is_symlink()
    assert (destination / "implicit" / "parent.txt").read_text() == "p"
    assert not (destination / "model").exists()
    assert (destination / "sub" / "deep.bin").stat().st_mode & 0o7000 == 0  # no setuid


HOSTILE = {
    "absolute path": ([entry("/etc/evil", b"x")], "model: '/etc/evil' is not inside"),
    "dot-dot path": ([entry("model/../../evil", b"x")], "model/../../evil: its path"),
    "outside the folder": ([entry("other/evil", b"x")], "model: 'other/evil' is not inside"),
    "absolute symlink": (
        [entry("model/link", kind=tarfile.SYMTYPE, link="/etc/passwd")],
        "model/link: a link to the absolute path '/etc/passwd'",
    ),
    "symlink out": (
        [entry("model/link", kind=tarfile.SYMTYPE, link="../../outside")],
        "model/link: a link to '../../outside', which goes up",
    ),
    "symlink chain out": (
        [
            entry("model/here", kind=tarfile.SYMTYPE, link="."),
            entry("model/up", kind=tarfile.SYMTYPE, link="here/.."),
        ],
        "model/up: a link to 'here/..'",
    ),
    "write through a symlink": (
        [
            entry("model/dir", kind=tarfile.SYMTYPE, link="sub"),
            entry("model/sub", kind=tarfile.DIRTYPE),
            entry("model/dir/evil", b"x"),
        ],
        "model/dir/evil: its path goes through a link",
    ),
    "hard link out": (
        [entry("model/hard", kind=tarfile.LNKTYPE, link="model/../../etc/passwd")],
        "model/hard: a hard link to a file outside the folder",
    ),
    "hard link to another folder": (
        [entry("model/hard", kind=tarfile.LNKTYPE, link="etc/passwd")],
        "model/hard: a hard link to a file outside the folder",
    ),
    "character device": ([entry("model/tty", kind=tarfile.CHRTYPE)], "model/tty: a device"),
    "block device": ([entry("model/disk", kind=tarfile.BLKTYPE)], "model/disk: a device"),
    "fifo": ([entry("model/pipe", kind=tarfile.FIFOTYPE)], "model/pipe: a device, FIFO"),
    "a name twice": (
        [entry("model/twice.txt", b"first"), entry("model/twice.txt", b"second")],
        "model/twice.txt: the name appears twice",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused_and_the_rest_is_kept(
    destination: Path, tmp_path: Path, case: str
) -> None:
    members, refusal = HOSTILE[case]
    tar = archive(
        entry("model", kind=tarfile.DIRTYPE),
        entry("model/before.txt", b"before"),
        *members,
        entry("model/after.txt", b"after"),
    )
    refused = extract_tree(tar, "model", destination, "model")
    assert len(refused) == 1, refused
    assert refused[0].startswith(refusal), refused
    assert (destination / "before.txt").read_text() == "before"
    assert (destination / "after.txt").read_text() == "after"
    assert {path.name for path in tmp_path.iterdir()} == {"out"}, "nothing next to it"
    assert not Path("/etc/evil").exists()
    for path in destination.rglob("*"):
        if path.is_symlink():
            assert os.path.realpath(path).startswith(str(destination.resolve()))


def test_a_name_twice_keeps_the_first(destination: Path) -> None:
    tar = archive(entry("model/twice.txt", b"first"), entry("model/twice.txt", b"second"))
    extract_tree(tar, "model", destination, "model")
    assert (destination / "twice.txt").read_text() == "first"


def test_an_existing_destination_is_not_written_into(destination: Path) -> None:
    destination.mkdir()
    with pytest.raises(FileExistsError):
        extract_tree(archive(entry("model/x", b"x")), "model", destination, "model")


def test_a_truncated_archive_is_an_archive_error(destination: Path, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("model/big.bin")
        info.size = 1 << 20
        tar.addfile(info, io.BytesIO(b"\0" * (1 << 20)))
    cut = io.BytesIO(buffer.getvalue()[: 1 << 19])
    with (
        tarfile.open(fileobj=cut, mode="r:") as tar,
        pytest.raises(ArchiveError, match="unreadable"),
    ):
        extract_tree(tar, "model", destination, "model")
