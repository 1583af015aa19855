"""Local jobs: ``LocalQuantumJob`` and what runs it."""

from .._creation import JobCreation
from ._job import LocalQuantumJob

__all__ = ["JobCreation", "LocalQuantumJob"]
