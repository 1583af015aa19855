"""Jobs run for real: S3 in, the process runtime, CloudWatch Logs and S3 out (moto)."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from braket_async.emulator import JobRecord
from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

JobRequest = Callable[..., dict[str, Any]]
LOG_GROUP = "/aws/braket/jobs"

LIFECYCLE_JOB = """
    import os, pathlib
    from braket_async.jobs import (
        get_hyperparameters, get_input_data_dir, save_job_checkpoint, save_job_result,
    )

    print("starting", os.environ["AMZN_BRAKET_JOB_NAME"])
    numbers = pathlib.Path(get_input_data_dir("training"), "numbers.txt").read_text()
    factor = int(get_hyperparameters()["factor"])
    for step in range(3):
        print(f"step {step}")
    save_job_checkpoint({"step": 3})
    save_job_result({
        "answer": factor * sum(int(n) for n in numbers.split()),
        "bucket": os.environ["AMZN_BRAKET_OUT_S3_BUCKET"],
        "script": os.environ["AMZN_BRAKET_SCRIPT_S3_URI"],
        "compression": os.environ["AMZN_BRAKET_SCRIPT_COMPRESSION_TYPE"],
        "tasks": os.environ["AMZN_BRAKET_TASK_RESULTS_S3_URI"],
        "results_path": os.environ["AMZN_BRAKET_JOB_RESULTS_S3_PATH"],
        "region": os.environ["AWS_DEFAULT_REGION"],
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
    })
    print("done")
