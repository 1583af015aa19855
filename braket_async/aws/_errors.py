"""AWS errors as ``braket_async.errors``: the translation at the boundary, and which
failures are worth another attempt. Used by the session and by what retries on its own."""

from __future__ import annotations

import aiohttp
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from ..errors import ConfigurationError, JobNotFoundError, ServiceError, ThrottlingError

__all__ = ["is_transient", "job_not_found", "translate"]

_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
_TRANSIENT_CODES = frozenset(
    {"InternalServiceException", "InternalServerError", "ServiceUnavailable", "InternalError"}
)


def translate(exc: Exception, operation: str) -> Exception:
    """botocore's and aiohttp's errors as ``braket_async.errors``; others unchanged."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", ""))
        request_id = exc.response.get("ResponseMetadata", {}).get("RequestId")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        kind = ThrottlingError if code in _THROTTLING_CODES or status == 429 else ServiceError
        return kind(
            code,
            message,
            operation=operation,
            request_id=request_id,
            status=status if isinstance(status, int) else None,
        )
    if isinstance(exc, NoCredentialsError):
        return ConfigurationError(f"No AWS credentials for {operation}: {exc}")
    if isinstance(exc, (HTTPClientError, BotoConnectionError, aiohttp.ClientError)):
        return ServiceError("ConnectionError", str(exc), operation=operation)
    if isinstance(exc, BotoCoreError):
        return ServiceError(type(exc).__name__, str(exc), operation=operation)
    return exc


def is_transient(error: BaseException) -> bool:
    """Whether the same call may succeed later: throttling, 5xx, a dropped connection."""
    if isinstance(error, ThrottlingError):
        return True
    if isinstance(error, ServiceError):
        return (
            error.code in _TRANSIENT_CODES
            or error.code == "ConnectionError"
            or (error.status is not None and error.status >= 500)
        )
    return False


def job_not_found(error: BaseException, arn: str) -> JobNotFoundError | None:
    """The :class:`JobNotFoundError` that ``error`` of a call about job ``arn`` means, or
    ``None`` when it means something else. Its cause is ``error``."""
    if not (isinstance(error, ServiceError) and error.code == "ResourceNotFoundException"):
        return None
    missing = JobNotFoundError(f"Job {arn} not found")
    missing.__cause__ = error
    return missing
