"""The HTTP side: raw protocol details, rate limits, injected faults and counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import botocore.exceptions
import pytest

from braket_async.emulator import BraketEmulator, FakeRunner, Faults, Rate, RateLimits
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import ClosedError

pytestmark = pytest.mark.anyio

JobRequest = Callable[..., dict[str, Any]]


class FakeClock:
    """Monotonic time that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_body_that_is_not_json_gets_a_validation_error(fake_stack: EmulatorStack) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake_stack.emulator.endpoint_url}/job", data=b"{not json") as response,
    ):
        assert response.status == 400
        assert response.headers["x-amzn-ErrorType"] == "ValidationException"
        assert "x-amzn-RequestId" in response.headers
        assert "JSON" in (await response.json())["message"]


async def test_unknown_route(fake_stack: EmulatorStack) -> None:
    async with (
        aiohttp.ClientSession() as http,
        # An operation of the model that the emulator does not answer.
        http.post(f"{fake_stack.emulator.endpoint_url}/spending-limits") as response,
    ):
        assert response.status == 404
        assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"


async def test_rate_limit_throttles_and_refills(
    moto_endpoint: str, job_request: JobRequest
) -> None:
    clock = FakeClock()
    limits = RateLimits(operations={"GetDevice": Rate(per_second=1, burst=2)}, account=None)
    async with BraketEmulator(runner=FakeRunner(), rate_limits=limits, clock=clock) as emulator:
        stack = EmulatorStack(emulator=emulator, aws=_aws(moto_endpoint))
        async with stack.client("braket") as braket:
            arn = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
            await braket.get_device(deviceArn=arn)
            await braket.get_device(deviceArn=arn)
            with pytest.raises(botocore.exceptions.ClientError) as excinfo:
                await braket.get_device(deviceArn=arn)
            assert excinfo.value.response["Error"]["Code"] == "ThrottlingException"
            assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            # Other operations have their own buckets.
            await braket.search_devices(filters=[])

            clock.now += 1.0
            await braket.get_device(deviceArn=arn)

        counts = emulator.stats.snapshot()["GetDevice"]
        assert counts["calls"] == 4
        assert counts["succeeded"] == 3
        assert counts["throttled"] == 1
        assert counts["client_errors"] == 1


async def test_account_rate_is_shared_by_operations(moto_endpoint: str) -> None:
    limits = RateLimits(operations={}, account=Rate(per_second=1, burst=1))
    async with BraketEmulator(
        runner=FakeRunner(), rate_limits=limits, clock=FakeClock()
    ) as emulator:
        stack = EmulatorStack(emulator=emulator, aws=_aws(moto_endpoint))
        async with stack.client("braket") as braket:
            await braket.search_devices(filters=[])
            with pytest.raises(botocore.exceptions.ClientError) as excinfo:
                await braket.search_jobs(filters=[])
            assert excinfo.value.response["Error"]["Code"] == "ThrottlingException"


async def test_default_limits_are_quota_shaped() -> None:
    limits = RateLimits()
    assert limits.enabled
    assert limits.account is not None
    assert limits.account.per_second == 140
    assert limits.operations["CreateJob"].per_second < limits.operations["GetJob"].per_second
    assert not RateLimits.disabled().enabled
    assert RateLimits().scaled(10).operations["GetJob"].per_second == 50


async def test_botocore_retries_throttling_and_every_attempt_is_counted(
    moto_endpoint: str,
) -> None:
    clock = FakeClock()
    limits = RateLimits(operations={"SearchDevices": Rate(per_second=1, burst=1)}, account=None)
    async with BraketEmulator(runner=FakeRunner(), rate_limits=limits, clock=clock) as emulator:
        stack = EmulatorStack(emulator=emulator, aws=_aws(moto_endpoint))
        async with stack.client("braket", retries=3) as braket:
            await braket.search_devices(filters=[])
            with pytest.raises(botocore.exceptions.ClientError):
                await braket.search_devices(filters=[])
    assert emulator.stats.get("SearchDevices", "calls") == 4
    assert emulator.stats.get("SearchDevices", "throttled") == 3


async def test_injected_errors(fake_stack: EmulatorStack, job_request: JobRequest) -> None:
    fake_stack.emulator.set_faults(Faults(error_rate=1.0, operations={"CreateJob"}))
    async with fake_stack.client("braket") as braket:
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            await braket.create_job(**job_request())
        assert excinfo.value.response["Error"]["Code"] == "InternalServiceException"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        await braket.search_jobs(filters=[])  # not a faulty operation
    # An injected error happens before the operation: no job was made.
    assert fake_stack.emulator.service.jobs == []
    assert fake_stack.emulator.stats.get("CreateJob", "injected_errors") == 1
    assert fake_stack.emulator.stats.get("CreateJob", "server_errors") == 1