"""


async def _put(stack: EmulatorStack, bucket: str, objects: dict[str, bytes]) -> None:
    async with stack.client("s3") as s3:
        await s3.create_bucket(Bucket=bucket)
        for key, body in objects.items():
            await s3.put_object(Bucket=bucket, Key=key, Body=body)


async def _get(stack: EmulatorStack, bucket: str, key: str) -> bytes:
    async with stack.client("s3") as s3:
        response = await s3.get_object(Bucket=bucket, Key=key)
        async with response["Body"] as body:
            data: bytes = await body.read()
            return data


async def _keys(stack: EmulatorStack, bucket: str) -> list[str]:
    async with stack.client("s3") as s3:
        listing = await s3.list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", ()))


async def _log_lines(stack: EmulatorStack, prefix: str) -> dict[str, list[str]]:
    async with stack.client("logs") as logs:
        streams = await logs.describe_log_streams(
            logGroupName=LOG_GROUP, logStreamNamePrefix=prefix
        )
        lines = {}
        for stream in streams["logStreams"]:
            events = await logs.get_log_events(
                logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"], startFromHead=True
            )
            lines[stream["logStreamName"]] = [event["message"] for event in events["events"]]
        return lines


async def _run(stack: EmulatorStack, request: dict[str, Any]) -> JobRecord:
    async with stack.client("braket") as braket:
        arn = (await braket.create_job(**request))["jobArn"]
    with anyio.fail_after(60):
        return await stack.emulator.service.wait_for_job(arn)


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {
            member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        }


async def test_job_lifecycle(
    stack: EmulatorStack,
    bucket: str,
    job_request: JobRequest,
    source_tarball: Callable[[dict[str, str]], bytes],
) -> None:
    await _put(
        stack,
        bucket,
        {
            "jobs/test-job/script/source.tar.gz": source_tarball({"algo.py": LIFECYCLE_JOB}),
            "jobs/test-job/data/training/numbers.txt": b"1 2 3\n",
        },
    )
    request = job_request(
        hyperParameters={"factor": "7"},
        inputDataConfig=[
            {
                "channelName": "training",
                "dataSource": {
                    "s3DataSource": {"s3Uri": f"s3://{bucket}/jobs/test-job/data/training"}
                },
            }
        ],
        checkpointConfig={"s3Uri": f"s3://{bucket}/jobs/test-job/checkpoints"},
    )

    record = await _run(stack, request)

    assert record.status == "COMPLETED", record.failure_reason
    assert [event["eventType"] for event in record.events] == [
        "QUEUED_FOR_EXECUTION",
        "STARTING_INSTANCE",
        "DOWNLOADING_DATA",
        "RUNNING",
        "UPLOADING_RESULTS",
        "COMPLETED",
    ]
    members = _members(await _get(stack, bucket, "jobs/test-job/data/output/model.tar.gz"))
    results = json.loads(members["results.json"])
    assert results["dataFormat"] == "plaintext"
    data = results["dataDictionary"]
    assert data["answer"] == 42
    assert data["bucket"] == bucket
    assert data["script"] == f"s3://{bucket}/jobs/test-job/script/source.tar.gz"
    assert data["compression"] == "GZIP"
    assert data["tasks"] == f"s3://{bucket}/jobs/test-job/tasks"
    assert data["results_path"] == "jobs/test-job/data/test-job/output"
    assert data["region"] == "us-east-1"
    assert data["endpoint"] == stack.aws.endpoint_url
    checkpoint = json.loads(await _get(stack, bucket, "jobs/test-job/checkpoints/test-job.json"))
    assert checkpoint["dataDictionary"] == {"step": 3}

    streams = await _log_lines(stack, f"test-job/{record.uuid}/")
    assert len(streams) == 1
    (lines,) = streams.values()
    assert lines == ["starting test-job", "step 0", "step 1", "step 2", "done"]


async def test_checkpoints_of_an_earlier_job_are_loaded(
    stack: EmulatorStack,
    bucket: str,
    job_request: JobRequest,
    source_tarball: Callable[[dict[str, str]], bytes],
) -> None:
    source = """
        from braket_async.jobs import load_job_checkpoint, save_job_result
        save_job_result(load_job_checkpoint("earlier-job"))
    """
    earlier = {
        "braketSchemaHeader": {"name": "braket.jobs_data.persisted_job_data", "version": "1"},
        "dataDictionary": {"step": 9},
        "dataFormat": "plaintext",
    }
    await _put(
        stack,
        bucket,
        {
            "jobs/test-job/script/source.tar.gz": source_tarball({"algo.py": source}),
            "ckpt/earlier-job.json": json.dumps(earlier).encode(),
        },
    )
    request = job_request(
        checkpointConfig={"s3Uri": f"s3://{bucket}/ckpt", "localPath": "/opt/jobs/checkpoints"}
    )

    record = await _run(stack, request)

    assert record.status == "COMPLETED", record.failure_reason
    members = _members(await _get(stack, bucket, "jobs/test-job/data/output/model.tar.gz"))
    assert json.loads(members["results.json"])["dataDictionary"] == {"step": 9}


async def test_failing_job(
    stack: EmulatorStack,
    bucket: str,
    job_request: JobRequest,
    source_tarball: Callable[[dict[str, str]], bytes],
) -> None:
    source = """
        print("about to fail")
        raise ValueError("bad input")
    """
    await _put(
        stack,
        bucket,
        {"jobs/test-job/script/source.tar.gz": source_tarball({"algo.py": source})},
    )

    record = await _run(stack, job_request())

    assert record.status == "FAILED"
    assert record.failure_reason is not None
    assert "ValueError: bad input" in record.failure_reason
    assert record.events[-1]["eventType"] == "FAILED"
    (lines,) = (await _log_lines(stack, f"test-job/{record.uuid}/")).values()
    assert "about to fail" in lines
    assert "jobs/test-job/data/output/model.tar.gz" in await _keys(stack, bucket)


async def test_missing_source_fails_the_job(
    stack: EmulatorStack, bucket: str, job_request: JobRequest
) -> None:
    await _put(stack, bucket, {})
    record = await _run(stack, job_request())
    assert record.status == "FAILED"
    assert record.failure_reason is not None
    assert record.failure_reason.startswith("ClientError")


async def test_archive_escaping_its_folder_is_refused(
    stack: EmulatorStack, bucket: str, job_request: JobRequest, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"print('escaped')\n"
        info = tarfile.TarInfo("../../escaped.py")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    await _put(stack, bucket, {"jobs/test-job/script/source.tar.gz": buffer.getvalue()})

    record = await _run(stack, job_request())

    assert record.status == "FAILED"
    assert record.failure_reason is not None
    assert "leaves the target folder" in record.failure_reason


async def test_instance_count_runs_one_execution_and_stream_per_instance(
    stack: EmulatorStack,
    bucket: str,
    job_request: JobRequest,
    source_tarball: Callable[[dict[str, str]], bytes],
) -> None:
    await _put(
        stack,
        bucket,
        {"jobs/test-job/script/source.tar.gz": source_tarball({"algo.py": "print('hi')\n"})},
    )
    request = job_request(
        instanceConfig={"instanceType": "ml.m5.large", "volumeSizeInGb": 30, "instanceCount": 2}
    )

    record = await _run(stack, request)

    assert record.status == "COMPLETED", record.failure_reason
    streams = await _log_lines(stack, f"test-job/{record.uuid}/")
    assert sorted(name.split("/")[2].rsplit("-", 1)[0] for name in streams) == ["algo-1", "algo-2"]
    assert all(lines == ["hi"] for lines in streams.values())


SLEEPER = """
    import time
    print("sleeping", flush=True)
    time.sleep(600)
