"""Jobs on a Ray cluster: :class:`RayRuntime`, driven through the dashboard's job API.

Ray is not needed where jobs are created: the runtime talks to the dashboard over HTTP
(aiohttp). See the README's "Ray clusters" section for what travels how, and the bounds.
"""

from __future__ import annotations

from ._client import DashboardError, DashboardUnreachableError
from ._execution import RayExecution
from ._runtime import LOG_OUTPUT_LIMIT, RayRuntime

__all__ = [
    "LOG_OUTPUT_LIMIT",
    "DashboardError",
    "DashboardUnreachableError",
    "RayExecution",
    "RayRuntime",
]
