"""Per-operation call counters, readable in-process and from the admin endpoint."""

from __future__ import annotations

import collections
import threading

__all__ = ["CallStats"]

_COUNTERS = (
    "calls",
    "succeeded",
    "client_errors",
    "throttled",
    "injected_errors",
    "dropped",
    "server_errors",
)


class CallStats:
    """Counts calls per operation: every attempt, and how it was answered.

    Counters per operation: ``calls`` (every request routed to it), ``succeeded``,
    ``client_errors`` (4xx, throttling included), ``throttled``, ``server_errors``
    (5xx, injected ones included), ``injected_errors`` and ``dropped``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, collections.Counter[str]] = {}

    def add(self, operation: str, counter: str, amount: int = 1) -> None:
        """Add ``amount`` to one counter of ``operation``."""
        if counter not in _COUNTERS:
            raise ValueError(f"unknown counter {counter!r}")
        with self._lock:
            self._counts.setdefault(operation, collections.Counter())[counter] += amount

    def get(self, operation: str, counter: str = "calls") -> int:
        """One counter of one operation (0 when never counted)."""
        with self._lock:
            return self._counts.get(operation, collections.Counter())[counter]

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Every operation's counters, all keys present."""
        with self._lock:
            return {
                operation: {name: counts[name] for name in _COUNTERS}
                for operation, counts in sorted(self._counts.items())
            }

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()