"""


async def test_cancel_kills_the_job(
    stack: EmulatorStack,
    bucket: str,
    job_request: JobRequest,
    source_tarball: Callable[[dict[str, str]], bytes],
) -> None:
    await _put(
        stack,
        bucket,
        {"jobs/test-job/script/source.tar.gz": source_tarball({"algo.py": SLEEPER})},
    )
    service = stack.emulator.service
    async with stack.client("braket") as braket:
        arn = (await braket.create_job(**job_request()))["jobArn"]
        with anyio.fail_after(30):
            await service.wait_until(
                arn, lambda job: "RUNNING" in [event["eventType"] for event in job.events]
            )
            answer = await braket.cancel_job(jobArn=arn)
            assert answer["cancellationStatus"] == "CANCELLING"
            assert (await braket.get_job(jobArn=arn))["status"] in ("CANCELLING", "CANCELLED")
            record = await service.wait_for_job(arn)

    assert record.status == "CANCELLED"
    assert record.events[-1]["eventType"] == "CANCELLED"
    # What the job saved so far is uploaded, as for a finished job.
    assert "jobs/test-job/data/output/model.tar.gz" in await _keys(stack, bucket)


async def test_max_runtime_stops_the_job(
    stack: EmulatorStack,
    bucket: str,
    job_request: JobRequest,
    source_tarball: Callable[[dict[str, str]], bytes],
) -> None:
    await _put(
        stack,
        bucket,
        {"jobs/test-job/script/source.tar.gz": source_tarball({"algo.py": SLEEPER})},
    )

    record = await _run(stack, job_request(stoppingCondition={"maxRuntimeInSeconds": 2}))

    assert record.status == "FAILED"
    assert record.failure_reason is not None
    assert "maxRuntimeInSeconds (2)" in record.failure_reason
    assert "MAX_RUNTIME_EXCEEDED" in [event["eventType"] for event in record.events]


async def test_jobs_get_the_emulators_test_credentials_and_nothing_of_the_operators(
    stack: EmulatorStack,
    bucket: str,
    job_request: JobRequest,
    source_tarball: Callable[[dict[str, str]], bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The operator's own session, as a developer's shell has it when they start the emulator.
    monkeypatch.setenv("AWS_SESSION_TOKEN", "operator-session-token")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "operator-security-token")
    monkeypatch.setenv("GITHUB_TOKEN", "operator-github-token")
    script = """
        import os
        from braket_async.jobs import save_job_result
        save_job_result({name: os.environ.get(name) for name in (
            "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "GITHUB_TOKEN",
            "AWS_ACCESS_KEY_ID", "PATH")})
    """
    await _put(
        stack,
        bucket,
        {"jobs/test-job/script/source.tar.gz": source_tarball({"algo.py": script})},
    )

    record = await _run(stack, job_request())

    assert record.status == "COMPLETED", record.failure_reason
    members = _members(await _get(stack, bucket, "jobs/test-job/data/output/model.tar.gz"))
    seen = json.loads(members["results.json"])["dataDictionary"]
    assert seen.pop("AWS_ACCESS_KEY_ID") == stack.aws.access_key_id
    assert seen.pop("PATH")
    assert seen == dict.fromkeys(("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "GITHUB_TOKEN"))
