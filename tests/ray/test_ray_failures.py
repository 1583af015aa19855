"""What a cluster does to jobs: a worker node that dies, a job that stays PENDING, a
supervisor that dies (the job's lease runs out). Each ends with a final record and a
reason, and no process of the job is left on any node."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import anyio
import pytest
from support.owning import alive
from support.ray_cluster import WORKER_RESOURCE, RayCluster, start_setsid_job, wait_until_gone

from braket_async import LocalQuantumJob
from braket_async.runtimes import RayRuntime

pytestmark = pytest.mark.anyio


async def test_a_worker_node_that_dies_fails_its_job_and_leaves_nothing(
    cluster: RayCluster, tmp_path: Path
) -> None:
    async with RayRuntime(
        cluster.address, python=cluster.python, resources={WORKER_RESOURCE: 1}
    ) as runtime:
        job, submission, pids = await start_setsid_job(runtime, tmp_path)
        await asyncio.to_thread(cluster.kill_worker)
        with anyio.fail_after(60):
            assert await job.wait() == "FAILED"
    reason = (await job.metadata())["failureReason"]
    assert reason.startswith("RayJobError: ")
    # The job's processes noticed that their driver died and ended themselves.
    assert wait_until_gone(submission) == []
    assert not any(alive(pid) for pid in pids)


async def test_a_job_stuck_pending_is_stopped_and_failed(
    cluster: RayCluster, tmp_path: Path
) -> None:
    (tmp_path / "algo.py").write_text("print('never')\n")
    async with RayRuntime(
        cluster.address,
        python=cluster.python,
        resources={"no-node-has-this": 1},
        start_timeout=2,
        poll_interval=0.2,
    ) as runtime:
        job = await LocalQuantumJob.create(
            "local:none/none", str(tmp_path / "algo.py"), root=tmp_path, runtime=runtime
        )
        with anyio.fail_after(60):
            assert await job.wait() == "FAILED"
    record = await job.metadata()
    assert record["failureReason"].startswith("RayJobError: the job was still PENDING after 2 s"), (
        record["failureReason"]
    )
    # Ray keeps a stopped job that never got a node PENDING (until its own start
    # timeout, 15 minutes); if it gets one, the stop ends it as it starts.
    submission = record["rayJob"]["submissionId"]
    assert (await asyncio.to_thread(cluster.job, submission))["status"] in ("PENDING", "STOPPED")


async def test_a_job_whose_supervisor_died_ends_itself_when_its_lease_runs_out(
    cluster: RayCluster, tmp_path: Path
) -> None:
    async with RayRuntime(cluster.address, python=cluster.python, lease_seconds=3) as runtime:
        job, submission, pids = await start_setsid_job(runtime, tmp_path)
        supervisor = (await job.metadata())["supervisor"]["pid"]
        os.kill(supervisor, signal.SIGKILL)
        # The job's record ends as any job's whose owner died...
        with anyio.fail_after(30):
            assert await job.wait() == "FAILED"
        # ...and on the cluster the job ends itself once no renewal came for 3 s.
        assert wait_until_gone(submission, timeout=30) == []
        assert not any(alive(pid) for pid in pids)
        status = (await asyncio.to_thread(cluster.job, submission))["status"]
        for _ in range(100):
            if status != "RUNNING":
                break
            await anyio.sleep(0.1)
            status = (await asyncio.to_thread(cluster.job, submission))["status"]
        assert status == "FAILED"
