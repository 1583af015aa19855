"""Safe extraction of job archives and object keys."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from braket_async import ArchiveError, UnsafeArchiveError
from braket_async._archives import safe_extract, safe_relative_path, tar_gz_folder


def _archive(*members: tarfile.TarInfo, data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            if member.isfile():
                member.size = len(data)
                archive.addfile(member, io.BytesIO(data))
            else:
                archive.addfile(member)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize("name", ["../x.py", "/etc/x.py", "a/../../x.py", "a\\..\\x", ".", ""])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafeArchiveError):
        safe_relative_path(name)


def test_safe_names() -> None:
    assert str(safe_relative_path("./pkg/mod.py")) == "pkg/mod.py"


@pytest.mark.parametrize(
    "member",
    [
        _member("link", tarfile.SYMTYPE, "/etc/passwd"),
        _member("hard", tarfile.LNKTYPE, "../algo.py"),
        _member("up", tarfile.SYMTYPE, "sub/../.."),
        _member("fifo", tarfile.FIFOTYPE),
        _member("../escape.py"),
    ],
)
def test_archives_with_unsafe_members_are_refused_whole(
    tmp_path: Path, member: tarfile.TarInfo
) -> None:
    data = _archive(_member("algo.py"), member)
    with pytest.raises(UnsafeArchiveError):
        safe_extract(data, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "escape.py").exists()


def test_extract_and_pack_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "results.json").write_text("{}")
    (folder / "sub" / "more.txt").write_text("more")
    (folder / "checkpoints").mkdir()

    archive = tar_gz_folder(folder, exclude=frozenset({"checkpoints"}))
    names = safe_extract(archive, tmp_path / "out")

    assert "checkpoints" not in names
    assert (tmp_path / "out" / "results.json").read_text() == "{}"
    assert (tmp_path / "out" / "sub" / "more.txt").read_text() == "more"


@pytest.mark.parametrize("data", [b"", b"not a tar at all", b"\x1f\x8b\x08\x00broken gzip"])
def test_what_is_not_a_tar_archive_is_an_archive_error_naming_it(
    tmp_path: Path, data: bytes
) -> None:
    with pytest.raises(ArchiveError, match=r"^s3://b/k\.tar\.gz is not a readable tar archive"):
        safe_extract(data, tmp_path / "out", name="s3://b/k.tar.gz")
    assert not (tmp_path / "out").exists()
