"""Shared by the remote-job tests: constants and a session on the emulator stack."""

from __future__ import annotations

import uuid

from braket_async.aws import AwsSession
from braket_async.emulator.testing import EmulatorStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonBraketJobsExecutionRole"


def session_for(
    stack: EmulatorStack, braket_url: str | None = None, **options: object
) -> AwsSession:
    """An AwsSession whose Braket is the emulator (or ``braket_url``, a proxy in front
    of it) and everything else moto."""
    moto = stack.aws.endpoint_url
    endpoints = {"s3": moto, "logs": moto, "sts": moto, "iam": moto}
    endpoints["braket"] = braket_url or stack.emulator.endpoint_url
    options.setdefault("default_bucket", f"braket-async-test-{uuid.uuid4().hex[:12]}")
    return AwsSession(region=stack.aws.region, endpoint_urls=endpoints, **options)  # type: ignore[arg-type]
