"""GetDevice, SearchDevices and tagging over HTTP with an unmodified client."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest
from support.aws import SV1

pytestmark = pytest.mark.anyio


async def test_get_device(braket: Any) -> None:
    device = await braket.get_device(deviceArn=SV1)
    assert device["deviceName"] == "SV1"
    assert device["deviceType"] == "SIMULATOR"
    assert device["deviceStatus"] == "ONLINE"
    assert json.loads(device["deviceCapabilities"])["paradigm"]["qubitCount"] == 34


async def test_get_unknown_device_is_not_found(braket: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.get_device(deviceArn="arn:aws:braket:::device/quantum-simulator/amazon/xx")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


async def test_get_device_with_malformed_arn_is_invalid(braket: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.get_device(deviceArn="sv1")
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


async def test_search_devices(braket: Any) -> None:
    everything = await braket.search_devices(filters=[])
    assert SV1 in [device["deviceArn"] for device in everything["devices"]]

    named = await braket.search_devices(filters=[{"name": "deviceName", "values": ["SV1"]}])
    assert [device["deviceArn"] for device in named["devices"]] == [SV1]

    first = await braket.search_devices(filters=[], maxResults=1)
    assert len(first["devices"]) == 1
    rest = await braket.search_devices(filters=[], nextToken=first["nextToken"])
    assert first["devices"][0] not in rest["devices"]
    assert len(rest["devices"]) == len(everything["devices"]) - 1


async def test_search_devices_with_unknown_filter_is_invalid(braket: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        await braket.search_devices(filters=[{"name": "colour", "values": ["red"]}])
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


async def test_tags(braket: Any, job_request: Callable[..., dict[str, Any]]) -> None:
    arn = (await braket.create_job(**job_request(tags={"a": "1"})))["jobArn"]

    await braket.tag_resource(resourceArn=arn, tags={"b": "2", "a": "3"})
    assert (await braket.list_tags_for_resource(resourceArn=arn))["tags"] == {"a": "3", "b": "2"}

    await braket.untag_resource(resourceArn=arn, tagKeys=["a", "missing"])
    assert (await braket.list_tags_for_resource(resourceArn=arn))["tags"] == {"b": "2"}
    assert (await braket.get_job(jobArn=arn))["tags"] == {"b": "2"}
    summaries = await braket.search_jobs(
        filters=[{"name": "jobArn", "operator": "EQUAL", "values": [arn]}]
    )
    assert summaries["jobs"][0]["tags"] == {"b": "2"}


@pytest.mark.parametrize(
    ("arn", "code"),
    [
        ("arn:aws:braket:us-east-1:123456789012:job/missing", "ResourceNotFoundException"),
        ("not-an-arn", "ValidationException"),
    ],
)
async def test_tags_of_unknown_resource(braket: Any, arn: str, code: str) -> None:
    for call in (
        braket.list_tags_for_resource(resourceArn=arn),
        braket.tag_resource(resourceArn=arn, tags={"a": "1"}),
        braket.untag_resource(resourceArn=arn, tagKeys=["a"]),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            await call
        assert excinfo.value.response["Error"]["Code"] == code
