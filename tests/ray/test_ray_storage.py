"""Jobs bigger than what Ray's package and log carry: through an object store (moto's S3
on loopback), with presigned URLs only in the job; and a clear failure without one."""

from __future__ import annotations

import hashlib
import os
import textwrap
import uuid
from pathlib import Path

import pytest
from support.ray_cluster import RayCluster

from braket_async import LocalQuantumJob
from braket_async.aws import AwsSession
from braket_async.errors import JobFailedError
from braket_async.runtimes import RayRuntime

pytestmark = pytest.mark.anyio

BIG = """
import hashlib, os
from braket_async.jobs import (
    get_hyperparameters, get_input_data_dir, get_results_dir, save_job_result,
)
hp = get_hyperparameters()
digest = hashlib.sha256()
with open(os.path.join(get_input_data_dir("data"), "data.bin"), "rb") as file:
    while chunk := file.read(1 << 20):
        digest.update(chunk)
out = os.urandom(int(hp["out_mib"]) << 20)
with open(os.path.join(get_results_dir(), "out.bin"), "wb") as file:
    file.write(out)
save_job_result({"sha256": digest.hexdigest(), "out": hashlib.sha256(out).hexdigest()})
"""


@pytest.fixture
async def bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket of moto's S3; the job's supervisor finds it through the environment."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    name = f"ray-{uuid.uuid4().hex[:12]}"
    async with AwsSession(rates={}) as session:
        await session.call("s3", "create_bucket", Bucket=name)
    return name


async def keys(bucket: str) -> list[str]:
    async with AwsSession(rates={}) as session:
        page = await session.call("s3", "list_objects_v2", Bucket=bucket)
    return [str(item["Key"]) for item in page.get("Contents", ())]


async def test_300_mib_in_and_120_mib_out_through_the_object_store(
    cluster: RayCluster, bucket: str, tmp_path: Path
) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(300 << 20))
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    (tmp_path / "big.py").write_text(textwrap.dedent(BIG))
    async with RayRuntime(
        cluster.address, python=cluster.python, storage=f"s3://{bucket}/jobs"
    ) as runtime:
        job = await LocalQuantumJob.create(
            "local:none/none",
            str(tmp_path / "big.py"),
            root=tmp_path / "jobs",
            runtime=runtime,
            input_data={"data": str(data)},
            hyperparameters={"out_mib": 120},
        )
        result = await job.result()
    assert result["sha256"] == digest
    out = (job.folder / "out.bin").read_bytes()
    assert len(out) == 120 << 20
    assert hashlib.sha256(out).hexdigest() == result["out"]
    # The job's objects are removed with it.
    assert await keys(bucket) == []


async def test_outputs_over_the_log_limit_fail_the_job_without_storage(
    runtime: RayRuntime, tmp_path: Path
) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(b"small")
    (tmp_path / "big.py").write_text(textwrap.dedent(BIG))
    job = await LocalQuantumJob.create(
        "local:none/none",
        str(tmp_path / "big.py"),
        root=tmp_path / "jobs",
        runtime=runtime,
        input_data={"data": str(data)},
        hyperparameters={"out_mib": 101},
    )
    with pytest.raises(JobFailedError, match=r"OutputError: the job's outputs are 101\.\d MiB"):
        await job.result()
    assert "give RayRuntime a storage=" in (await job.metadata())["failureReason"]
