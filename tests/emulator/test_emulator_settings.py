"""``/_emulator/settings``: faults, limits and quotas changed while the emulator runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import botocore.exceptions
import pytest

from braket_async.emulator import EmulatorSettings, SettingsError
from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

JobRequest = Callable[..., dict[str, Any]]


async def admin(
    stack: EmulatorStack, method: str, body: bytes | None = None, resource: str = "settings"
) -> tuple[int, Any]:
    url = f"{stack.emulator.endpoint_url}/_emulator/{resource}"
    async with aiohttp.ClientSession() as http, http.request(method, url, data=body) as answer:
        return answer.status, await answer.json()


async def test_the_document_shown_is_accepted_back_unchanged(fake_stack: EmulatorStack) -> None:
    status, shown = await admin(fake_stack, "GET")
    assert status == 200
    assert shown == EmulatorSettings(rate_limits=False).to_document()
    assert await admin(fake_stack, "PATCH", json.dumps(shown).encode()) == (
        200,
        shown,
    )


async def test_injected_errors_start_and_stop_while_it_runs(fake_stack: EmulatorStack) -> None:
    device = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
    async with fake_stack.client("braket") as braket:
        assert (await admin(fake_stack, "POST", b'{"error_rate": 1.0}'))[0] == 200
        with pytest.raises(botocore.exceptions.ClientError) as failed:
            await braket.get_device(deviceArn=device)
        assert failed.value.response["Error"]["Code"] == "InternalServiceException"
        status, shown = await admin(fake_stack, "PATCH", b'{"error_rate": 0}')
        assert (status, shown["error_rate"]) == (200, 0.0)
        assert (await braket.get_device(deviceArn=device))["deviceArn"] == device
    assert fake_stack.emulator.stats.get("GetDevice", "injected_errors") == 1


async def test_faults_limited_to_named_operations(fake_stack: EmulatorStack) -> None:
    await admin(fake_stack, "PATCH", b'{"error_rate": 1, "fault_operations": ["GetJob"]}')
    async with fake_stack.client("braket") as braket:
        assert (await braket.search_devices(filters=[]))["devices"]
        with pytest.raises(botocore.exceptions.ClientError) as failed:
            await braket.get_job(jobArn="arn:aws:braket:us-east-1:123456789012:job/x")
        assert failed.value.response["Error"]["Code"] == "InternalServiceException"


async def test_rate_limits_switched_on_scaled_and_off(
    fake_stack: EmulatorStack, job_request: JobRequest
) -> None:
    # CreateJob's bucket holds 5; at a thousandth of 1/s nothing refills during the test.
    await admin(fake_stack, "PATCH", b'{"rate_limits": true, "rate_scale": 0.001}')
    async with fake_stack.client("braket") as braket:
        for index in range(5):
            await braket.create_job(**job_request(jobName=f"job-{index}"))
        with pytest.raises(botocore.exceptions.ClientError) as throttled:
            await braket.create_job(**job_request(jobName="job-5"))
        assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
        await admin(fake_stack, "PATCH", b'{"rate_limits": false}')
        await braket.create_job(**job_request(jobName="job-6"))


async def test_the_concurrent_jobs_quota_changes_live(
    fake_stack: EmulatorStack, job_request: JobRequest
) -> None:
    await admin(fake_stack, "PATCH", b'{"concurrent_jobs_quota": 0}')
    async with fake_stack.client("braket") as braket:
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            await braket.create_job(**job_request())
        assert refused.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
        await admin(fake_stack, "PATCH", b'{"concurrent_jobs_quota": null}')
        await braket.create_job(**job_request())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "must be a JSON object"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"error_rate": 0.5, "errors": 1}', "unknown setting 'errors'; the settings are"),
        (b'{"error_rate": true}', "error_rate must be a number, got True"),
        (b'{"error_rate": "0.1"}', 'error_rate must be a number, got "0.1"'),
        (b'{"error_rate": NaN}', "error_rate must be a number, got nan"),
        (b'{"drop_rate": -0.1}', "drop_rate must be between 0 and 1"),
        (b'{"latency_seconds": [1]}', "latency_seconds must be [low, high]"),
        (b'{"latency_seconds": [-1, 1]}', "latency_seconds must be [low, high]"),
        (b'{"latency_seconds": [0, 1e999]}', "latency_seconds must be a number"),
        (b'{"latency_seconds": [0, 301]}', "low <= high <= 300"),
        (b'{"rate_scale": 1e7}', "at most 1e+06"),
        (b'{"seed": 1.5}', "seed must be an integer or null"),
        (b'{"fault_operations": "GetJob"}', "fault_operations must be null"),
        (b'{"rate_limits": 1}', "rate_limits must be true or false"),
        (b'{"rate_scale": -2}', "rate_scale must be a number above 0"),
        (b'{"concurrent_jobs_quota": 2.0}', "concurrent_jobs_quota must be an integer"),
        (b'{"max_concurrent_jobs": 2}', "cannot be changed: this emulator's runner"),
    ],
)
async def test_bad_changes_are_refused_whole(
    fake_stack: EmulatorStack, body: bytes, message: str
) -> None:
    before = fake_stack.emulator.settings
    # A good change beside the bad one: it must not apply either.
    if body.startswith(b"{") and b"error_rate" not in body:
        body = b'{"error_rate": 0.5, ' + body[1:]
    status, answer = await admin(fake_stack, "PATCH", body)
    assert status == 400
    assert message in answer["message"]
    assert fake_stack.emulator.settings == before


async def test_wrong_methods_and_resources(fake_stack: EmulatorStack) -> None:
    assert await admin(fake_stack, "PUT", b"{}") == (
        405,
        {"message": "settings takes GET, PATCH, POST"},
    )
    status, answer = await admin(fake_stack, "GET", resource="nothing")
    assert status == 404
    assert "/_emulator/settings" in answer["message"]


async def test_in_process_changes_use_the_same_rules(fake_stack: EmulatorStack) -> None:
    emulator = fake_stack.emulator
    changed = emulator.update_settings({"drop_rate": 0.25, "seed": 9})
    assert (changed.faults.drop_rate, changed.faults.seed) == (0.25, 9)
    with pytest.raises(SettingsError, match="unknown setting 'speed'"):
        emulator.update_settings({"speed": 1})
    assert isinstance(SettingsError("x"), ValueError)
    assert emulator.settings == changed
