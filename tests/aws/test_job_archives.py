"""Safe extraction of result archives, alone and through result() / download_result()."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import pytest
from support.aws import SV1
from support.jobs import listing, put_object, tar_gz, write_module

from braket_async import ArchiveError, UnsafeArchiveError
from braket_async._archives import safe_extract
from braket_async.aws import AwsQuantumJob, AwsSession
from braket_async.errors import ServiceError

pytestmark = pytest.mark.anyio


def _archive(path: Path, *members: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for member in members:
            data = b"x" * member.size if member.isfile() else None
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 1
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = size if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    "members",
    [
        [_member("/etc/evil")],
        [_member("../evil")],
        [_member("a/../../evil")],
        [_member("ok"), _member("link", tarfile.SYMTYPE, "../outside")],
        [_member("link", tarfile.SYMTYPE, "/etc/passwd")],
        [_member("dir/link", tarfile.SYMTYPE, "../../x")],
        [_member("hard", tarfile.LNKTYPE, "../x")],
        [_member("dev", tarfile.CHRTYPE)],
        [_member("fifo", tarfile.FIFOTYPE)],
        # A link inside, then a member through it: refused whatever the link points at.
        [_member("sub", tarfile.DIRTYPE), _member("l", tarfile.SYMTYPE, "sub"), _member("l/file")],
    ],
    ids=[
        "absolute",
        "dotdot",
        "nested-dotdot",
        "symlink-out",
        "symlink-absolute",
        "nested-symlink-out",
        "hardlink-out",
        "device",
        "fifo",
        "through-link",
    ],
)
def test_unsafe_members_refuse_the_whole_archive(
    tmp_path: Path, members: list[tarfile.TarInfo]
) -> None:
    archive = _archive(tmp_path / "a.tar.gz", *members)
    target = tmp_path / "target"
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, target)
    assert not target.exists() or list(target.iterdir()) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.tar.gz"]


def test_safe_archives_extract(tmp_path: Path) -> None:
    archive = _archive(
        tmp_path / "a.tar.gz",
        _member("dir", tarfile.DIRTYPE),
        _member("dir/file", size=3),
        _member("dir/link", tarfile.SYMTYPE, "file"),
        _member("./top", size=2),
    )
    names = safe_extract(archive, tmp_path / "out")
    assert names == ["dir", "dir/file", "dir/link", "./top"]
    assert (tmp_path / "out" / "dir" / "file").read_bytes() == b"xxx"
    assert (tmp_path / "out" / "dir" / "link").read_bytes() == b"xxx"
    assert (tmp_path / "out" / "top").read_bytes() == b"xx"


async def _completed_job(session: AwsSession, tmp_path: Path) -> tuple[AwsQuantumJob, str]:
    """A job the fake runner completed at once, and where its output archive belongs."""
    job = await AwsQuantumJob.create(SV1, write_module(tmp_path, "algo"), aws_session=session)
    s3_path = (await job.metadata())["outputDataConfig"]["s3Path"]
    return job, f"{s3_path}/output/model.tar.gz"


async def test_result_refuses_an_unsafe_archive(
    fake_session: AwsSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job, uri = await _completed_job(fake_session, tmp_path)
    await put_object(fake_session, uri, tar_gz({"../escape.json": b"{}"}))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    with pytest.raises(UnsafeArchiveError):
        await job.result(poll_interval_seconds=0.05)
    with pytest.raises(UnsafeArchiveError):
        await job.download_result(poll_interval_seconds=0.05)
    assert listing(cwd) == []
    assert not (tmp_path / "escape.json").exists()


async def test_an_output_that_is_not_a_tar_archive_is_an_archive_error_naming_it(
    fake_session: AwsSession, tmp_path: Path
) -> None:
    job, uri = await _completed_job(fake_session, tmp_path)
    await put_object(fake_session, uri, b"<Error>not an archive</Error>")
    message = rf"^{re.escape(uri)} is not a readable tar archive"
    with pytest.raises(ArchiveError, match=message):
        await job.result(poll_interval_seconds=0.05)
    target = tmp_path / "out"
    with pytest.raises(ArchiveError, match=message):
        await job.download_result(target, poll_interval_seconds=0.05)
    assert not target.exists() or listing(target) == []


async def test_pickled_results_need_allow_pickle(fake_session: AwsSession, tmp_path: Path) -> None:
    from braket_async.jobs import save_job_result

    folder = tmp_path / "model"
    folder.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AMZN_BRAKET_JOB_RESULTS_DIR", str(folder))
        save_job_result({"value": {1, 2}}, data_format="pickled_v4")
    job, uri = await _completed_job(fake_session, tmp_path)
    await put_object(
        fake_session, uri, tar_gz({"results.json": (folder / "results.json").read_bytes()})
    )
    with pytest.raises(RuntimeError):
        await job.result(poll_interval_seconds=0.05)
    assert await job.result(poll_interval_seconds=0.05, allow_pickle=True) == {"value": {1, 2}}


async def test_plain_results_and_other_files(fake_session: AwsSession, tmp_path: Path) -> None:
    job, uri = await _completed_job(fake_session, tmp_path)
    document = {
        "braketSchemaHeader": {"name": "braket.jobs_data.persisted_job_data", "version": "1"},
        "dataDictionary": {"energy": -1.0},
        "dataFormat": "plaintext",
    }
    await put_object(
        fake_session,
        uri,
        tar_gz({"results.json": json.dumps(document).encode(), "extra/plot.txt": b"p"}),
    )
    assert await job.result(poll_interval_seconds=0.05) == {"energy": -1.0}
    folder = await job.download_result(tmp_path / "out", poll_interval_seconds=0.05)
    assert (folder / "extra" / "plot.txt").read_bytes() == b"p"


async def test_a_missing_output_archive_is_an_error(
    fake_session: AwsSession, tmp_path: Path
) -> None:
    job, _ = await _completed_job(fake_session, tmp_path)
    with pytest.raises(ServiceError) as caught:
        await job.result(poll_interval_seconds=0.05)
    assert caught.value.code in {"NoSuchKey", "404"}
