"""A job's record as its owner writes it: one write at a time, never an older version
over a newer one, never abandoned half-way, the final one into its reserved room."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from .._shield import finish
from ._folder import METADATA_FILE, metadata_to_json, release_reserve, write_text

__all__ = ["RecordWriter", "write_record"]


def write_record(folder: Path, text: str, *, final: bool) -> None:
    """Write the record ``text`` in ``folder`` (blocking; atomic); a final one into the
    room :func:`~._folder.reserve_room` kept for it.

    Raises:
        OSError: It could not be written; its ``filename`` is the record's path.
    """
    if final:
        release_reserve(folder)
    write_text(folder / METADATA_FILE, text)


class RecordWriter:
    """Writes the record of the job in ``folder``, version after version."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / METADATA_FILE
        self._folder = folder
        self._lock = asyncio.Lock()
        self._taken = 0
        self._written = 0

    def snapshot(self, metadata: dict[str, Any]) -> tuple[int, str]:
        """``metadata`` as it is now, numbered: serialized here, so that the worker
        thread writes this version whatever changes meanwhile."""
        self._taken += 1
        return self._taken, metadata_to_json(metadata)

    async def write(self, version: tuple[int, str], *, final: bool = False) -> bool:
        """Write ``version``; ``False`` if a newer one was written already.

        Raises:
            OSError: It could not be written; the record is as it was.
        """
        number, text = version
        async with self._lock:
            if number < self._written:
                return False
            # Never given up half-way (a cancel waits for it): the next write would
            # race this one's thread for the partial file.
            await finish(asyncio.to_thread(write_record, self._folder, text, final=final))
            self._written = number
        return True
