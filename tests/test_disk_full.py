"""A full disk fails a local job, never hangs it: on both runtimes, a job whose log or
results do not fit, or that is cancelled or loses its creator while its disk is full,
ends FAILED with a reason naming the disk and the path, with a valid final record, no
partial file, and nothing left running.

The job root is a tmpfs of 8 MB of the test's own (mounted as root, unmounted after).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiodocker
import pytest
from support.cli import acli
from support.disk import (
    FLOOD,
    GATED,
    SAVE,
    fill,
    final_record,
    nothing_runs,
    small_disk,
    start_creator,
)
from support.docker import LOCAL_RUNTIMES, TEST_IMAGE, JobFactory, job_containers
from support.jobs import write_module
from support.owning import eventually, first_line

from braket_async import JobFailedError, JobState, LocalQuantumJob
from braket_async.errors import ContainerError
from braket_async.runtimes import DockerRuntime

pytestmark = pytest.mark.anyio

DEVICE = "local:none/none"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk") as mounted:
        yield mounted


@pytest.fixture(params=LOCAL_RUNTIMES)
def options(request: pytest.FixtureRequest) -> dict[str, Any]:
    chosen: dict[str, Any] = request.param
    return chosen


async def ended_cleanly(folder: Path, options: dict[str, Any]) -> dict[str, Any]:
    """The job's final record, once nothing of the job runs any more."""
    data = final_record(folder)
    await eventually(lambda: nothing_runs(data))
    if options["runtime"] == "docker":
        async with aiodocker.Docker() as docker:
            assert await job_containers(docker, folder.name) == []
    return data


async def test_a_job_that_floods_its_log_fails_and_its_creator_exits(
    disk: Path, options: dict[str, Any], tmp_path: Path
) -> None:
    creator = start_creator(
        tmp_path, write_module(tmp_path / "src", "flood", FLOOD), disk, "flood", **options
    )
    out, err = creator.communicate(timeout=120)
    assert (creator.returncode, out, err) == (0, "FAILED\n", "")
    data = await ended_cleanly(disk / "flood", options)
    reason = f"No space left on device writing {disk}/flood/log.txt"
    assert data["failureReason"] == reason
    # Whole lines only, and the last one says why the rest is missing.
    *lines, last = (disk / "flood" / "log.txt").read_text().split("\n")[:-1]
    assert set(lines) == {"x" * 99}
    assert last == f"braket_async: {reason}: the rest of the job's output is lost"


async def test_a_job_that_saves_too_much_fails_without_a_truncated_result(
    disk: Path, options: dict[str, Any], tmp_path: Path
) -> None:
    job = await LocalQuantumJob.create(
        DEVICE, write_module(tmp_path / "src", "save", SAVE), job_name="save", root=disk, **options
    )
    assert await job.wait(poll_timeout_seconds=120) is JobState.FAILED
    reason = f"No space left on device writing {disk}/save/results.json"
    assert (await job.metadata())["failureReason"] == reason
    with pytest.raises(JobFailedError, match=reason):
        await job.result()
    await ended_cleanly(job.folder, options)
    assert not (job.folder / "results.json").exists()
    assert job.run_log == f"saved\nbraket_async: {reason}\n"


async def test_another_process_cancels_a_detached_job_on_a_full_disk(
    disk: Path, options: dict[str, Any], tmp_path: Path
) -> None:
    source = write_module(tmp_path / "src", "gated", GATED)
    creator = start_creator(tmp_path, source, disk, "gated", detach=True, **options)
    assert creator.communicate(timeout=60) == ("", "")
    job = LocalQuantumJob("local:job/gated", root=disk)
    assert await first_line(job) == "ready"
    fill(disk)
    cancelled = await acli("cancel", "--wait", "--root", str(disk), "gated")
    assert (cancelled.code, cancelled.err) == (0, ""), cancelled
    # Even the CANCELLING record did not fit: the job failed on it, and said so.
    assert cancelled.out == "gated FAILED\n"
    data = await ended_cleanly(job.folder, options)
    assert data["failureReason"] == f"No space left on device writing {disk}/gated/metadata.json"


async def test_a_job_whose_creator_is_killed_ends_on_a_full_disk(
    disk: Path, options: dict[str, Any], tmp_path: Path
) -> None:
    source = write_module(tmp_path / "src", "gated", GATED)
    creator = start_creator(tmp_path, source, disk, "gated", **options)
    job = LocalQuantumJob("local:job/gated", root=disk)
    assert await first_line(job) == "ready"
    fill(disk)
    creator.kill()
    creator.communicate()
    assert await job.wait(poll_timeout_seconds=120) is JobState.FAILED
    data = await ended_cleanly(job.folder, options)
    assert data["failureReason"] == (
        f"The program that created this job (pid {creator.pid}) exited before the job ended"
    )


async def test_a_job_cannot_be_created_on_a_full_disk(
    disk: Path, options: dict[str, Any], tmp_path: Path
) -> None:
    fill(disk)
    with pytest.raises(ContainerError, match="Could not create job full: No space left on device"):
        await LocalQuantumJob.create(
            DEVICE,
            write_module(tmp_path / "src", "gated", GATED),
            job_name="full",
            root=disk,
            **options,
        )
    assert not (disk / "full").exists()


@pytest.mark.docker
async def test_docker_outputs_spooled_to_a_full_temporary_folder_name_it(
    disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime seam: a Docker job's outputs are spooled to a temporary file before
    they are extracted; when that fails, the error says where (the spool has no name)."""
    monkeypatch.setattr(tempfile, "tempdir", str(disk))
    spec = JobFactory(tmp_path / "code").spec(
        "from braket_async.jobs import save_job_result\nsave_job_result({'b': 'y' * 100_000})\n"
    )
    async with DockerRuntime(
        image_uri=TEST_IMAGE, network_mode="none", local_container_update=False
    ) as runtime:
        execution = await runtime.start(spec)
        try:
            assert [line async for line in execution.output()] == []
            assert await execution.wait() == 0
            fill(disk)
            with pytest.raises(OSError, match="No space left on device") as caught:
                await execution.collect(tmp_path / "collected")
            assert caught.value.filename == f"a temporary file in {disk}"
        finally:
            await execution.aclose()
