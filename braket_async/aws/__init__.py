"""Remote jobs on the Amazon Braket service."""

from ._session import AwsSession
from ._throttle import Clock, OperationRate, RetryPolicy

__all__ = ["AwsSession", "Clock", "OperationRate", "RetryPolicy"]
