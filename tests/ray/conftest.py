"""The Ray tests' cluster: a real two-node Ray cluster on loopback for the session.

``tests/ray/setup.sh`` installs Ray (in an environment of its own; the tests' own has no
Ray). There are no skips: without that Ray the tests fail and say how to get it. Every
test here is marked ``ray``; after each one, no process of any Ray job may be left.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from support.ray_cluster import RAY_VENV, RayCluster, wait_until_gone

from braket_async.runtimes import RayRuntime


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.ray)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """The cluster, started once for the session."""
    if not (RAY_VENV / "bin" / "ray").exists():
        pytest.fail(f"no Ray in {RAY_VENV}: run tests/ray/setup.sh first")
    cluster = RayCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(ray_cluster: RayCluster) -> Iterator[RayCluster]:
    """The cluster with both nodes alive (a test that killed the worker gets it back);
    no job's process may outlive the test."""
    if ray_cluster.worker is None or ray_cluster.worker.poll() is not None:
        ray_cluster.start_worker()
    yield ray_cluster
    left = wait_until_gone()
    assert left == [], f"processes of Ray jobs left running: {left}"


@pytest.fixture
async def runtime(cluster: RayCluster) -> AsyncIterator[RayRuntime]:
    """A runtime of the cluster, jobs taking one CPU each (so they go to both nodes)."""
    async with RayRuntime(cluster.address, python=cluster.python, num_cpus=1) as runtime:
        yield runtime
