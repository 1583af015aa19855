"""Local jobs: ``LocalQuantumJob`` and what runs it."""

from ._job import JobCreation, LocalQuantumJob

__all__ = ["JobCreation", "LocalQuantumJob"]
