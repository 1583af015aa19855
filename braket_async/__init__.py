"""braket_async: an asyncio-native SDK for Amazon Braket Hybrid Jobs.

>>> job = await LocalQuantumJob.create("local:braket/braket.local.qubit", "algo.py")
>>> async for line in job.logs(wait=True):
...     print(line)
>>> await job.result()
"""

from ._states import JobState
from .aws import AwsQuantumJob, AwsSession
from .config import CheckpointConfig
from .errors import (
    BraketAsyncError,
    ClosedError,
    ConfigurationError,
    ContainerError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobTimeoutError,
    RuntimeUnavailableError,
    ServiceError,
    ThrottlingError,
)
from .local import LocalQuantumJob
from .metrics import MetricStatistic, MetricType

__all__ = [
    "AwsQuantumJob",
    "AwsSession",
    "BraketAsyncError",
    "CheckpointConfig",
    "ClosedError",
    "ConfigurationError",
    "ContainerError",
    "JobCancelledError",
    "JobFailedError",
    "JobNotFoundError",
    "JobState",
    "JobTimeoutError",
    "LocalQuantumJob",
    "MetricStatistic",
    "MetricType",
    "RuntimeUnavailableError",
    "ServiceError",
    "ThrottlingError",
]
