"""The exception tree of braket_async.

Every error this package raises on purpose derives from :class:`BraketAsyncError`, and
from the builtin that says what kind of failure it is, so code written for the official
SDK (``except RuntimeError``, ``except TimeoutError``, ``except ValueError``) keeps
working::

    BraketAsyncError
    ├── ConfigurationError (ValueError)      bad argument, name, path or setting
    ├── JobNotFoundError (ValueError)        no such job (local folder or service ARN)
    ├── JobFailedError (RuntimeError)        the job ended FAILED; carries the reason
    │   └── JobCancelledError                the job ended CANCELLED
    ├── JobTimeoutError (TimeoutError)       waiting for the job took too long
    ├── ResultError (ValueError)             a saved result cannot be read
    ├── BillingLimitError                    a sweep's max_billable_seconds was used up
    ├── ArchiveError (ValueError)            an archive is not a readable tar archive
    │   └── UnsafeArchiveError               ... or would put files outside its folder
    ├── RuntimeUnavailableError (OSError)    Docker daemon, image or interpreter missing
    ├── ContainerError (OSError)             the runtime failed while running a job
    ├── ServiceError                         the Braket service answered with an error
    │   └── ThrottlingError                  ... and it was a throttling error
    └── ClosedError (RuntimeError)           the object was used after ``aclose()``

Errors of the libraries below (aiodocker, botocore, OS calls) are translated at the
boundary that calls them, with the original chained as ``__cause__``.

Every error survives ``pickle`` (a process pool, a cluster): the copy has the same type,
message and attributes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArchiveError",
    "BillingLimitError",
    "BraketAsyncError",
    "ClosedError",
    "ConfigurationError",
    "ContainerError",
    "JobCancelledError",
    "JobFailedError",
    "JobNotFoundError",
    "JobTimeoutError",
    "ResultError",
    "RuntimeUnavailableError",
    "ServiceError",
    "ThrottlingError",
    "UnsafeArchiveError",
]


class BraketAsyncError(Exception):
    """The root of every error raised by braket_async."""


class ConfigurationError(BraketAsyncError, ValueError):
    """An argument, name, path or setting is not acceptable."""


class JobNotFoundError(BraketAsyncError, ValueError):
    """The job does not exist (no local job folder, or an unknown ARN)."""


class JobFailedError(BraketAsyncError, RuntimeError):
    """The job ended in a state that has no result.

    Attributes:
        arn: The ARN of the job.
        state: The final state (``"FAILED"`` or ``"CANCELLED"``).
        failure_reason: The reason reported for the failure, or ``None``.
    """

    def __init__(self, arn: str, state: str, failure_reason: str | None = None) -> None:
        self.arn = arn
        self.state = state
        self.failure_reason = failure_reason
        message = f"Job {arn} ended {state}"
        if failure_reason:
            message += f": {failure_reason}"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.arn, self.state, self.failure_reason), self.__dict__)


class JobCancelledError(JobFailedError):
    """The job was cancelled before it produced a result."""


class ResultError(BraketAsyncError, ValueError):
    """A job's saved result cannot be read: not UTF-8 JSON, a folder, a link."""


class BillingLimitError(BraketAsyncError):
    """A sweep created no job for this point: its finished points had used the
    ``max_billable_seconds`` it was given."""


class ArchiveError(BraketAsyncError, ValueError):
    """An archive (a job's output, a source tarball) is not a readable tar archive."""


class UnsafeArchiveError(ArchiveError):
    """An archive has a member that would land outside the folder it is extracted into:
    an absolute name, ``..``, a link that leaves it, a device or FIFO. Nothing of it is
    extracted."""


class JobTimeoutError(BraketAsyncError, TimeoutError):
    """Waiting for the job took longer than the polling timeout.

    Attributes:
        arn: The ARN of the job.
        timeout: The timeout, in seconds, that ran out.
    """

    def __init__(self, arn: str, timeout: float) -> None:
        self.arn = arn
        self.timeout = timeout
        super().__init__(f"Job {arn} did not finish within {timeout:g} s")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.arn, self.timeout), self.__dict__)


class RuntimeUnavailableError(BraketAsyncError, OSError):
    """A runtime cannot run jobs here: no Docker daemon, a missing image, no interpreter."""


class ContainerError(BraketAsyncError, OSError):
    """The runtime failed while preparing, running or collecting a job."""


class ServiceError(BraketAsyncError):
    """The Braket service (or S3, CloudWatch Logs, ...) answered with an error.

    Attributes:
        code: The service's error code, e.g. ``"ValidationException"``.
        message: The service's message.
        operation: The API operation that failed.
        request_id: The request id, for support cases.
        status: The HTTP status code, when there was an answer.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        operation: str | None = None,
        request_id: str | None = None,
        status: int | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.operation = operation
        self.request_id = request_id
        self.status = status
        where = f" in {operation}" if operation else ""
        super().__init__(f"{code}{where}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # The default would call ``type(self)(message)``: the attributes must travel.
        return (_rebuild_service_error, (type(self), dict(self.__dict__)))


class ThrottlingError(ServiceError):
    """The service refused a call because a rate quota was exceeded."""


class ClosedError(BraketAsyncError, RuntimeError):
    """The object was used after it was closed."""


def _rebuild_service_error(kind: type[ServiceError], state: dict[str, Any]) -> ServiceError:
    """A :class:`ServiceError` (or subclass) from its pickled attributes."""
    error = kind(
        state["code"],
        state["message"],
        operation=state.get("operation"),
        request_id=state.get("request_id"),
        status=state.get("status"),
    )
    error.__dict__.update(state)
    return error
