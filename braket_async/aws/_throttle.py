"""Client-side rate limits and retries for AWS calls.

Each operation has a token bucket shaped like the service quota (Braket's published
per-operation rates), so that hundreds of jobs under one event loop stay under the
account's quotas by themselves; calls that are throttled anyway, or fail transiently,
are retried with exponential backoff and full jitter. Time and sleep are injectable, so
tests of waiting take no wall time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping

import attrs

from .._braket import BRAKET_API_RATES, CLOUDWATCH_LOGS_RATES

__all__ = [
    "DEFAULT_BRAKET_RATES",
    "Clock",
    "OperationRate",
    "RateLimiter",
    "RetryPolicy",
]


@attrs.frozen
class OperationRate:
    """A token bucket: ``per_second`` calls on average, up to ``burst`` at once."""

    per_second: float
    burst: float = 1.0

    def __attrs_post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("an operation rate needs per_second > 0 and burst >= 1")


#: Braket's published per-account, per-region job API rates, and CloudWatch Logs'.
DEFAULT_BRAKET_RATES: Mapping[str, OperationRate] = {
    name: OperationRate(*rate)
    for name, rate in {**BRAKET_API_RATES, **CLOUDWATCH_LOGS_RATES}.items()
}


@attrs.define
class Clock:
    """Where the limiter and the retries read the time and sleep; swap it in tests."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep


class RateLimiter:
    """Token buckets per operation name; :meth:`acquire` waits for a token.

    Waiters are served in arrival order per operation: each takes the next slot, so
    many callers spread evenly instead of waking together.

    Args:
        rates: Operation name to rate; operations not listed are not limited.
        clock: Time source and sleep.
    """

    def __init__(self, rates: Mapping[str, OperationRate], clock: Clock | None = None) -> None:
        self.rates = dict(rates)
        self.clock = clock or Clock()
        self._next_free: dict[str, float] = {}

    async def acquire(self, operation: str) -> None:
        """Wait until ``operation`` may be called, and take the slot."""
        rate = self.rates.get(operation)
        if rate is None:
            return
        interval = 1.0 / rate.per_second
        now = self.clock.now()
        # A virtual schedule: the slot after the last one handed out, but never earlier
        # than the burst allows (``burst`` slots may lie in the past).
        earliest = now - (rate.burst - 1) * interval
        slot = max(self._next_free.get(operation, earliest), earliest)
        self._next_free[operation] = slot + interval
        if slot > now:
            await self.clock.sleep(slot - now)


@attrs.frozen
class RetryPolicy:
    """How throttled and transiently failed calls are retried.

    Attributes:
        max_attempts: Attempts in all, the first included (``None``: no limit; waits on
            jobs use that, so that throttling never fails a wait).
        base_delay: The first backoff, in seconds.
        max_delay: The largest backoff.
    """

    max_attempts: int | None = 8
    base_delay: float = 0.2
    max_delay: float = 20.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Backoff before retry number ``attempt`` (1 = first retry): full jitter."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return (rng or random).uniform(0, ceiling)
