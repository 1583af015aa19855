"""One sweep's points: each one's job created, or found again through the manifest and
its client token, awaited through the group, and collected into a :class:`SweepPoint`."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any

import anyio
import attrs

from ._braket import CLIENT_TOKEN_TAG
from ._group import JobGroup, OnError
from ._manifest import Manifest, PointEntry
from ._quantum_job import QuantumJob
from ._states import JobState
from ._targets import attach, is_remote
from .errors import BillingLimitError, ConfigurationError, JobNotFoundError

__all__ = ["SweepPoint", "SweepRun"]

# Looks at jobs under way at once (see SweepRun.looks).
_LOOKS = 100


@attrs.frozen
class SweepPoint:
    """One point of a sweep, as it ended.

    Attributes:
        index: Its place in the sweep's input.
        hyperparameters: Its hyperparameters, as given.
        job: Its job (``None`` when none was created).
        state: The job's final state, or ``None`` without a job.
        result: What the job saved with ``save_job_result`` when it COMPLETED.
        error: Why there is no result: a ``JobFailedError``, the error its create
            raised, or a ``BillingLimitError``.
        billable_seconds: The job's ``billableDuration`` in seconds (remote jobs).
    """

    index: int
    hyperparameters: dict[str, Any]
    job: QuantumJob | None = None
    state: JobState | None = None
    result: dict[str, Any] | None = None
    error: BaseException | None = None
    billable_seconds: float | None = None

    @property
    def ok(self) -> bool:
        """Whether the point's job completed."""
        return self.state is JobState.COMPLETED


