"""CreateJob's device and job name: what Braket accepts is accepted, and what it refuses
is refused as it refuses it, for an unmodified aiobotocore client and the official SDK."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import botocore.exceptions
import pytest

from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

JobRequest = Callable[..., dict[str, Any]]

# Devices of jobs on embedded simulators, as Braket's documentation writes them
# (``local:<provider>/<simulator>``), a managed simulator, a QPU of another region, and a
# device string whose rule at Braket is unknown (so it is not refused).
DEVICES = [
    "local:braket/default",
    "local:pennylane/lightning.qubit",
    "local:braket/braket.local.qubit",
    "local:none/none",
    "arn:aws:braket:::device/quantum-simulator/amazon/sv1",
    "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet",
    "my-laptop",
]

DEVICE_JOB = """
    import os
    from braket.jobs import save_job_result

    save_job_result({"device": os.environ["AMZN_BRAKET_DEVICE_ARN"]})
"""


@pytest.mark.parametrize("device", DEVICES)
async def test_create_job_accepts_the_devices_braket_accepts(
    braket: Any, job_request: JobRequest, fake_stack: EmulatorStack, device: str
) -> None:
    created = await braket.create_job(**job_request(deviceConfig={"device": device}))
    await fake_stack.emulator.service.wait_for_job(created["jobArn"])
    job = await braket.get_job(jobArn=created["jobArn"])
    assert job["status"] == "COMPLETED"
    assert job["deviceConfig"] == {"device": device}


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("", "Member must have length greater than or equal to 1"),
        ("x" * 257, "Member must have length less than or equal to 256"),
    ],
)
async def test_create_job_refuses_what_the_model_refuses(
    fake_stack: EmulatorStack, job_request: JobRequest, device: str, message: str
) -> None:
    # Client-side validation off, so the request reaches the server.
    async with fake_stack.client("braket", parameter_validation=False) as client:
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            await client.create_job(**job_request(deviceConfig={"device": device}))
    error = excinfo.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert f"at 'deviceConfig.device' failed to satisfy constraint: {message}" in error["Message"]


@pytest.mark.parametrize("name", ["under_score", "-hyphen-first", "x" * 51])
async def test_a_bad_job_name_is_answered_as_braket_answers_it(
    braket: Any, job_request: JobRequest, fake_stack: EmulatorStack, name: str
) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.create_job(**job_request(jobName=name))
    response = excinfo.value.response
    assert response["Error"] == {"Code": "BadRequestException", "Message": "Invalid request body"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert fake_stack.emulator.service.jobs == []


async def test_a_job_on_an_embedded_simulator_runs_and_sees_its_device(
    stack: EmulatorStack,
    bucket: str,
    job_request: JobRequest,
    source_tarball: Callable[[dict[str, str]], bytes],
) -> None:
    async with stack.client("s3") as s3:
        await s3.create_bucket(Bucket=bucket)
        await s3.put_object(
            Bucket=bucket,
            Key="jobs/test-job/script/source.tar.gz",
            Body=source_tarball({"algo.py": DEVICE_JOB}),
        )
        async with stack.client("braket") as braket:
            created = await braket.create_job(
                **job_request(deviceConfig={"device": "local:pennylane/lightning.qubit"})
            )
        with anyio.fail_after(60):
            record = await stack.emulator.service.wait_for_job(created["jobArn"])
        assert record.status == "COMPLETED", record.failure_reason
        output = await s3.get_object(Bucket=bucket, Key="jobs/test-job/data/output/model.tar.gz")
        async with output["Body"] as body:
            model = await body.read()
    with tarfile.open(fileobj=io.BytesIO(model), mode="r:gz") as tar:
        member = tar.extractfile("results.json")
        assert member is not None
        results = json.loads(member.read())
    assert results["dataDictionary"] == {"device": "local:pennylane/lightning.qubit"}


async def test_the_official_sdk_creates_jobs_on_embedded_simulators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, official_sdk_environment: None
) -> None:
    source = tmp_path / "algo.py"
    source.write_text(textwrap.dedent(DEVICE_JOB))
    monkeypatch.chdir(tmp_path)  # result() extracts model.tar.gz into the working directory

    def run_official_sdk() -> list[tuple[str, dict[str, Any]]]:
        from braket.aws import AwsQuantumJob

        jobs = [
            AwsQuantumJob.create(device=device, source_module=str(source), job_name=f"job-{n}")
            for n, device in enumerate(["local:braket/default", "local:pennylane/lightning.qubit"])
        ]
        results = [
            dict(job.result(poll_timeout_seconds=120, poll_interval_seconds=0.2)) for job in jobs
        ]
        return [(job.state(), result) for job, result in zip(jobs, results, strict=True)]

    outcomes = await anyio.to_thread.run_sync(run_official_sdk)
    assert outcomes[0][1] == {"device": "local:braket/default"}
    assert outcomes[1][1] == {"device": "local:pennylane/lightning.qubit"}
    assert [state for state, _ in outcomes] == ["COMPLETED", "COMPLETED"]
