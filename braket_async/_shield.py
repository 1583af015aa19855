"""Cleanup that finishes even when the task running it is cancelled.

``anyio.CancelScope(shield=True)`` shields only from anyio's own cancellation; a plain
``Task.cancel()`` (what ``asyncio.run`` does on Ctrl-C, what users do to a task) still
lands in the middle of the cleanup. :func:`finish` runs the cleanup in its own task and
keeps waiting for it through any number of cancellations, then re-raises the
cancellation so the caller still ends cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["finish"]

T = TypeVar("T")


async def finish(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` to its end even if the caller is cancelled meanwhile.

    If the caller was cancelled while waiting, :class:`asyncio.CancelledError` is raised
    after the awaitable has finished successfully; an error of the awaitable itself
    propagates as it is.
    """
    task = asyncio.ensure_future(awaitable)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():  # the cleanup itself was cancelled, or finished just now
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result