@attrs.define
class SweepRun:
    """The points of one sweep, each created or attached, awaited and collected."""

    source: str | os.PathLike[str]
    target: object
    device: str
    prefix: str
    manifest: Manifest | None
    root: Any
    options: dict[str, Any]
    max_billable_seconds: float | None
    allow_pickle: bool
    on_error: OnError
    results: list[SweepPoint] = attrs.Factory(list)
    group: JobGroup | None = None
    display: Any = None
    running: anyio.CancelScope | None = None
    failure: Exception | None = None
    billed: float = 0.0
    # Looks at jobs (a resumed point's attach, a result's read) under way at once: a
    # rerun of a finished sweep of N points would otherwise read N records at a time.
    looks: anyio.CapacityLimiter = attrs.Factory(lambda: anyio.CapacityLimiter(_LOOKS))

    async def point(self, index: int, hyperparameters: dict[str, Any]) -> None:
        """Run point ``index`` to its end; whatever goes wrong is the point's error."""
        try:
            await self._run(index, hyperparameters)
        except BillingLimitError as exc:
            self._set(index, error=exc)
        except Exception as exc:
            self._set(index, error=exc)
        error = self.results[index].error
        if (
            isinstance(error, Exception)
            and not isinstance(error, BillingLimitError)
            and self.on_error == "raise"
            and self.failure is None
        ):
            self.failure = error
            assert self.running is not None
            self.running.cancel()

    async def _run(self, index: int, hyperparameters: dict[str, Any]) -> None:
        assert self.group is not None
        recorded = self.manifest.entries[index] if self.manifest is not None else None
        entry = attrs.evolve(recorded) if recorded is not None else None
        job = None
        if entry is not None:
            async with self.looks:
                job = await self._existing_job(index, entry)
        while True:
            attached = job is not None
            if job is not None:
                self.group.add(job)
            else:
                entry = self._next_entry(index, entry)
                job = await self._create(index, entry, hyperparameters)
            self.results[index] = attrs.evolve(self.results[index], job=job)
            state = await self.group.wait(job)
            if (
                attached
                and entry is not None
                and not is_remote(self.target)
                and self._died_with_a_sweep(await job.metadata())
            ):
                entry.attempt += 1  # a job of the crashed sweep that ended with it
                entry.arn = None
                job = None
                continue
            break
        async with self.looks:
            await self._collect(index, job, state)

    def _admit(self) -> None:
        """Raise :class:`BillingLimitError` once the finished points used the budget."""
        if self.max_billable_seconds is not None and self.billed >= self.max_billable_seconds:
            raise BillingLimitError(
                f"not created: the sweep's finished points were billed {self.billed:g} s of "
                f"max_billable_seconds={self.max_billable_seconds:g}"
            )

    def _died_with_a_sweep(self, metadata: Mapping[str, Any]) -> bool:
        """Whether a local job ended with the program that made it (a crashed sweep)."""
        if is_remote(self.target):
            return False
        from .local._folder import died_with_its_owner

        status = metadata.get("status")
        return status == JobState.CANCELLED.value or (
            status == JobState.FAILED.value and died_with_its_owner(metadata.get("failureReason"))
        )

    async def _existing_job(self, index: int, entry: PointEntry) -> QuantumJob | None:
        """The job a manifest's entry stands for, if it exists and is the point's own;
        ``None`` when the point's job is to be created (again).

        Raises:
            ConfigurationError: A job of the entry's name or ARN exists, and it is not the
                point's (it carries another client token).
        """
        assert self.group is not None
        remote = is_remote(self.target)
        if remote and entry.arn is None:
            return None  # a create whose answer was not recorded: repeat it, same token
        from .local._folder import ARN_PREFIX

        # A local job's name is its ARN: a create that was cut short may have made it.
        arn = entry.arn if entry.arn is not None and remote else ARN_PREFIX + entry.job_name

        async def look() -> tuple[QuantumJob, dict[str, Any]]:
            job = attach(self.target, arn, root=self.root)
            return job, await job.metadata()

        try:
            job, metadata = await self.group.retry(
                look, operation="attach", job_name=entry.job_name
            )
        except JobNotFoundError:
            return None  # never made (or gone): create it, with the same token
        died = self._died_with_a_sweep(metadata)
        # A creator that died before it wrote the job's record left a job that never ran
        # and says nothing of who made it: perhaps this point, in the crashed sweep.
        if not (died and "createdAt" not in metadata):
            _check_own_job(index, entry, job, metadata)
        if died:
            entry.attempt += 1  # the job died with a sweep: run the point again
            entry.arn = None
            return None
        if entry.arn != job.arn and self.manifest is not None:
            # Made by a create whose answer was not recorded before a crash.
            entry.arn = job.arn
            await self.manifest.record(index, entry, durable=False)
        return job

    def _next_entry(self, index: int, entry: PointEntry | None) -> PointEntry:
        if entry is None:
            return PointEntry(job_name=f"{self.prefix}-{index}", client_token=str(uuid.uuid4()))
        if entry.attempt and entry.arn is None and not is_remote(self.target):
            return PointEntry(
                job_name=f"{self.prefix}-{index}-r{entry.attempt}",
                client_token=str(uuid.uuid4()),
                attempt=entry.attempt,
            )
        return entry

    async def _create(
        self, index: int, entry: PointEntry, hyperparameters: dict[str, Any]
    ) -> QuantumJob:
        """Create the point's job; with a manifest, its name and client token are on disk
        before, its ARN recorded after."""
        assert self.group is not None
        if self.manifest is not None:
            await self.manifest.record(index, entry)
        job = await self.group.create(
            self.device,
            self.source,
            target=self.target,
            admit=self._admit,
            job_name=entry.job_name,
            hyperparameters=hyperparameters,
            client_token=entry.client_token,
            **self.options,
        )
        if self.manifest is not None:
            # Not waited for: a rerun finds the job by its token without it.
            await self.manifest.record(index, attrs.evolve(entry, arn=job.arn), durable=False)
        return job

    async def _collect(self, index: int, job: QuantumJob, state: JobState) -> None:
        assert self.group is not None
        metadata = await self.group.retry(
            lambda: job.metadata(use_cached_value=True), operation="collect", job=job
        )
        billable = metadata.get("billableDuration")
        seconds = billable / 1000 if isinstance(billable, (int, float)) else None
        if seconds is not None:
            self.billed += seconds
        result: dict[str, Any] | None = None
        error: BaseException | None = None
        try:
            result = await self.group.retry(
                lambda: job.result(allow_pickle=self.allow_pickle), operation="collect", job=job
            )
        except Exception as exc:  # a failed job, or an unreadable result: this point's error
            error = exc
        self._set(index, job=job, state=state, result=result, error=error, billable_seconds=seconds)

    def _set(self, index: int, **fields: Any) -> None:
        self.results[index] = attrs.evolve(self.results[index], **fields)
        if self.display is not None:
            self.display.point_done(self.results[index])


def _check_own_job(
    index: int, entry: PointEntry, job: QuantumJob, metadata: Mapping[str, Any]
) -> None:
    """Raise :class:`ConfigurationError` unless ``job`` carries the entry's client token."""
    tags = metadata.get("tags") or {}
    token = tags.get(CLIENT_TOKEN_TAG) if isinstance(tags, Mapping) else None
    if token == entry.client_token:
        return
    carries = "another client token" if token else "no client token of a sweep"
    raise ConfigurationError(
        f"point {index}: the job {job.name!r} ({job.arn}) is not this point's job: it "
        f"carries {carries}, so another sweep or program made it. The point was not run "
        "(and that job is not its result): use another job_name_prefix or root, or "
        "remove that job and run the sweep again"
    )
