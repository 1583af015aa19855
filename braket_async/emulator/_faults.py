"""Fault injection: error answers, added latency and dropped connections.

Faults are drawn from one seedable random generator, so a test or benchmark that fixes
the seed gets the same sequence of faults for the same sequence of calls.
"""

from __future__ import annotations

import random
from collections.abc import Collection

import attrs

__all__ = ["FaultDecision", "FaultInjector", "Faults"]


def _fraction(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value}")


@attrs.frozen(kw_only=True)
class Faults:
    """What goes wrong, and how often.

    Attributes:
        error_rate: Fraction of calls answered ``InternalServiceException`` (500)
            *before* the operation runs (nothing happens).
        drop_rate: Fraction of calls whose connection is closed *after* the operation
            ran, without an answer: the client cannot know whether, say, its job was
            created, which is what idempotency tokens are for.
        latency_seconds: Added delay before every answer, as ``(low, high)`` seconds,
            drawn uniformly.
        operations: The operations faults apply to; ``None`` for all.
        seed: Seed of the random generator; ``None`` for a random one.
    """

    error_rate: float = attrs.field(default=0.0, validator=_fraction)
    drop_rate: float = attrs.field(default=0.0, validator=_fraction)
    latency_seconds: tuple[float, float] = (0.0, 0.0)
    operations: Collection[str] | None = None
    seed: int | None = None


@attrs.frozen
class FaultDecision:
    """The faults drawn for one call."""

    latency: float = 0.0
    error: bool = False
    drop: bool = False


class FaultInjector:
    """Draws the faults of each call from :class:`Faults`."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)

    def decide(self, operation: str) -> FaultDecision:
        """The faults for one call of ``operation``."""
        faults = self.faults
        if faults.operations is not None and operation not in faults.operations:
            return FaultDecision()
        low, high = faults.latency_seconds
        latency = self._random.uniform(low, high) if high > 0 else 0.0
        # Always draw both numbers, so one setting does not shift the other's sequence.
        error = self._random.random() < faults.error_rate
        drop = self._random.random() < faults.drop_rate
        return FaultDecision(latency=latency, error=error, drop=drop and not error)
