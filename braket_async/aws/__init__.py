"""Remote jobs on the Amazon Braket service."""

from .._creation import JobCreation
from ..config import (
    CheckpointConfig,
    InstanceConfig,
    OutputDataConfig,
    S3DataSourceConfig,
    StoppingCondition,
)
from ._job import AwsQuantumJob, QueuePosition
from ._logs import LogEvent, RemoteLogStream
from ._session import AwsSession
from ._throttle import Clock, OperationRate, RetryPolicy

__all__ = [
    "AwsQuantumJob",
    "AwsSession",
    "CheckpointConfig",
    "Clock",
    "InstanceConfig",
    "JobCreation",
    "LogEvent",
    "OperationRate",
    "OutputDataConfig",
    "QueuePosition",
    "RemoteLogStream",
    "RetryPolicy",
    "S3DataSourceConfig",
    "StoppingCondition",
]
