"""Runtimes: what runs a job's code (a local process, a Docker container, a test double).

A runtime takes a :class:`JobSpec` and returns an :class:`Execution`; job handles use
nothing else, so a new runtime plugs in without touching them. ``DockerRuntime`` and
``RayRuntime`` are imported on first use, so that using the process runtime does not
load aiodocker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import CollectedOutputs, Execution, JobRuntime, JobSpec
from ._process import ProcessExecution, ProcessRuntime

if TYPE_CHECKING:
    from ._docker import DockerRuntime
    from .ray import RayRuntime

__all__ = [
    "CollectedOutputs",
    "DockerRuntime",
    "Execution",
    "JobRuntime",
    "JobSpec",
    "ProcessExecution",
    "ProcessRuntime",
    "RayRuntime",
]


def __getattr__(name: str) -> Any:
    if name == "DockerRuntime":
        from ._docker import DockerRuntime

        return DockerRuntime
    if name == "RayRuntime":
        from .ray import RayRuntime

        return RayRuntime
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
