"""CreateJob, GetJob, CancelJob and SearchJobs over HTTP with an unmodified client."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import anyio
import botocore.exceptions
import pytest

from braket_async.emulator import FakeRunner
from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

JobRequest = Callable[..., dict[str, Any]]


def error_code(excinfo: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


async def test_create_then_get_job(
    braket: Any, job_request: JobRequest, fake_stack: EmulatorStack
) -> None:
    created = await braket.create_job(
        **job_request(hyperParameters={"steps": "3"}, tags={"team": "q"})
    )
    arn = created["jobArn"]
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert arn.startswith("arn:aws:braket:us-east-1:123456789012:job/")
    await fake_stack.emulator.service.wait_for_job(arn)

    job = await braket.get_job(jobArn=arn)

    assert job["status"] == "COMPLETED"
    assert job["jobName"] == "test-job"
    assert job["hyperParameters"] == {"steps": "3"}
    assert job["tags"] == {"team": "q"}
    assert job["instanceConfig"]["instanceCount"] == 1
    assert isinstance(job["createdAt"], datetime.datetime)
    assert job["startedAt"] <= job["endedAt"]
    assert job["events"][0]["eventType"] == "QUEUED_FOR_EXECUTION"
    assert job["events"][-1]["eventType"] == "COMPLETED"
    assert "queueInfo" not in job


async def test_create_job_is_idempotent_on_client_token(
    braket: Any, job_request: JobRequest, fake_stack: EmulatorStack
) -> None:
    first = await braket.create_job(clientToken="token-1", **job_request())
    second = await braket.create_job(clientToken="token-1", **job_request())

    assert first["jobArn"] == second["jobArn"]
    assert len(fake_stack.emulator.service.jobs) == 1


async def test_reused_client_token_with_other_parameters_is_a_conflict(
    braket: Any, job_request: JobRequest
) -> None:
    await braket.create_job(clientToken="token-2", **job_request())
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.create_job(clientToken="token-2", **job_request(jobName="other"))
    assert error_code(excinfo) == "ConflictException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


async def test_job_names_are_not_unique(braket: Any, job_request: JobRequest) -> None:
    first = await braket.create_job(**job_request())
    second = await braket.create_job(**job_request())
    assert first["jobArn"] != second["jobArn"]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"roleArn": "not-a-role"}, "roleArn"),
        (
            {"outputDataConfig": {"s3Path": "ftp://bucket/key"}},
            "outputDataConfig.s3Path",
        ),
        ({"stoppingCondition": {"maxRuntimeInSeconds": 432001}}, "maxRuntimeInSeconds"),
    ],
)
async def test_create_job_validation(
    braket: Any, job_request: JobRequest, overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.create_job(**job_request(**overrides))
    assert error_code(excinfo) == "ValidationException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert fragment in excinfo.value.response["Error"]["Message"]


async def test_missing_required_member_is_refused_by_the_server(
    fake_stack: EmulatorStack, job_request: JobRequest
) -> None:
    request = job_request()
    del request["roleArn"]
    # Client-side validation off, so the request reaches the server.
    async with fake_stack.client("braket", parameter_validation=False) as client:
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            await client.create_job(**request)
    assert error_code(excinfo) == "ValidationException"
    assert "Value null at 'roleArn'" in excinfo.value.response["Error"]["Message"]


async def test_get_unknown_job_is_not_found(braket: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.get_job(jobArn="arn:aws:braket:us-east-1:123456789012:job/missing")
    assert error_code(excinfo) == "ResourceNotFoundException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


async def test_get_job_with_malformed_arn_is_invalid(braket: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.get_job(jobArn="arn:aws:s3:::bucket")
    assert error_code(excinfo) == "ValidationException"


@pytest.mark.parametrize("fake_runner", [FakeRunner(auto_start=False)])
async def test_queue_info(
    braket: Any, job_request: JobRequest, fake_runner: FakeRunner, fake_stack: EmulatorStack
) -> None:
    arns = [(await braket.create_job(**job_request()))["jobArn"] for _ in range(3)]

    job = await braket.get_job(jobArn=arns[2], additionalAttributeNames=["QueueInfo"])
    assert job["status"] == "QUEUED"
    assert job["queueInfo"] == {"queue": "JOBS_QUEUE", "position": "3"}

    fake_runner.start(arns[0])
    await fake_stack.emulator.service.wait_for_job(arns[0])
    job = await braket.get_job(jobArn=arns[2], additionalAttributeNames=["QueueInfo"])
    assert job["queueInfo"]["position"] == "2"
    done = await braket.get_job(jobArn=arns[0], additionalAttributeNames=["QueueInfo"])
    assert done["queueInfo"]["position"] == "None"
    assert "COMPLETED" in done["queueInfo"]["message"]


@pytest.mark.parametrize("fake_runner", [FakeRunner(auto_finish=False)])
async def test_cancel_job(braket: Any, job_request: JobRequest, fake_stack: EmulatorStack) -> None:
    arn = (await braket.create_job(**job_request()))["jobArn"]
    await fake_stack.emulator.service.wait_for_job(arn, ["RUNNING"])

    answer = await braket.cancel_job(jobArn=arn)
    assert answer["cancellationStatus"] == "CANCELLING"
    await fake_stack.emulator.service.wait_for_job(arn)

    job = await braket.get_job(jobArn=arn)
    assert job["status"] == "CANCELLED"
    assert job["events"][-1]["eventType"] == "CANCELLED"
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.cancel_job(jobArn=arn)
    assert error_code(excinfo) == "ConflictException"


@pytest.mark.parametrize("fake_runner", [FakeRunner(auto_start=False)])
async def test_cancel_queued_job(
    braket: Any, job_request: JobRequest, fake_stack: EmulatorStack
) -> None:
    arn = (await braket.create_job(**job_request()))["jobArn"]
    await braket.cancel_job(jobArn=arn)
    record = await fake_stack.emulator.service.wait_for_job(arn)
    assert record.status == "CANCELLED"
    assert record.started_at is None


async def test_cancel_unknown_job_is_not_found(braket: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.cancel_job(jobArn="arn:aws:braket:us-east-1:123456789012:job/missing")
    assert error_code(excinfo) == "ResourceNotFoundException"


@pytest.mark.parametrize("fake_runner", [FakeRunner(failure_reason="AlgorithmError: boom")])
async def test_failed_job_reports_its_reason(
    braket: Any, job_request: JobRequest, fake_stack: EmulatorStack
) -> None:
    arn = (await braket.create_job(**job_request()))["jobArn"]
    await fake_stack.emulator.service.wait_for_job(arn)
    job = await braket.get_job(jobArn=arn)
    assert job["status"] == "FAILED"
    assert job["failureReason"] == "AlgorithmError: boom"


@pytest.mark.parametrize("fake_runner", [FakeRunner(auto_finish=False)])
async def test_max_runtime_fails_the_job(
    braket: Any, job_request: JobRequest, fake_stack: EmulatorStack
) -> None:
    arn = (await braket.create_job(**job_request(stoppingCondition={"maxRuntimeInSeconds": 1})))[
        "jobArn"
    ]
    with anyio.fail_after(10):
        await fake_stack.emulator.service.wait_for_job(arn)
    job = await braket.get_job(jobArn=arn)
    assert job["status"] == "FAILED"
    assert "maxRuntimeInSeconds" in job["failureReason"]
    assert "MAX_RUNTIME_EXCEEDED" in [event["eventType"] for event in job["events"]]


async def test_search_jobs_pages_newest_first(braket: Any, job_request: JobRequest) -> None:
    arns = [(await braket.create_job(**job_request()))["jobArn"] for _ in range(25)]

    seen: list[str] = []
    pages = 0
    paginator = braket.get_paginator("search_jobs")
    async for page in paginator.paginate(filters=[], PaginationConfig={"PageSize": 10}):
        pages += 1
        seen.extend(summary["jobArn"] for summary in page["jobs"])
        assert all("status" in summary for summary in page["jobs"])

    assert pages == 3
    assert seen == list(reversed(arns))


async def test_search_jobs_filters(
    braket: Any, job_request: JobRequest, fake_stack: EmulatorStack
) -> None:
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    arns = [(await braket.create_job(**job_request()))["jobArn"] for _ in range(4)]
    for arn in arns:
        await fake_stack.emulator.service.wait_for_job(arn)

    by_arn = await braket.search_jobs(
        filters=[{"name": "jobArn", "operator": "EQUAL", "values": arns[:3]}]
    )
    assert {job["jobArn"] for job in by_arn["jobs"]} == set(arns[:3])
    assert all(job["status"] == "COMPLETED" for job in by_arn["jobs"])

    recent = await braket.search_jobs(
        filters=[
            {"name": "createdAt", "operator": "GT", "values": [before.isoformat()]},
            {"name": "jobArn", "operator": "CONTAINS", "values": [arns[0][-12:]]},
        ]
    )
    assert [job["jobArn"] for job in recent["jobs"]] == [arns[0]]
    assert recent["jobs"][0]["status"] == "COMPLETED"

    future = (before + datetime.timedelta(days=1)).isoformat()
    none = await braket.search_jobs(
        filters=[{"name": "createdAt", "operator": "GT", "values": [future]}]
    )
    assert none["jobs"] == []


@pytest.mark.parametrize(
    "request_arguments",
    [
        {"filters": [], "maxResults": 101},
        {"filters": [{"name": "jobArn", "operator": "EQUAL", "values": ["a"] * 11}]},
        {"filters": [{"name": "jobArn", "operator": "EQUAL", "values": ["a"]}] * 11},
        {"filters": [{"name": "colour", "operator": "EQUAL", "values": ["red"]}]},
        # Not a filter name of the service, though summaries carry the status.
        {"filters": [{"name": "status", "operator": "EQUAL", "values": ["RUNNING"]}]},
        {"filters": [{"name": "jobArn", "operator": "GT", "values": ["a"]}]},
        {"filters": [{"name": "createdAt", "operator": "CONTAINS", "values": ["2026"]}]},
        {"filters": [{"name": "createdAt", "operator": "BETWEEN", "values": ["1"]}]},
        {"filters": [{"name": "createdAt", "operator": "GT", "values": ["yesterday"]}]},
        {"filters": [], "nextToken": "not-a-token"},
    ],
)
async def test_search_jobs_validation(braket: Any, request_arguments: dict[str, Any]) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.search_jobs(**request_arguments)
    assert error_code(excinfo) == "ValidationException"


@pytest.mark.parametrize("fake_runner", [FakeRunner(auto_finish=False)])
async def test_create_past_the_concurrent_jobs_quota_is_refused_as_braket_does(
    braket: Any, job_request: JobRequest, fake_runner: FakeRunner, fake_stack: EmulatorStack
) -> None:
    fake_stack.emulator.set_concurrent_jobs_quota(2)
    arns = [
        (await braket.create_job(**job_request(jobName=f"q{i}", clientToken=f"t{i}")))["jobArn"]
        for i in range(2)
    ]
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        await braket.create_job(**job_request(jobName="q2", clientToken="t2"))
    assert refused.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 402
    # A retry of a create that was accepted is not a new job: still answered.
    again = await braket.create_job(**job_request(jobName="q0", clientToken="t0"))
    assert again["jobArn"] == arns[0]
    fake_runner.finish(arns[0])
    await fake_stack.emulator.service.wait_for_job(arns[0])
    created = await braket.create_job(**job_request(jobName="q2", clientToken="t2"))
    assert created["jobArn"] not in arns
