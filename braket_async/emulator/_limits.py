"""Per-operation rate limits: token buckets shaped like Braket's API quotas.

Each operation has its own bucket (a sustained rate and a burst) and all operations
share an account-wide bucket, as the service's quotas do. A call that finds a bucket
empty is answered with ``ThrottlingException`` and consumes nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import attrs

from .._braket import ACCOUNT_API_RATE, BRAKET_API_RATES

__all__ = ["DEFAULT_RATES", "Rate", "RateLimiter", "RateLimits"]


@attrs.frozen
class Rate:
    """A token bucket's shape: ``per_second`` tokens are added, at most ``burst`` kept."""

    per_second: float = attrs.field(validator=attrs.validators.gt(0))
    burst: float = attrs.field(validator=attrs.validators.ge(1))


#: Per-operation defaults: Braket's published quotas; tagging has no published rate, so
#: its values here are a guess.
DEFAULT_RATES: Mapping[str, Rate] = {
    **{name: Rate(*rate) for name, rate in BRAKET_API_RATES.items()},
    "TagResource": Rate(10, 40),
    "UntagResource": Rate(10, 40),
    "ListTagsForResource": Rate(10, 40),
}

#: The account-wide rate shared by every operation.
DEFAULT_ACCOUNT_RATE = Rate(*ACCOUNT_API_RATE)


@attrs.frozen(kw_only=True)
class RateLimits:
    """The emulator's rate limits.

    Attributes:
        operations: Operation name to its :class:`Rate`; operations not named are
            limited only by ``account``.
        account: The rate shared by all operations, or ``None`` for no shared limit.
        enabled: ``False`` turns every limit off.
    """

    operations: Mapping[str, Rate] = attrs.field(factory=lambda: dict(DEFAULT_RATES))
    account: Rate | None = DEFAULT_ACCOUNT_RATE
    enabled: bool = True

    @classmethod
    def disabled(cls) -> RateLimits:
        """No limits at all."""
        return cls(operations={}, account=None, enabled=False)

    def scaled(self, factor: float) -> RateLimits:
        """The same limits with every rate (not burst) multiplied by ``factor``."""
        return attrs.evolve(
            self,
            operations={
                name: Rate(rate.per_second * factor, rate.burst)
                for name, rate in self.operations.items()
            },
            account=(
                Rate(self.account.per_second * factor, self.account.burst) if self.account else None
            ),
        )


class _Bucket:
    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.tokens = rate.burst
        self.stamp = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.rate.burst, self.tokens + (now - self.stamp) * self.rate.per_second)
        self.stamp = now


class RateLimiter:
    """Decides whether a call may proceed now.

    Args:
        limits: The limits to enforce.
        clock: Monotonic seconds; injectable so tests control time without sleeping.
    """

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        # The server runs in one event loop, but the in-process API may be used from
        # other threads (a test driving a blocking SDK), so the buckets are locked.
        self._lock = threading.Lock()
        now = clock()
        self._buckets = {name: _Bucket(rate, now) for name, rate in limits.operations.items()}
        self._account = _Bucket(limits.account, now) if limits.account else None

    def try_acquire(self, operation: str) -> bool:
        """Take a token for ``operation``; ``False`` means the call is throttled."""
        if not self.limits.enabled:
            return True
        with self._lock:
            now = self._clock()
            buckets = [
                bucket
                for bucket in (self._buckets.get(operation), self._account)
                if bucket is not None
            ]
            for bucket in buckets:
                bucket.refill(now)
            if any(bucket.tokens < 1 for bucket in buckets):
                return False
            for bucket in buckets:
                bucket.tokens -= 1
            return True
