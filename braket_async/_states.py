"""Job and quantum task states, shared by local and remote jobs and the emulator."""

from __future__ import annotations

import enum

__all__ = ["JobState", "QuantumTaskState"]


class JobState(str, enum.Enum):
    """The state of a hybrid job; compares equal to the service's strings.

    >>> JobState.COMPLETED == "COMPLETED"
    True
    """

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminal(self) -> bool:
        """Whether the job can no longer change state."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})


class QuantumTaskState(str, enum.Enum):
    """The state of a quantum task; compares equal to the service's strings."""

    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminal(self) -> bool:
        """Whether the quantum task can no longer change state."""
        return self in _TASK_TERMINAL


_TASK_TERMINAL = frozenset(
    {QuantumTaskState.COMPLETED, QuantumTaskState.FAILED, QuantumTaskState.CANCELLED}
)
