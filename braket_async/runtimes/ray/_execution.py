"""One job running on a Ray cluster, followed through the dashboard.

A follower task reads the job's log through the tail websocket from its first line,
hands the job's lines to :meth:`RayExecution.output_blocks`, writes the output files the
keeper frames in the log into a private folder, and ends when the keeper's ``done``
line arrived or Ray says the job ended. A tail that breaks is opened again and the
characters already read are skipped (Ray sends the log from its start each time). What
the cluster does to a job is turned into an exit code and a failure reason, each within
a bound: a job ``PENDING`` longer than ``start_timeout`` is stopped; a dashboard that
does not answer for ``unreachable_timeout`` ends the follow (the keeper ends the job
when its lease runs out); a job the cluster forgot (its head restarted) ends at the
next look.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tarfile
import time
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio

from ..._archives import extract_tree
from ..._shield import finish
from ...errors import ClosedError
from .._base import CHECKPOINTS_FOLDER, MODEL_FOLDER, CollectedOutputs, JobSpec
from ._client import DashboardError, DashboardUnreachableError, RayDashboard
from ._frames import FrameReader
from ._storage import ObjectStore

__all__ = ["RayExecution", "Timeouts"]

logger = logging.getLogger("braket_async.runtimes.ray")

_TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
#: Ray stops a job with SIGTERM, then SIGKILL after 3 s; its log is read once a second.
_STOP_SECONDS = 15.0
_RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
_QUEUE_BLOCKS = 64
#: How often the tail of a job that ended before its last line was read is tried again.
_ENDED_TAIL_TRIES = 4
_ENDED_RETRY_SECONDS = 0.5


class Timeouts:
    """The bounds of following a job (seconds)."""

    def __init__(self, *, poll: float, start: float, unreachable: float) -> None:
        self.poll = poll
        self.start = start
        self.unreachable = unreachable


class RayExecution:
    """A job submitted to a Ray cluster; see :class:`~braket_async.runtimes.Execution`."""

    def __init__(
        self,
        *,
        spec: JobSpec,
        dashboard: RayDashboard,
        submission_id: str,
        nonce: str,
        folder: Path,
        timeouts: Timeouts,
        store: ObjectStore | None = None,
        stored_keys: dict[str, str] | None = None,
        lease: LeaseRenewer | None = None,
        on_close: Callable[[RayExecution], None] = lambda _: None,
    ) -> None:
        self.spec = spec
        self.submission_id = submission_id
        self._dashboard = dashboard
        self._folder = folder  # private: received outputs
        self._timeouts = timeouts
        self._store = store
        self._stored_keys = dict(stored_keys or {})
        self._lease = lease
        self._on_close = on_close
        self._reader = FrameReader(nonce)
        self._blocks: asyncio.Queue[str | None] = asyncio.Queue(_QUEUE_BLOCKS)
        self._ended = asyncio.Event()
        self._files: dict[str, Any] = {}
        self._ray_status: str | None = None
        self._ray_message: str | None = None
        self._cluster_failure: str | None = None
        self._stop_requested = False
        self._output_taken = False
        self._closed = False
        self._follower = asyncio.ensure_future(self._follow())

    def record_fields(self) -> dict[str, Any]:
        """What the job's record keeps of the Ray job."""
        return {"rayJob": {"address": self._dashboard.address, "submissionId": self.submission_id}}

    # --- output ---------------------------------------------------------------------

    def output_blocks(self) -> AsyncIterator[str]:
        """The job's lines as they arrive together, each ending in ``\\n``."""
        if self._output_taken:
            raise ClosedError("the output of this execution can be read only once")
        self._output_taken = True
        return self._take_blocks()

    async def _take_blocks(self) -> AsyncIterator[str]:
        while (block := await self._blocks.get()) is not None:
            yield block

    async def output(self) -> AsyncIterator[str]:
        """The job's lines, one by one."""
        async for block in self.output_blocks():
            for line in block.split("\n")[:-1]:
                yield line

    # --- following the job ----------------------------------------------------------

    async def _follow(self) -> None:
        try:
            await self._follow_log()
        except Exception as exc:  # a bug or an answer nobody foresaw: the job's reason
            logger.exception("job %s: following Ray job %s", self.spec.job_name, self.submission_id)
            self._fail(f"RayJobError: following the job failed: {type(exc).__name__}: {exc}")
        finally:
            await finish(self._end_follow())

    async def _end_follow(self) -> None:
        for file in self._files.values():
            await asyncio.to_thread(file.close)
        rest = self._reader.close()
        self._ended.set()
        if rest:
            await self._blocks.put(rest)
        await self._blocks.put(None)

    async def _follow_log(self) -> None:
        received = 0
        unreachable_since: float | None = None
        attempt = ended_tries = 0
        async with anyio.create_task_group() as group:

            async def watch_start() -> None:
                if await self._watch_start():
                    group.cancel_scope.cancel()  # stopped unstarted: nothing more to read

            group.start_soon(watch_start)
            while True:
                skip = received
                try:
                    async for text in self._dashboard.tail(self.submission_id):
                        unreachable_since, attempt = None, 0
                        if skip >= len(text):
                            skip -= len(text)
                            continue
                        text, skip = text[skip:], 0
                        received += len(text)
                        await self._take(text)
                        if self._reader.outcome.done:
                            break
                    if self._reader.outcome.done:
                        break
                    ended = await self._job_ended()
                except (DashboardUnreachableError, DashboardError) as exc:
                    now = time.monotonic()
                    if unreachable_since is None:
                        unreachable_since = now
                    if now - unreachable_since > self._timeouts.unreachable:
                        self._fail(
                            f"RayJobError: {exc} (for {self._timeouts.unreachable:.0f} s); "
                            "the job ends on its node when its lease runs out"
                        )
                        break
                    ended = False
                    with contextlib.suppress(DashboardUnreachableError, DashboardError):
                        ended = await self._job_ended()
                if ended:
                    # The job ended without its last line read: its log is still there
                    # to read (its outputs are in it), unless its node is gone.
                    ended_tries += 1
                    if ended_tries > _ENDED_TAIL_TRIES or self._cluster_failure is not None:
                        break
                    await asyncio.sleep(_ENDED_RETRY_SECONDS)
                    continue
                await asyncio.sleep(_RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)])
                attempt += 1
            group.cancel_scope.cancel()

    async def _take(self, text: str) -> None:
        lines, chunks = self._reader.feed(text)
        if chunks:
            await asyncio.to_thread(self._write_chunks, chunks)
        if lines:
            await self._blocks.put(lines)

    def _write_chunks(self, chunks: list[tuple[str, bytes]]) -> None:
        for name, data in chunks:
            if name not in (MODEL_FOLDER, CHECKPOINTS_FOLDER):
                continue
            file = self._files.get(name)
            if file is None:
                file = self._files[name] = open(self._folder / f"{name}.tar", "xb")  # noqa: SIM115
            file.write(data)

    async def _job_ended(self) -> bool:
        """Look at the job once; whether it has ended (or the cluster forgot it)."""
        info = await self._dashboard.job(self.submission_id)
        if info is None:
            self._fail(
                f"RayJobError: the Ray cluster at {self._dashboard.address} no longer knows "
                f"job {self.submission_id} (its head restarted?)"
            )
            return True
        self._ray_status = str(info.get("status"))
        self._ray_message = str(info.get("message") or "") or None
        return self._ray_status in _TERMINAL

    async def _watch_start(self) -> bool:
        """Stop a job that stays ``PENDING`` longer than the start bound; whether it did.

        Ray keeps a stopped job that never started ``PENDING`` (its stop waits for the
        job's supervisor actor, which has no node): the follow ends here.
        """
        started = time.monotonic()
        while self._reader.outcome.started is None:
            await asyncio.sleep(self._timeouts.poll)
            if self._reader.outcome.started is not None:
                return False
            with contextlib.suppress(DashboardUnreachableError, DashboardError):
                info = await self._dashboard.job(self.submission_id)
                status = str((info or {}).get("status"))
                if status != "PENDING":
                    if status in _TERMINAL or info is None:
                        return False
                    continue
                if time.monotonic() - started > self._timeouts.start:
                    message = str((info or {}).get("message") or "").strip()
                    self._fail(
                        f"RayJobError: the job was still PENDING after {self._timeouts.start:.0f} s"
                        + (f" ({message})" if message else "")
                        + ": it was stopped"
                    )
                    await self._dashboard.stop(self.submission_id)
                    return True
        return False

    def _fail(self, reason: str) -> None:
        if self._cluster_failure is None:
            self._cluster_failure = reason
            logger.info("job %s: %s", self.spec.job_name, reason)

    # --- the seam -------------------------------------------------------------------

    async def wait(self) -> int:
        """Wait until the job ended on the cluster; its exit code."""
        await self._ended.wait()
        code = self._reader.outcome.exit_code
        if code is not None and self._reader.outcome.done:
            return code
        if self._cluster_failure is None and self._ray_status == "SUCCEEDED" and code == 0:
            return 0
        return code or 1

    async def kill(self) -> None:
        """Stop the Ray job (SIGTERM to its processes; the keeper ends its whole tree)
        and wait until its log has ended, within a bound."""
        if self._ended.is_set() or self._closed:
            return
        self._stop_requested = True
        with contextlib.suppress(DashboardUnreachableError, DashboardError):
            await self._dashboard.stop(self.submission_id)
        with anyio.move_on_after(_STOP_SECONDS):
            await self._ended.wait()
        if not self._ended.is_set():
            self._fail(f"RayJobError: job {self.submission_id} did not end after its stop")
            self._follower.cancel()
            await asyncio.wait([self._follower])

    async def collect(self, destination: Path) -> CollectedOutputs:
        """Extract the outputs the job sent back into ``destination``; the failure reason."""
        outcome = self._reader.outcome
        for name in outcome.stored:
            key = self._stored_keys.get(name)
            if self._store is not None and key is not None and name not in self._files:
                await self._store.download(key, self._folder / f"{name}.tar")
                self._files[name] = None
        refused = await asyncio.to_thread(self._extract, destination)
        return CollectedOutputs(self._failure_reason(), tuple(refused))

    def _extract(self, destination: Path) -> list[str]:
        destination.mkdir(parents=True, exist_ok=True)
        refused: list[str] = []
        for name in (MODEL_FOLDER, CHECKPOINTS_FOLDER):
            archive = self._folder / f"{name}.tar"
            if archive.is_file() and archive.stat().st_size:
                with tarfile.open(archive, mode="r|") as tar:
                    refused += extract_tree(tar, name, destination / name, name)
        return refused

    def _failure_reason(self) -> str | None:
        outcome = self._reader.outcome
        if outcome.failure:
            return outcome.failure
        if self._cluster_failure:
            return self._cluster_failure
        if outcome.done:
            return None
        if self._ray_message:
            return f"RayJobError: Ray job {self._ray_status}: {_first_line(self._ray_message)}"
        return f"RayJobError: the job's log ended before its outcome (Ray: {self._ray_status})"

    async def aclose(self) -> None:
        """Stop the job if it still runs, end the follow and the lease, remove what the
        job left in the object store and the received files. Idempotent."""
        if self._closed:
            return
        await finish(self._close())

    async def _close(self) -> None:
        if not self._ended.is_set():
            await self.kill()
        self._closed = True
        self._on_close(self)
        if not self._follower.done():
            self._follower.cancel()
        await asyncio.wait([self._follower])
        if self._lease is not None:
            await self._lease.aclose()
        if self._store is not None:
            keys = list(self._stored_keys.values())
            with contextlib.suppress(Exception):
                await self._store.delete(keys)
        await asyncio.to_thread(shutil.rmtree, self._folder, True)

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if not getattr(self, "_closed", True):
            _warn(
                f"Ray job {self.submission_id} was never closed (call aclose())",
                ResourceWarning,
                stacklevel=2,
            )


