"""The job tree: the same files as a folder and as an archive."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path, PurePosixPath

import anyio
import pytest

from braket_async.errors import ConfigurationError
from braket_async.runtimes import JobSpec
from braket_async.runtimes._layout import job_environment
from braket_async.runtimes._staging import JobTree, TreeEntry, job_tree, tar_stream


def make_spec(tmp_path: Path) -> JobSpec:
    package = tmp_path / "algo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.pyc").write_bytes(b"\0")
    data = tmp_path / "data.csv"
    data.write_text("1,2")
    return JobSpec(
        job_name="tree",
        job_arn="local:job/tree",
        device="local:none/none",
        entry_point="algo",
        code=[package],
        hyperparameters={"a": "1"},
        input_data={"train": data},
        environment={"AMZN_BRAKET_JOB_NAME": "overridden?", "EXTRA": "1"},
    )


async def archive_of(tree: JobTree, chunk_size: int = 1 << 20) -> bytes:
    async with tar_stream(tree, chunk_size=chunk_size) as chunks:
        return b"".join([chunk async for chunk in chunks])


@pytest.mark.anyio
async def test_folder_and_archive_hold_the_same_files(tmp_path: Path) -> None:
    tree = job_tree(make_spec(tmp_path))
    root = tmp_path / "root"
    tree.write_to(root)
    on_disk = {
        "/" + str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink()
    }
    with tarfile.open(fileobj=io.BytesIO(await archive_of(tree))) as archive:
        in_archive = {"/" + member.name for member in archive.getmembers() if member.isfile()}
        link = archive.getmember("opt/braket")
        assert link.issym()
        assert link.linkname == "ml"
    assert on_disk == in_archive
    assert "/opt/ml/code/algo/__init__.py" in on_disk
    # A user's bytecode caches stay home; the in-job library's travel with it.
    assert not any("__pycache__" in path for path in on_disk if path.startswith("/opt/ml"))
    assert "/opt/ml/input/data/train/data.csv" in on_disk
    assert "/opt/braket_async/lib/braket_async/jobs/_bootstrap.py" in on_disk
    hyperparameters = root / "opt/braket/input/config/hyperparameters.json"
    assert json.loads(hyperparameters.read_text()) == {"a": "1"}
    assert (root / "opt/jobs/checkpoints").is_dir()


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.anyio
async def test_a_big_file_streams_in_chunks_and_arrives_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 16) * 80)  # 5 MiB
    tree = JobTree((TreeEntry(PurePosixPath("/opt/ml/input/big.bin"), source=big),))
    async with tar_stream(tree, chunk_size=1 << 16) as chunks:
        sizes = [len(chunk) async for chunk in chunks]
    assert len(sizes) > 80
    assert max(sizes) <= 1 << 16
    with tarfile.open(fileobj=io.BytesIO(await archive_of(tree))) as archive:
        member = archive.extractfile("opt/ml/input/big.bin")
        assert member is not None
        assert member.read() == big.read_bytes()


@pytest.mark.anyio
async def test_a_reader_that_stops_early_ends_the_writer_and_leaks_no_descriptor(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (8 << 20))
    tree = JobTree((TreeEntry(PurePosixPath("/big.bin"), source=big),))
    before = open_descriptors()
    with anyio.fail_after(30):
        for _ in range(5):
            async with tar_stream(tree, chunk_size=1 << 16) as chunks:
                assert await anext(chunks)
            # Left: the writer thread has ended.
    assert open_descriptors() == before


@pytest.mark.anyio
async def test_a_source_that_vanished_is_raised_after_what_was_written(tmp_path: Path) -> None:
    present = tmp_path / "present.txt"
    present.write_text("here")
    tree = JobTree(
        (
            TreeEntry(PurePosixPath("/a/present.txt"), source=present),
            TreeEntry(PurePosixPath("/a/gone.txt"), source=tmp_path / "gone.txt"),
        )
    )
    received: list[bytes] = []

    async def read_all() -> None:
        async with tar_stream(tree, chunk_size=512) as chunks:
            async for chunk in chunks:
                received.append(chunk)

    with pytest.raises(FileNotFoundError, match=r"gone\.txt"):
        await read_all()
    assert b"here" in b"".join(received)


def test_the_job_contract_wins_over_extra_environment(tmp_path: Path) -> None:
    environment = job_environment(make_spec(tmp_path))
    assert environment["AMZN_BRAKET_JOB_NAME"] == "tree"
    assert environment["EXTRA"] == "1"
    assert environment["AMZN_BRAKET_HP_FILE"] == "/opt/braket/input/config/hyperparameters.json"
    assert environment["AMZN_BRAKET_INPUT_DIR"] == "/opt/braket/input/data"


@pytest.mark.parametrize("path", ["relative/dir", "/", "/opt/../etc"])
def test_checkpoint_path_must_be_an_absolute_folder(tmp_path: Path, path: str) -> None:
    with pytest.raises(ConfigurationError):
        JobSpec(
            job_name="x",
            job_arn="local:job/x",
            device="d",
            entry_point="algo",
            code=[tmp_path],
            checkpoint_path=path,
        )


def test_the_runtime_and_the_bootstrap_name_the_environment_cache_alike() -> None:
    from braket_async.jobs import _requirements
    from braket_async.runtimes import _layout

    assert _layout.ENVIRONMENT_CACHE_VARIABLE == _requirements.CACHE_VARIABLE
