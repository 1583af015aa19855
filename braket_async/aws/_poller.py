"""Placeholder: the shared job poller is being written."""

from __future__ import annotations

from typing import Any


class JobPoller:
    """Placeholder."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def aclose(self) -> None:
        """Placeholder."""