class LeaseRenewer:
    """The creator's side of the lease: numbered empty packages, one every few seconds,
    for as long as the execution is open (see the keeper's ``Lease``)."""

    def __init__(self, dashboard: RayDashboard, prefix: str, renew_seconds: float) -> None:
        self._dashboard = dashboard
        self._prefix = prefix
        self._renew_seconds = renew_seconds
        self._number = 0
        self._task: asyncio.Task[None] | None = None

    def config(self, seconds: float, dashboard: str) -> dict[str, Any]:
        """The keeper's side of the lease."""
        return {
            "prefix": self._prefix,
            "seconds": seconds,
            "look_seconds": self._renew_seconds / 2,
            "dashboard": dashboard,
        }

    async def renew(self) -> None:
        """Upload the next number (pinned first, so Ray collects it later)."""
        name = f"{self._prefix}{self._number + 1}.zip"
        await self._dashboard.package_exists(name)
        await self._dashboard.upload_package(name, b"PK\x05\x06" + bytes(18))
        self._number += 1

    def start(self) -> None:
        """Renew in the background from now on."""
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._renew_seconds)
            with contextlib.suppress(DashboardUnreachableError, DashboardError):
                await self.renew()

    async def aclose(self) -> None:
        """Stop renewing."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:900] if lines else ""
