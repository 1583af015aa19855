"""Local jobs: ``LocalQuantumJob`` and what runs it.

The names are imported on first use: a job's supervisor (``_supervisor.py``) imports
only what runs a job, not the job handle and everything behind it.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:
    from .._creation import JobCreation
    from ._job import LocalQuantumJob

__all__ = ["JobCreation", "LocalQuantumJob"]

__getattr__, __dir__ = lazy_names(
    globals(), {"JobCreation": "braket_async._creation", "LocalQuantumJob": "._job"}, __all__
)