async def test_injected_error_fraction_is_reproducible(fake_stack: EmulatorStack) -> None:
    def run() -> list[bool]:
        fake_stack.emulator.set_faults(Faults(error_rate=0.3, seed=7))
        return [fake_stack.emulator.faults.decide("GetJob").error for _ in range(200)]

    first, second = run(), run()
    assert first == second
    assert 30 < sum(first) < 90

    fake_stack.emulator.set_faults(Faults(error_rate=0.3, seed=7))
    failures = 0
    async with fake_stack.client("braket") as braket:
        for _ in range(40):
            try:
                await braket.search_devices(filters=[])
            except botocore.exceptions.ClientError:
                failures += 1
    assert failures == fake_stack.emulator.stats.get("SearchDevices", "injected_errors")
    assert 0 < failures < 40


async def test_dropped_connection_after_create_then_retry_with_same_token(
    fake_stack: EmulatorStack, job_request: JobRequest
) -> None:
    fake_stack.emulator.set_faults(Faults(drop_rate=1.0, operations={"CreateJob"}))
    async with fake_stack.client("braket") as braket:
        with pytest.raises(botocore.exceptions.ConnectionClosedError):
            await braket.create_job(clientToken="dropped", **job_request())
        assert len(fake_stack.emulator.service.jobs) == 1  # it was made; the answer was lost

        fake_stack.emulator.set_faults(Faults())
        answer = await braket.create_job(clientToken="dropped", **job_request())
    assert answer["jobArn"] == fake_stack.emulator.service.jobs[0].arn
    assert len(fake_stack.emulator.service.jobs) == 1
    assert fake_stack.emulator.stats.get("CreateJob", "dropped") == 1


async def test_injected_latency(fake_stack: EmulatorStack) -> None:
    fake_stack.emulator.set_faults(Faults(latency_seconds=(0.2, 0.2)))
    async with fake_stack.client("braket") as braket:
        started = time.monotonic()
        await braket.search_devices(filters=[])
        assert time.monotonic() - started >= 0.2


async def test_faults_validate_fractions() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=1.5)


async def test_admin_stats_endpoint(fake_stack: EmulatorStack, job_request: JobRequest) -> None:
    async with fake_stack.client("braket") as braket:
        arn = (await braket.create_job(**job_request()))["jobArn"]
        await fake_stack.emulator.service.wait_for_job(arn)
        await braket.get_job(jobArn=arn)
        await braket.get_job(jobArn=arn)
    url = f"{fake_stack.emulator.endpoint_url}/_emulator/stats"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            stats = await response.json()
        async with http.delete(url) as response:
            assert response.status == 204
    assert stats["operations"]["GetJob"]["calls"] == 2
    assert stats["operations"]["CreateJob"]["succeeded"] == 1
    assert stats["jobs"] == {"COMPLETED": 1}
    # The admin endpoint is not counted, and DELETE reset the counters.
    assert fake_stack.emulator.stats.snapshot() == {}


async def test_emulator_lifecycle() -> None:
    emulator = BraketEmulator(runner=FakeRunner())
    with pytest.raises(ClosedError):
        _ = emulator.endpoint_url
    async with emulator:
        assert emulator.endpoint_url.startswith("http://127.0.0.1:")
        assert emulator.port != 0
    await emulator.aclose()
    with pytest.raises(ClosedError):
        await emulator.start()


def _aws(endpoint_url: str) -> Any:
    from braket_async.emulator import AwsEndpoint

    return AwsEndpoint(endpoint_url=endpoint_url)


@pytest.mark.parametrize(
    ("path", "body", "fragments"),
    [
        (
            "/jobs",
            {"filters": "x", "maxResults": "ten"},
            ["at 'filters'", "Member must be a list", "at 'maxResults'", "integer"],
        ),
        (
            "/jobs",
            {"filters": [{"name": "jobArn", "operator": "SOME", "values": []}]},
            ["enum value set", "length greater than or equal to 1"],
        ),
        ("/devices", {"filters": [["not", "an", "object"]]}, ["Member must be an object"]),
        (
            "/job",
            {"clientToken": "t", "hyperParameters": {"a": 1}, "tags": []},
            ["Member must be a string", "Member must be a map"],
        ),
        ("/job", [1, 2], ["JSON object"]),
    ],
)
async def test_model_constraints_are_checked_by_the_server(
    fake_stack: EmulatorStack, path: str, body: Any, fragments: list[str]
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{fake_stack.emulator.endpoint_url}{path}", json=body) as response,
    ):
        assert response.status == 400
        assert response.headers["x-amzn-ErrorType"] == "ValidationException"
        message = (await response.json())["message"]
    for fragment in fragments:
        assert fragment in message
