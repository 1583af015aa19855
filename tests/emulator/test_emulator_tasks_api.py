"""CreateQuantumTask, GetQuantumTask, SearchQuantumTasks, CancelQuantumTask and tagging
of quantum tasks over HTTP with an unmodified aiobotocore client."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import botocore.exceptions
import pytest
from support.aws import SV1

from braket_async.emulator import DEFAULT_RATES, FakeRunner, Rate, RateLimits, SimulatorPool
from braket_async.emulator.testing import EmulatorStack, emulator_stack

pytestmark = pytest.mark.anyio

DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
TN1 = "arn:aws:braket:::device/quantum-simulator/amazon/tn1"
EMU9 = "arn:aws:braket:us-east-1::device/qpu/braket-async/Emu-9"
EMU5 = "arn:aws:braket:us-east-1::device/qpu/braket-async/Emu-5"
BELL = (
    "OPENQASM 3.0;\nbit[2] b;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\n"
    "b[0] = measure q[0];\nb[1] = measure q[1];"
)


def program(source: str = BELL) -> str:
    """An OpenQASM action as the official SDK sends it."""
    header = {"name": "braket.ir.openqasm.program", "version": "1"}
    return json.dumps({"braketSchemaHeader": header, "source": source, "inputs": {}})


def error_code(excinfo: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def error_message(excinfo: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Message"])


@pytest.fixture
def task_request(task_bucket: str) -> Callable[..., dict[str, Any]]:
    """CreateQuantumTask keyword arguments; keyword overrides replace entries."""

    def build(**overrides: Any) -> dict[str, Any]:
        request: dict[str, Any] = {
            "deviceArn": SV1,
            "action": program(),
            "shots": 100,
            "outputS3Bucket": task_bucket,
            "outputS3KeyPrefix": "tasks",
        }
        request.update(overrides)
        return request

    return build


TaskRequest = Callable[..., dict[str, Any]]


async def test_a_task_runs_and_writes_its_result_where_the_service_does(
    task_stack: EmulatorStack, task_request: TaskRequest, task_bucket: str
) -> None:
    async with task_stack.client("braket") as braket:
        created = await braket.create_quantum_task(**task_request(tags={"team": "q"}))
        arn = created["quantumTaskArn"]
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert arn.startswith("arn:aws:braket:us-east-1:123456789012:quantum-task/")
        await task_stack.emulator.service.quantum_tasks.wait_for_task(arn)
        task = await braket.get_quantum_task(quantumTaskArn=arn)
    task_id = arn.rsplit("/", 1)[1]
    assert task["status"] == "COMPLETED"
    assert task["outputS3Bucket"] == task_bucket
    assert task["outputS3Directory"] == f"tasks/{task_id}"
    assert task["shots"] == 100
    assert task["tags"] == {"team": "q"}
    assert task["actionMetadata"] == {"actionType": "braket.ir.openqasm.program"}
    assert task["createdAt"] <= task["endedAt"]
    assert "jobArn" not in task
    async with task_stack.client("s3") as s3:
        response = await s3.get_object(Bucket=task_bucket, Key=f"tasks/{task_id}/results.json")
        async with response["Body"] as body:
            result = json.loads(await body.read())
    assert result["braketSchemaHeader"]["name"] == "braket.task_result.gate_model_task_result"
    assert result["taskMetadata"]["id"] == arn
    assert result["taskMetadata"]["deviceId"] == SV1
    assert result["taskMetadata"]["shots"] == 100
    assert len(result["measurements"]) == 100
    assert {"".join(bits) for bits in result["measurements"]} <= {"00", "11"}
    assert result["additionalMetadata"]["simulatorMetadata"]["executionDuration"] >= 1


async def test_create_is_idempotent_on_client_token(
    task_stack: EmulatorStack, task_request: TaskRequest
) -> None:
    token = str(uuid.uuid4())
    async with task_stack.client("braket") as braket:
        first = await braket.create_quantum_task(clientToken=token, **task_request())
        again = await braket.create_quantum_task(clientToken=token, **task_request())
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            await braket.create_quantum_task(clientToken=token, **task_request(shots=5))
    assert first["quantumTaskArn"] == again["quantumTaskArn"]
    assert error_code(excinfo) == "ValidationException"
    assert len(task_stack.emulator.service.quantum_tasks.records) == 1


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"shots": 100_001}, "ValidationException", "between 0 and 100000 on"),
        ({"deviceArn": TN1, "shots": 0}, "ValidationException", "between 1 and 1000 on"),
        ({"deviceArn": EMU9, "shots": 0}, "ValidationException", "between 1 and 10000 on"),
        ({"deviceArn": EMU5}, "DeviceOfflineException", "offline"),
        ({"deviceArn": "arn:aws:braket:::device/x/y/z"}, "ValidationException", "does not"),
        ({"action": "not json"}, "ValidationException", "action is not valid JSON"),
        ({"action": json.dumps({"source": BELL})}, "ValidationException", "not supported"),
        ({"deviceParameters": "[1]"}, "ValidationException", "JSON object"),
        ({"jobToken": "no-such-job"}, "ValidationException", "jobToken"),
        ({"outputS3Bucket": "no-such-bucket-here"}, "ValidationException", "no-such-bucket"),
    ],
)
async def test_create_refuses_what_the_service_refuses(
    task_stack: EmulatorStack,
    task_request: TaskRequest,
    overrides: dict[str, Any],
    code: str,
    message: str,
) -> None:
    async with task_stack.client("braket") as braket:
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            await braket.create_quantum_task(**task_request(**overrides))
    assert error_code(excinfo) == code
    assert message in error_message(excinfo)
    assert task_stack.emulator.service.quantum_tasks.records == []


async def test_queue_positions_and_cancelling_queued_tasks(
    task_stack: EmulatorStack, task_request: TaskRequest
) -> None:
    tasks = task_stack.emulator.service.quantum_tasks
    tasks.pause()
    async with task_stack.client("braket") as braket:
        arns = [
            (await braket.create_quantum_task(**task_request()))["quantumTaskArn"] for _ in range(3)
        ]
        infos = [
            (
                await braket.get_quantum_task(
                    quantumTaskArn=arn, additionalAttributeNames=["QueueInfo"]
                )
            )
            for arn in arns
        ]
        cancelled = await braket.cancel_quantum_task(quantumTaskArn=arns[0], clientToken="c1")
        assert cancelled["cancellationStatus"] == "CANCELLING"
        await tasks.wait_for_task(arns[0])
        after = await braket.get_quantum_task(
            quantumTaskArn=arns[2], additionalAttributeNames=["QueueInfo"]
        )
        device = await braket.get_device(deviceArn=SV1)
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            await braket.cancel_quantum_task(quantumTaskArn=arns[0], clientToken="c2")
        tasks.resume()
        for arn in arns[1:]:
            await tasks.wait_for_task(arn)
        final = [(await braket.get_quantum_task(quantumTaskArn=arn))["status"] for arn in arns]
    assert [info["status"] for info in infos] == ["QUEUED"] * 3
    assert [info["queueInfo"]["position"] for info in infos] == ["1", "2", "3"]
    assert {info["queueInfo"]["queuePriority"] for info in infos} == {"Normal"}
    assert after["queueInfo"]["position"] == "2"
    assert {
        queue["queuePriority"]: queue["queueSize"]
        for queue in device["deviceQueueInfo"]
        if queue["queue"] == "QUANTUM_TASKS_QUEUE"
    } == {"Normal": "2", "Priority": "0"}
    assert error_code(excinfo) == "ConflictException"
    assert final == ["CANCELLED", "COMPLETED", "COMPLETED"]


async def test_cancelling_a_running_task_stops_its_worker(
    task_stack: EmulatorStack, task_request: TaskRequest, task_bucket: str
) -> None:
    endless = "OPENQASM 3.0;\nqubit[1] q;\nfor int i in [0:100000000] { x q[0]; }\n"
    tasks = task_stack.emulator.service.quantum_tasks
    async with task_stack.client("braket") as braket:
        arn = (await braket.create_quantum_task(**task_request(action=program(endless))))[
            "quantumTaskArn"
        ]
        await tasks.wait_for_task(arn, ["RUNNING"])
        answer = await braket.cancel_quantum_task(quantumTaskArn=arn, clientToken="c")
        record = await tasks.wait_for_task(arn)
        # The worker it ran in is gone; the next task gets a new one.
        other = (await braket.create_quantum_task(**task_request()))["quantumTaskArn"]
        assert (await tasks.wait_for_task(other)).status == "COMPLETED"
    assert answer["cancellationStatus"] == "CANCELLING"
    assert record.status == "CANCELLED"
    async with task_stack.client("s3") as s3:
        listed = await s3.list_objects_v2(Bucket=task_bucket, Prefix=f"tasks/{record.uuid}")
    assert listed.get("KeyCount", 0) == 0


async def test_cancelling_a_task_the_moment_it_starts(
    task_stack: EmulatorStack, task_request: TaskRequest
) -> None:
    service = task_stack.emulator.service
    service.quantum_tasks.pause()
    async with task_stack.client("braket") as braket:
        arn = (await braket.create_quantum_task(**task_request()))["quantumTaskArn"]
    service.quantum_tasks.resume()  # RUNNING now; its work has not begun
    answer = await service.handle("CancelQuantumTask", {"quantumTaskArn": arn, "clientToken": "c"})
    record = await service.quantum_tasks.wait_for_task(arn)
    assert answer["cancellationStatus"] == "CANCELLING"
    assert record.status == "CANCELLED"


async def test_a_program_past_the_time_limit_fails(
    moto_endpoint: str, task_request: TaskRequest, task_stack: EmulatorStack
) -> None:
    endless = "OPENQASM 3.0;\nqubit[1] q;\nfor int i in [0:100000000] { x q[0]; }\n"
    async with (
        SimulatorPool(workers=1, task_seconds=0.5) as pool,
        emulator_stack(
            runner=FakeRunner(), aws_endpoint_url=moto_endpoint, simulators=pool
        ) as stack,
        stack.client("braket") as braket,
    ):
        arn = (await braket.create_quantum_task(**task_request(action=program(endless))))[
            "quantumTaskArn"
        ]
        record = await stack.emulator.service.quantum_tasks.wait_for_task(arn)
    assert record.status == "FAILED"
    assert (
        record.failure_reason == "The program ran longer than the emulator's limit of 0.5 seconds"
    )


@pytest.mark.parametrize(
    ("device", "source", "reason"),
    [
        (SV1, "OPENQASM 3.0;\nqubit[1] q;\nfoo q[0];", "The simulator refused the program"),
        (SV1, "OPENQASM 3.0;\nqubit[23] q;\nh q;", "the emulator simulates at most 22"),
        (DM1, "OPENQASM 3.0;\nqubit[18] q;\nh q;", "uses 18 qubits; the device has 17"),
        (EMU9, "OPENQASM 3.0;\nqubit[10] q;\nh q;", "uses 10 qubits; the device has 9"),
        (SV1, "OPENQASM 3.0;\nqubit[1] q;\nh q[0];", "shots=0"),
    ],
)
async def test_a_program_that_cannot_run_fails_with_a_reason(
    task_stack: EmulatorStack, task_request: TaskRequest, device: str, source: str, reason: str
) -> None:
    shots = 0 if reason == "shots=0" else 10
    async with task_stack.client("braket") as braket:
        arn = (
            await braket.create_quantum_task(
                **task_request(deviceArn=device, action=program(source), shots=shots)
            )
        )["quantumTaskArn"]
        await task_stack.emulator.service.quantum_tasks.wait_for_task(arn)
        task = await braket.get_quantum_task(quantumTaskArn=arn)
    assert task["status"] == "FAILED"
    assert reason in task["failureReason"]


async def test_search_filters_and_pages(
    task_stack: EmulatorStack, task_request: TaskRequest
) -> None:
    tasks = task_stack.emulator.service.quantum_tasks
    async with task_stack.client("braket") as braket:
        done = (await braket.create_quantum_task(**task_request()))["quantumTaskArn"]
        await tasks.wait_for_task(done)
        tasks.pause()
        queued = [
            (await braket.create_quantum_task(**task_request(deviceArn=device)))["quantumTaskArn"]
            for device in (DM1, EMU9)
        ]

        async def search(*filters: dict[str, Any], **kwargs: Any) -> list[str]:
            answer = await braket.search_quantum_tasks(filters=list(filters), **kwargs)
            return [task["quantumTaskArn"] for task in answer["quantumTasks"]]

        everything = await search()
        by_status = await search({"name": "status", "operator": "EQUAL", "values": ["QUEUED"]})
        by_device = await search({"name": "deviceArn", "operator": "EQUAL", "values": [EMU9]})
        by_arn = await search({"name": "quantumTaskArn", "operator": "EQUAL", "values": [done]})
        first = await braket.search_quantum_tasks(filters=[], maxResults=2)
        rest = await braket.search_quantum_tasks(filters=[], nextToken=first["nextToken"])
        since = first["quantumTasks"][-1]["createdAt"].isoformat()
        newer = await search({"name": "createdAt", "operator": "GTE", "values": [since]})
        with pytest.raises(botocore.exceptions.ClientError) as bad_name:
            await search({"name": "shots", "operator": "EQUAL", "values": ["1"]})
        with pytest.raises(botocore.exceptions.ClientError) as bad_operator:
            await search({"name": "status", "operator": "GT", "values": ["QUEUED"]})
        tasks.resume()
    assert everything == [*reversed(queued), done]  # newest first
    assert sorted(by_status) == sorted(queued)
    assert by_device == [queued[1]]
    assert by_arn == [done]
    assert [t["quantumTaskArn"] for t in first["quantumTasks"] + rest["quantumTasks"]] == everything
    assert "nextToken" not in rest
    assert set(newer) >= set(queued)
    assert error_code(bad_name) == "ValidationException"
    assert error_code(bad_operator) == "ValidationException"


async def test_tags_of_a_task(task_stack: EmulatorStack, task_request: TaskRequest) -> None:
    async with task_stack.client("braket") as braket:
        arn = (await braket.create_quantum_task(**task_request(tags={"a": "1"})))["quantumTaskArn"]
        await braket.tag_resource(resourceArn=arn, tags={"b": "2", "a": "3"})
        both = (await braket.list_tags_for_resource(resourceArn=arn))["tags"]
        await braket.untag_resource(resourceArn=arn, tagKeys=["a", "missing"])
        summary = (await braket.search_quantum_tasks(filters=[]))["quantumTasks"][0]
        task = await braket.get_quantum_task(quantumTaskArn=arn)
    assert both == {"a": "3", "b": "2"}
    assert summary["tags"] == task["tags"] == {"b": "2"}


async def test_unknown_and_malformed_task_arns(task_stack: EmulatorStack) -> None:
    unknown = f"arn:aws:braket:us-east-1:123456789012:quantum-task/{uuid.uuid4()}"
    async with task_stack.client("braket") as braket:
        with pytest.raises(botocore.exceptions.ClientError) as missing:
            await braket.get_quantum_task(quantumTaskArn=unknown)
        with pytest.raises(botocore.exceptions.ClientError) as malformed:
            await braket.cancel_quantum_task(quantumTaskArn="task-1", clientToken="c")
        with pytest.raises(botocore.exceptions.ClientError) as untagged:
            await braket.list_tags_for_resource(resourceArn=unknown)
    assert error_code(missing) == "ResourceNotFoundException"
    assert error_code(malformed) == "ValidationException"
    assert error_code(untagged) == "ResourceNotFoundException"


@pytest.mark.parametrize("fake_runner", [FakeRunner(auto_finish=False)])
async def test_tasks_of_a_job_carry_it_and_run_first(
    task_stack: EmulatorStack,
    task_request: TaskRequest,
    job_request: Callable[..., dict[str, Any]],
    fake_runner: FakeRunner,
) -> None:
    service = task_stack.emulator.service
    async with task_stack.client("braket") as braket:
        job_arn = (await braket.create_job(**job_request()))["jobArn"]
        token = service.job(job_arn).job_token
        service.quantum_tasks.pause()
        normal = [
            (await braket.create_quantum_task(**task_request()))["quantumTaskArn"] for _ in range(3)
        ]
        of_job = (await braket.create_quantum_task(**task_request(jobToken=token)))[
            "quantumTaskArn"
        ]
        queue = await braket.get_quantum_task(
            quantumTaskArn=of_job, additionalAttributeNames=["QueueInfo"]
        )
        found = await braket.search_quantum_tasks(
            filters=[{"name": "jobArn", "operator": "EQUAL", "values": [job_arn]}]
        )
        service.quantum_tasks.resume()  # two workers: the job's task and the oldest other
        started = {r.arn for r in service.quantum_tasks.records if r.status == "RUNNING"}
        await service.quantum_tasks.wait_for_task(of_job)
        task = await braket.get_quantum_task(quantumTaskArn=of_job)
        fake_runner.finish(job_arn)
        await service.wait_for_job(job_arn)
        with pytest.raises(botocore.exceptions.ClientError) as ended:
            await braket.create_quantum_task(**task_request(jobToken=token))
        for arn in normal:
            await service.quantum_tasks.wait_for_task(arn)
    assert queue["queueInfo"] == {
        "queue": "QUANTUM_TASKS_QUEUE",
        "position": "1",
        "queuePriority": "Priority",
    }
    assert [t["quantumTaskArn"] for t in found["quantumTasks"]] == [of_job]
    assert task["jobArn"] == job_arn
    assert started == {of_job, normal[0]}
    assert error_code(ended) == "ValidationException"
    assert "COMPLETED" in error_message(ended)


def test_task_operations_have_brakets_published_rates() -> None:
    assert {name: DEFAULT_RATES[name] for name in DEFAULT_RATES if "QuantumTask" in name} == {
        "CreateQuantumTask": Rate(20, 40),
        "GetQuantumTask": Rate(100, 500),
        "CancelQuantumTask": Rate(2, 20),
        "SearchQuantumTasks": Rate(5, 50),
    }


async def test_create_past_its_burst_is_throttled_and_counted(
    moto_endpoint: str, simulators: SimulatorPool, task_request: TaskRequest
) -> None:
    async with (
        emulator_stack(
            runner=FakeRunner(),
            aws_endpoint_url=moto_endpoint,
            simulators=simulators,
            rate_limits=RateLimits(),
            clock=lambda: 0.0,  # no tokens come back: exactly the burst passes
        ) as stack,
        stack.client("braket") as braket,
    ):
        stack.emulator.service.quantum_tasks.pause()
        for _ in range(40):
            await braket.create_quantum_task(**task_request())
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            await braket.create_quantum_task(**task_request())
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{stack.emulator.endpoint_url}/_emulator/stats") as response,
        ):
            stats = await response.json()
    assert error_code(excinfo) == "ThrottlingException"
    assert stats["operations"]["CreateQuantumTask"]["succeeded"] == 40
    assert stats["operations"]["CreateQuantumTask"]["throttled"] == 1
    assert stats["quantum_tasks"] == {"QUEUED": 40}


async def test_without_s3_tasks_are_refused_saying_so(simulators: SimulatorPool) -> None:
    from braket_async.emulator import BraketEmulator

    async with BraketEmulator(runner=FakeRunner(), simulators=simulators) as emulator:
        with pytest.raises(Exception, match="no S3") as excinfo:
            await emulator.service.handle(
                "CreateQuantumTask",
                {
                    "clientToken": "t",
                    "deviceArn": SV1,
                    "action": program(),
                    "shots": 1,
                    "outputS3Bucket": "bucket",
                    "outputS3KeyPrefix": "tasks",
                },
            )
    assert excinfo.value.args[0].startswith("InternalServiceException")
