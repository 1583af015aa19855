"""How groups and sweeps get through a service that does not answer for a while.

A call about a job (its create, a look at its state, a resumed sweep's look at it) that
fails with a transient error — which ones are transient is the AWS layer's single
classification, :func:`braket_async.aws._errors.is_transient` — is tried again after a
pause that doubles each time (with jitter, at most a minute), and every failed attempt
is reported as a :class:`RetryEvent` carrying the error and the time of the next
attempt. Once the attempts have failed for longer than ``unreachable_timeout``, the last
error is raised: the call ends, with a final event that says so, instead of waiting
without a word for a service that went away.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from ._events import RetryEvent
from ._quantum_job import QuantumJob
from .errors import ConfigurationError

__all__ = ["DEFAULT_UNREACHABLE_TIMEOUT", "Retrier", "check_unreachable_timeout", "is_transient"]

#: How long a target may fail every call before the calls that wait on it fail.
DEFAULT_UNREACHABLE_TIMEOUT = 300.0
#: The longest pause between two attempts.
_MAX_PAUSE = 60.0

T = TypeVar("T")


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` may go away if the same call is made later."""
    from .errors import ServiceError

    if not isinstance(error, ServiceError):
        return False  # only the AWS layer raises them; local errors are never transient
    from .aws._errors import is_transient as aws_is_transient

    return aws_is_transient(error)


def check_unreachable_timeout(seconds: float | None) -> float:
    """``seconds`` as a bound (``None``: none), or :class:`ConfigurationError`."""
    if seconds is None:
        return math.inf
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ConfigurationError(
            f"unreachable_timeout must be a positive number of seconds or None, not {seconds!r}"
        )
    return float(seconds)


class Retrier:
    """Runs calls with the retry policy above.

    Args:
        unreachable_timeout: How long attempts may fail before the last error is raised.
        first_pause: The pause after the first failed attempt (then doubled).
        report: Called with every :class:`RetryEvent`.
    """

    def __init__(
        self,
        *,
        unreachable_timeout: float,
        first_pause: float,
        report: Callable[[RetryEvent], None],
    ) -> None:
        self.unreachable_timeout = unreachable_timeout
        self.first_pause = first_pause
        self._report = report

    async def run(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        operation: str,
        job: QuantumJob | None = None,
        job_name: str | None = None,
    ) -> T:
        """``await call()``, again after each transient error, until it succeeds, fails
        otherwise, or has failed for longer than the bound (then its last error)."""
        attempt = 0
        since = since_epoch = 0.0

        def report(error: Exception | None, retry_at: float | None) -> None:
            self._report(
                RetryEvent(
                    operation=operation,
                    job=job,
                    job_name=job_name if job is None else job.name,
                    error=error,
                    attempt=attempt,
                    since=since_epoch,
                    retry_at=retry_at,
                    time=time.time(),
                )
            )

        while True:
            try:
                result = await call()
            except Exception as error:
                if not is_transient(error):
                    raise
                now = time.monotonic()
                if attempt == 0:
                    since, since_epoch = now, time.time()
                attempt += 1
                left = self.unreachable_timeout - (now - since)
                pause = None if left <= 0 else min(left, self._pause(attempt))
                report(error, None if pause is None else time.time() + pause)
                if pause is None:
                    raise
                await anyio.sleep(pause)
                continue
            if attempt:
                report(None, None)  # answered again
            return result

    def _pause(self, attempt: int) -> float:
        ceiling = min(_MAX_PAUSE, self.first_pause * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)
