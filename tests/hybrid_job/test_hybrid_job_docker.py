"""``@hybrid_job`` on the Docker runtime: a real daemon and the test image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import hybrid_job_functions as functions
import pytest
from support.docker import TEST_IMAGE

from braket_async import hybrid_job
from braket_async.runtimes import DockerRuntime

Staged = Callable[[], list[str]]

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


async def test_a_call_runs_in_a_container(jobs_root: Path, staged: Staged) -> None:
    runtime = DockerRuntime(image_uri=TEST_IMAGE, network_mode="none", local_container_update=False)
    async with runtime:
        run = hybrid_job(device=None, target=runtime, root=jobs_root)(functions.describe)
        job = await run("a", 2, scale=2, where="docker")
        result = await job.result(poll_interval_seconds=0.2)
    assert result == {"args": ["aa", 4], "kwargs": {"where": "docker"}, "job": job.name}
    assert (await job.metadata())["runtime"] == "docker"
    assert staged() == []


async def test_a_closure_with_input_data_runs_in_a_container(
    jobs_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, staged: Staged
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "numbers.txt").write_text("1 2 3")
    offset = 100

    def total(path: str) -> dict[str, object]:
        import os

        with open(path) as file:
            numbers = [int(n) for n in file.read().split()]
        return {"total": sum(numbers) + offset, "linked": os.path.islink("data"), "set": {1, 2}}

    runtime = DockerRuntime(image_uri=TEST_IMAGE, network_mode="none", local_container_update=False)
    async with runtime:
        run = hybrid_job(
            device=None, target=runtime, root=jobs_root, input_data="data", data_format="pickle"
        )(total)
        job = await run("data/numbers.txt")
        result = await job.result(poll_interval_seconds=0.2, allow_pickle=True)
    assert result == {"total": 106, "linked": True, "set": {1, 2}}
    assert not (job.folder / "data").exists()  # the link is not collected
    assert staged() == []
