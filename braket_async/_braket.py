"""Facts of the Braket service that several layers need, in one place.

The handles, the runtimes and the emulator all read these; none of them restates one.
Quotas are Braket's published per-account, per-region defaults ("Amazon Braket
Quotas" in its developer guide) as ``(requests per second, burst)``; accounts may have
raised ones.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ConfigurationError

__all__ = [
    "ACCOUNT_API_RATE",
    "BASE_IMAGE_REGIONS",
    "BRAKET_API_RATES",
    "CLIENT_TOKEN_TAG",
    "CLOUDWATCH_LOGS_RATES",
    "DEFAULT_CHECKPOINT_PATH",
    "DEFAULT_CONCURRENT_JOBS_QUOTA",
    "DEFAULT_MAX_RUNTIME_SECONDS",
    "LOCAL_DEVICE",
    "LOG_GROUP",
    "base_image_uri",
]

#: The tag that carries a job's create ``clientToken`` (GetJob and SearchJobs do not
#: show the token itself): remote jobs carry it on the service, local jobs in their
#: record. A resumed sweep knows its own jobs by it.
CLIENT_TOKEN_TAG = "braket-async:client-token"
#: The embedded simulator's device ARN: local jobs' default device.
LOCAL_DEVICE = "local:braket/braket.local.qubit"
#: Where a job's checkpoints are, inside the job, unless its config says otherwise.
DEFAULT_CHECKPOINT_PATH = "/opt/jobs/checkpoints"
#: Five days, the service's maximum (and the official SDK's default).
DEFAULT_MAX_RUNTIME_SECONDS = 5 * 24 * 60 * 60
#: How many hybrid jobs an account runs at once by default (Braket's "concurrent hybrid
#: jobs" quota); CreateJob answers ``ServiceQuotaExceededException`` past it.
DEFAULT_CONCURRENT_JOBS_QUOTA = 5
#: The CloudWatch Logs group of every hybrid job; one stream per instance.
LOG_GROUP = "/aws/braket/jobs"

#: Braket's job, quantum task and device API rates.
BRAKET_API_RATES: Mapping[str, tuple[float, float]] = {
    "CreateJob": (1, 5),
    "GetJob": (5, 25),
    "CancelJob": (2, 5),
    "SearchJobs": (5, 50),
    "CreateQuantumTask": (20, 40),
    "GetQuantumTask": (100, 500),
    "CancelQuantumTask": (2, 20),
    "SearchQuantumTasks": (5, 50),
    "GetDevice": (5, 50),
    "SearchDevices": (5, 50),
}
#: The rate all of an account's Braket API calls share.
ACCOUNT_API_RATE: tuple[float, float] = (140, 600)
#: CloudWatch Logs, as log followers and metrics queries use it (its per-account quotas,
#: conservative where they have changed over time).
CLOUDWATCH_LOGS_RATES: Mapping[str, tuple[float, float]] = {
    "DescribeLogStreams": (5, 10),
    "GetLogEvents": (25, 50),
    "StartQuery": (5, 10),
    "GetQueryResults": (5, 10),
}

# Braket's base jobs image (the official SDK's image_uri_config/base.json).
_BASE_IMAGE_REGISTRY = "292282985366"
_BASE_IMAGE_REPOSITORY = "amazon-braket-base-jobs"
#: The regions that have the base jobs image.
BASE_IMAGE_REGIONS = frozenset({"us-east-1", "us-west-1", "us-west-2", "eu-west-2", "eu-north-1"})


def base_image_uri(region: str) -> str:
    """Braket's base jobs image in ``region``.

    Raises:
        ConfigurationError: Braket has no base image in ``region``; pass ``image_uri``.
    """
    if region not in BASE_IMAGE_REGIONS:
        raise ConfigurationError(
            f"Braket's base jobs image is not available in {region}: pass image_uri "
            f"(regions with the image: {', '.join(sorted(BASE_IMAGE_REGIONS))})"
        )
    return f"{_BASE_IMAGE_REGISTRY}.dkr.ecr.{region}.amazonaws.com/{_BASE_IMAGE_REPOSITORY}:latest"
