"""The seam between the emulated API and what runs a job.

The service owns each job's life: it calls :meth:`JobRunner.run` in a task of its own,
cancels that task for CancelJob or when ``maxRuntimeInSeconds`` runs out, and records
the outcome. A runner only does the work and reports progress through the
:class:`JobControl` it is given. :class:`FakeRunner` runs no code, for fast tests of the
API layer; :class:`~braket_async.emulator.RuntimeJobRunner` runs jobs for real.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .._states import JobState
from ._jobs import JobRecord

__all__ = ["BoundedRunner", "FakeRunner", "JobControl", "JobRunner"]


class JobControl:
    """A runner's view of one job: what was asked, and how to report progress.

    Attributes:
        arn: The job's ARN.
        name: The job's name.
        uuid: The UUID at the end of the ARN.
        request: A copy of the CreateJob input (wire names, camelCase).
        region: The emulated region.
        service_url: The emulator's endpoint URL, for jobs that call Braket.
        job_token: The job's ``AMZN_BRAKET_JOB_TOKEN``, which ties the quantum tasks it
            creates to it.
    """

    def __init__(
        self,
        record: JobRecord,
        *,
        region: str,
        service_url: str,
        on_change: Callable[[JobRecord], None],
    ) -> None:
        self._record = record
        self._on_change = on_change
        self.arn = record.arn
        self.name = record.name
        self.uuid = record.uuid
        self.request: dict[str, Any] = copy.deepcopy(record.request)
        self.region = region
        self.service_url = service_url
        self.job_token = record.job_token

    @property
    def instance_count(self) -> int:
        """``instanceConfig.instanceCount`` (default 1)."""
        return int(self.request.get("instanceConfig", {}).get("instanceCount", 1))

    def started(self) -> None:
        """The job left the queue: it is RUNNING, and its runtime limit starts now."""
        if self._record.status is JobState.QUEUED:
            self._record.start()
            self._record.add_event("STARTING_INSTANCE")
            self._on_change(self._record)

    def event(self, event_type: str, message: str | None = None) -> None:
        """Record an event (a ``JobEventType`` of the model, e.g. ``DOWNLOADING_DATA``)."""
        self._record.add_event(event_type, message)
        self._on_change(self._record)


class JobRunner(Protocol):
    """Runs jobs for the emulator."""

    async def run(self, job: JobControl) -> str | None:
        """Run the job to its end; return ``None`` if it succeeded, else the reason.

        Call ``job.started()`` when the job leaves the queue. The service cancels the
        call to stop the job (CancelJob, runtime limit); the runner then stops the work,
        keeps what the job saved, and lets the cancellation propagate.
        """
        ...

    async def aclose(self) -> None:
        """Free what the runner holds. Idempotent."""
        ...


@runtime_checkable
class BoundedRunner(JobRunner, Protocol):
    """A runner with a bound on running jobs that can change while it runs them."""

    @property
    def max_concurrent_jobs(self) -> int | None:
        """How many jobs run at once; ``None`` for no bound."""
        ...

    def set_max_concurrent_jobs(self, limit: int | None) -> None:
        """Change the bound; queued jobs that now fit start."""
        ...


class FakeRunner:
    """A runner that runs no code: jobs start and end when told to, or at once.

    Args:
        auto_start: Start each job as soon as it is created; otherwise it stays QUEUED
            until :meth:`start`.
        auto_finish: End each started job at once with ``failure_reason``; otherwise it
            stays RUNNING until :meth:`finish`.
        failure_reason: The outcome of jobs ended automatically (``None``: COMPLETED).
    """

    def __init__(
        self,
        *,
        auto_start: bool = True,
        auto_finish: bool = True,
        failure_reason: str | None = None,
    ) -> None:
        self.auto_start = auto_start
        self.auto_finish = auto_finish
        self.failure_reason = failure_reason
        self._starts: dict[str, asyncio.Event] = {}
        self._ends: dict[str, asyncio.Future[str | None]] = {}

    def _start_gate(self, arn: str) -> asyncio.Event:
        return self._starts.setdefault(arn, asyncio.Event())

    def _end_gate(self, arn: str) -> asyncio.Future[str | None]:
        if arn not in self._ends:
            self._ends[arn] = asyncio.get_running_loop().create_future()
        return self._ends[arn]

    def start(self, arn: str) -> None:
        """Let a queued job start."""
        self._start_gate(arn).set()

    def finish(self, arn: str, failure_reason: str | None = None) -> None:
        """End a running (or not yet started) job: COMPLETED, or FAILED with the reason."""
        gate = self._end_gate(arn)
        if not gate.done():
            gate.set_result(failure_reason)

    async def run(self, job: JobControl) -> str | None:
        """Wait for the start and end signals (or not), reporting progress."""
        if not self.auto_start:
            await self._start_gate(job.arn).wait()
        job.started()
        job.event("RUNNING")
        if self.auto_finish:
            return self.failure_reason
        return await self._end_gate(job.arn)

    async def aclose(self) -> None:
        """Nothing to free."""
