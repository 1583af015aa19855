"""AwsSession against moto and the emulator over real HTTP."""

from __future__ import annotations

import pytest
from support.aws import session_for

from braket_async.aws import AwsSession, OperationRate, RetryPolicy
from braket_async.emulator import Faults, Rate, RateLimits
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import ClosedError, ConfigurationError, ServiceError, ThrottlingError

pytestmark = pytest.mark.anyio


async def test_discovery_and_default_bucket(fake_stack: EmulatorStack) -> None:
    async with session_for(fake_stack, default_bucket=None) as session:
        assert session.region == "us-east-1"
        account = await session.account_id()
        assert account.isdigit()
        bucket = await session.default_bucket()
        assert bucket == f"amazon-braket-us-east-1-{account}"
        assert await session.default_bucket() == bucket  # created once, then known
        await session.call("s3", "head_bucket", Bucket=bucket)


async def test_errors_are_translated(fake_session: AwsSession) -> None:
    with pytest.raises(ServiceError) as caught:
        await fake_session.call(
            "braket", "get_job", jobArn="arn:aws:braket:us-east-1:123456789012:job/nope"
        )
    assert caught.value.code == "ResourceNotFoundException"
    assert caught.value.status == 404
    assert caught.value.operation == "GetJob"


async def test_jobs_role_from_iam(
    fake_session: AwsSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRAKET_JOBS_ROLE_ARN")
    # The moto server is shared: roles other tests made are removed, so the account has none.
    roles = await fake_session.call("iam", "list_roles", PathPrefix="/service-role/")
    for role in roles["Roles"]:
        if role["RoleName"].startswith("AmazonBraketJobsExecutionRole"):
            await fake_session.call("iam", "delete_role", RoleName=role["RoleName"])
    with pytest.raises(ConfigurationError, match="No Braket jobs role"):
        await fake_session.jobs_role_arn()
    created = await fake_session.call(
        "iam",
        "create_role",
        RoleName="AmazonBraketJobsExecutionRole-x",
        Path="/service-role/",
        AssumeRolePolicyDocument="{}",
    )
    assert await fake_session.jobs_role_arn() == created["Role"]["Arn"]


async def test_throttling_is_retried_until_it_passes(fake_stack: EmulatorStack) -> None:
    fake_stack.emulator.set_rate_limits(RateLimits().scaled(1000))
    fake_stack.emulator.set_faults(Faults(error_rate=0.5, seed=3, operations=["SearchDevices"]))
    async with session_for(fake_stack, retry=RetryPolicy(max_attempts=None, base_delay=0.001)) as s:
        for _ in range(10):
            await s.call("braket", "search_devices", filters=[])
    calls = fake_stack.emulator.stats.snapshot()
    assert calls["SearchDevices"]["calls"] > 10


async def test_throttling_error_after_the_last_attempt(fake_stack: EmulatorStack) -> None:
    fake_stack.emulator.set_rate_limits(
        RateLimits(operations={"SearchDevices": Rate(0.001, 1)}, account=None)
    )
    async with session_for(
        fake_stack, rates={}, retry=RetryPolicy(max_attempts=2, base_delay=0.001)
    ) as session:
        await session.call("braket", "search_devices", filters=[])
        with pytest.raises(ThrottlingError):
            await session.call("braket", "search_devices", filters=[])


async def test_a_closed_session_refuses_calls(fake_stack: EmulatorStack) -> None:
    session = session_for(fake_stack, rates={"SearchDevices": OperationRate(100, 10)})
    await session.call("braket", "search_devices", filters=[])
    await session.aclose()
    await session.aclose()
    with pytest.raises(ClosedError):
        await session.call("braket", "search_devices", filters=[])
