"""A 50-point sweep on both nodes of the cluster, with a manifest, killed with SIGKILL
halfway and run again: every point once, none twice."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.owning import wait_until
from support.ray_cluster import RayCluster

from braket_async import sweep
from braket_async.runtimes import RayRuntime

pytestmark = pytest.mark.anyio

POINTS = 50

POINT = """
import os, time
from braket_async.jobs import get_hyperparameters, save_job_result
hp = get_hyperparameters()
open(os.path.join(hp["marks"], f'{hp["x"]}-{os.getpid()}'), "x").close()
time.sleep(1)
save_job_result({"x": int(hp["x"])})
"""

SWEEPER = """
import asyncio, sys
from braket_async import sweep
from braket_async.runtimes import RayRuntime

async def main(source, manifest, root, address, python, marks):
    async with RayRuntime(address, python=python, num_cpus=1, max_concurrent_jobs=8) as runtime:
        await sweep(
            source, [{"x": x, "marks": marks} for x in range(50)], target=runtime,
            manifest=manifest, root=root, progress=False,
        )

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_sweep_killed_halfway_runs_every_point_once_on_both_nodes(
    cluster: RayCluster, tmp_path: Path
) -> None:
    source = tmp_path / "point.py"
    source.write_text(textwrap.dedent(POINT))
    (tmp_path / "sweeper.py").write_text(textwrap.dedent(SWEEPER))
    marks = tmp_path / "marks"
    marks.mkdir()
    manifest, root = tmp_path / "sweep.json", tmp_path / "jobs"
    arguments = [str(source), str(manifest), str(root), cluster.address, cluster.python]
    sweeper = subprocess.Popen(  # noqa: ASYNC220 - started, not waited for
        [sys.executable, str(tmp_path / "sweeper.py"), *arguments, str(marks)]
    )
    await asyncio.to_thread(
        wait_until, lambda: len(list(marks.iterdir())) >= POINTS // 2, timeout=300
    )
    sweeper.kill()
    sweeper.wait()

    async with RayRuntime(
        cluster.address, python=cluster.python, num_cpus=1, max_concurrent_jobs=8
    ) as runtime:
        points = await sweep(
            str(source),
            [{"x": x, "marks": str(marks)} for x in range(POINTS)],
            target=runtime,
            manifest=str(manifest),
            root=str(root),
            progress=False,
        )
    assert [point.state for point in points] == ["COMPLETED"] * POINTS
    assert [point.result for point in points] == [{"x": x} for x in range(POINTS)]
    runs = sorted(int(mark.name.split("-")[0]) for mark in marks.iterdir())
    assert runs == list(range(POINTS)), "a point ran twice, or not at all"
    nodes = set()
    for point in points:
        submission = (await point.job.metadata())["rayJob"]["submissionId"]  # type: ignore[union-attr]
        nodes.add((await asyncio.to_thread(cluster.job, submission))["driver_node_id"])
    assert len(nodes) == 2
