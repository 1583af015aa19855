"""braket_async: an asyncio-native SDK for Amazon Braket Hybrid Jobs.

>>> job = await LocalQuantumJob.create("local:braket/braket.local.qubit", "algo.py")
>>> async for line in job.logs(wait=True):
...     print(line)
>>> await job.result()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_names

if TYPE_CHECKING:
    from ._events import JobEvent, RetryEvent
    from ._gather import as_completed, gather
    from ._group import JobGroup
    from ._hybrid_job import hybrid_job
    from ._logs import LogEvent, LogStream
    from ._quantum_job import QuantumJob
    from ._states import JobState
    from ._sweep import SweepPoint, sweep
    from .aws import AwsQuantumJob, AwsSession
    from .config import CheckpointConfig
    from .errors import (
        ArchiveError,
        BillingLimitError,
        BraketAsyncError,
        ClosedError,
        ConfigurationError,
        ContainerError,
        JobCancelledError,
        JobFailedError,
        JobNotFoundError,
        JobTimeoutError,
        ResultError,
        RuntimeUnavailableError,
        ServiceError,
        ThrottlingError,
        UnsafeArchiveError,
    )
    from .local import LocalQuantumJob
    from .metrics import MetricStatistic, MetricType

# Imported on first use: ``import braket_async.jobs`` inside a job must work with the
# standard library alone, and ``import braket_async`` stays cheap until a name is used.
_LAZY = {
    "BillingLimitError": ".errors",
    "SweepPoint": "._sweep",
    "sweep": "._sweep",
    "JobEvent": "._events",
    "RetryEvent": "._events",
    "JobGroup": "._group",
    "as_completed": "._gather",
    "gather": "._gather",
    "hybrid_job": "._hybrid_job",
    "ArchiveError": ".errors",
    "AwsQuantumJob": ".aws",
    "AwsSession": ".aws",
    "BraketAsyncError": ".errors",
    "CheckpointConfig": ".config",
    "ClosedError": ".errors",
    "ConfigurationError": ".errors",
    "ContainerError": ".errors",
    "JobCancelledError": ".errors",
    "JobFailedError": ".errors",
    "JobNotFoundError": ".errors",
    "JobState": "._states",
    "JobTimeoutError": ".errors",
    "ResultError": ".errors",
    "LocalQuantumJob": ".local",
    "LogEvent": "._logs",
    "LogStream": "._logs",
    "QuantumJob": "._quantum_job",
    "MetricStatistic": ".metrics",
    "MetricType": ".metrics",
    "RuntimeUnavailableError": ".errors",
    "ServiceError": ".errors",
    "ThrottlingError": ".errors",
    "UnsafeArchiveError": ".errors",
}

__all__ = [
    "ArchiveError",
    "AwsQuantumJob",
    "AwsSession",
    "BillingLimitError",
    "BraketAsyncError",
    "CheckpointConfig",
    "ClosedError",
    "ConfigurationError",
    "ContainerError",
    "JobCancelledError",
    "JobEvent",
    "JobFailedError",
    "JobGroup",
    "JobNotFoundError",
    "JobState",
    "JobTimeoutError",
    "LocalQuantumJob",
    "LogEvent",
    "LogStream",
    "MetricStatistic",
    "MetricType",
    "QuantumJob",
    "ResultError",
    "RetryEvent",
    "RuntimeUnavailableError",
    "ServiceError",
    "SweepPoint",
    "ThrottlingError",
    "UnsafeArchiveError",
    "as_completed",
    "gather",
    "hybrid_job",
    "sweep",
]


__getattr__, __dir__ = lazy_names(globals(), _LAZY, __all__)
