"""Job and quantum task states, shared by local and remote jobs and the emulator."""

from __future__ import annotations

import enum

__all__ = ["JobState", "QuantumTaskState"]


#: The states jobs and quantum tasks end in.
_TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


class _ServiceState(str, enum.Enum):
    """A state of the service's resources: its string, and whether it is final."""

    def __str__(self) -> str:
        return str(self.value)

    @property
    def is_terminal(self) -> bool:
        """Whether the resource can no longer change state."""
        return self.value in _TERMINAL


class JobState(_ServiceState):
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


class QuantumTaskState(_ServiceState):
    """The state of a quantum task; compares equal to the service's strings."""

    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
