"""``JobGroup``: many jobs, local or remote, created, watched and collected under one loop."""

from __future__ import annotations

import contextlib
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Literal, TypeVar

import anyio
from anyio.abc import TaskGroup

from ._braket import DEFAULT_CONCURRENT_JOBS_QUOTA
from ._events import EventHub, GroupEvent, JobEvent
from ._quantum_job import DEFAULT_RESULTS_POLL_INTERVAL, QuantumJob
from ._retries import DEFAULT_UNREACHABLE_TIMEOUT, Retrier, check_unreachable_timeout
from ._rules import check_poll_interval
from ._shield import finish
from ._states import JobState
from ._targets import check, create_on, is_remote, next_state
from .errors import (
    ClosedError,
    ConfigurationError,
    JobFailedError,
    JobNotFoundError,
    ServiceError,
)

__all__ = ["JobGroup", "OnError", "OnExit"]

OnError = Literal["collect", "raise"]
OnExit = Literal["leave", "cancel"]
T = TypeVar("T")

# How long a create refused by the concurrent-jobs quota waits before it asks again when
# none of the group's own jobs has ended meanwhile (jobs of other programs count too).
_QUOTA_RETRY_SECONDS = (1.0, 15.0)
_QUOTA_CODE = "ServiceQuotaExceededException"
# How long cancelling a local job on the way out may take before the group goes on.
_CANCEL_SECONDS = 30.0


class JobGroup:
    """Jobs created, watched and collected together.

    ``async with JobGroup(...) as group:``; inside, ``await group.create(...)`` or
    ``group.add(job)``. Leaving the block normally waits until every job has ended.
    Leaving it early (an error, a cancel, or with ``on_error="raise"`` a failed job)
    applies ``on_exit``.

    Args:
        max_concurrent_jobs: Unfinished jobs allowed at once; ``create()`` waits for a
            slot. ``None``: no bound but the quota.
        concurrent_jobs_quota: Unfinished remote jobs per AWS session (Braket's
            concurrent hybrid jobs quota; default 5). A create that the service still
            refuses with ``ServiceQuotaExceededException`` waits and asks again with the
            same client token: it is never a failure.
        on_error: ``"collect"`` (failed jobs are results like others) or ``"raise"``
            (the first job that fails ends the block with its ``JobFailedError``).
        on_exit: What happens to jobs still running when the block is left early:
            ``"leave"`` them running, or ``"cancel"`` them (local processes and
            containers are gone when the block has been left).
        poll_interval_seconds: The pause between looks at a job's state.
        progress: The live display of the group's jobs: ``None`` shows it when standard
            output is a terminal or a notebook; ``True`` / ``False`` force it.
        unreachable_timeout: How long a job's service may fail every look at the job
            (or its create) with transient errors — throttling, 5xx answers, failed
            connections, each one retried with a growing pause and reported as a
            :class:`~braket_async.RetryEvent` — before the group stops waiting on it and
            the job ends for the group with the last error (``None``: no bound).
    """

    def __init__(
        self,
        *,
        max_concurrent_jobs: int | None = None,
        concurrent_jobs_quota: int | None = DEFAULT_CONCURRENT_JOBS_QUOTA,
        on_error: OnError = "collect",
        on_exit: OnExit = "leave",
        poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL,
        progress: bool | None = None,
        unreachable_timeout: float | None = DEFAULT_UNREACHABLE_TIMEOUT,
    ) -> None:
        for name, bound in (
            ("max_concurrent_jobs", max_concurrent_jobs),
            ("concurrent_jobs_quota", concurrent_jobs_quota),
        ):
            if bound is not None and (not isinstance(bound, int) or bound < 1):
                raise ConfigurationError(f"{name} must be a positive integer or None")
        if on_error not in ("collect", "raise"):
            raise ConfigurationError(f"on_error must be 'collect' or 'raise', not {on_error!r}")
        if on_exit not in ("leave", "cancel"):
            raise ConfigurationError(f"on_exit must be 'leave' or 'cancel', not {on_exit!r}")
        self.on_error = on_error
        self.on_exit = on_exit
        self.poll_interval_seconds = check_poll_interval(poll_interval_seconds)
        self.unreachable_timeout = unreachable_timeout
        self._retrier = Retrier(
            unreachable_timeout=check_unreachable_timeout(unreachable_timeout),
            first_pause=self.poll_interval_seconds,
            report=self._publish,
        )
        self._slots = anyio.CapacityLimiter(max_concurrent_jobs) if max_concurrent_jobs else None
        self._quota = concurrent_jobs_quota
        self._quota_slots: dict[int, anyio.CapacityLimiter] = {}
        self._hub = EventHub()
        self._jobs: list[QuantumJob] = []
        self._states: dict[QuantumJob, JobState] = {}
        self._ended: list[QuantumJob] = []
        self._done: dict[QuantumJob, anyio.Event] = {}
        self._errors: dict[QuantumJob, Exception] = {}
        self._pending = 0
        self._changed = anyio.Event()
        self._failure: Exception | None = None
        self._tasks: TaskGroup | None = None
        self._progress = progress
        self._display: contextlib.AbstractAsyncContextManager[Any] | None = None
        self._state = "new"

    # -- the block -----------------------------------------------------------------------

    async def __aenter__(self) -> JobGroup:
        if self._state != "new":
            raise ClosedError("a JobGroup can be entered once")
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        self._state = "open"
        from ._progress import progress_display

        self._display = progress_display(self, total=None, enabled=self._progress, title="jobs")
        await self._display.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._tasks is not None
        early = exc is not None
        if early:
            with anyio.CancelScope(shield=True):
                await finish(self._leave())
            self._tasks.cancel_scope.cancel()
        try:
            # The body's own exception is not handed on: the task group would wrap it in
            # an exception group. Its watchers raise nothing; the cancel of its scope
            # (made above, or when a job failed with on_error="raise") ends them, and the
            # body's exception, or the failure below, propagates unchanged.
            await self._tasks.__aexit__(None, None, None)
        finally:
            self._state = "closed"
            for job, done in self._done.items():
                if not done.is_set():  # the block was left before the job ended
                    self._errors[job] = ClosedError(
                        f"the JobGroup was left before {job.arn} ended; it was not watched on"
                    )
                    done.set()
            if self._display is not None:
                with anyio.CancelScope(shield=True):
                    await self._display.__aexit__(None, None, None)
            self._hub.close()
            self._signal()
        if self._failure is not None and self.on_error == "raise":
            if not early:
                with anyio.CancelScope(shield=True):
                    await finish(self._leave())
            raise self._failure

    async def _leave(self) -> None:
        """Apply ``on_exit`` to the jobs that have not ended."""
        if self.on_exit != "cancel":
            return
        running = [job for job in self._jobs if not self._state_of(job).is_terminal]
        async with anyio.create_task_group() as cancelling:
            for job in running:
                cancelling.start_soon(_cancel_quietly, job)

    def _state_of(self, job: QuantumJob) -> JobState:
        return self._states.get(job, JobState.QUEUED)

    # -- adding jobs ---------------------------------------------------------------------

    async def create(
        self,
        device: str,
        source_module: str | os.PathLike[str],
        *,
        target: object = "process",
        admit: Callable[[], None] | None = None,
        **options: Any,
    ) -> QuantumJob:
        """Create a job on ``target`` with the target's ``create()`` arguments, once a
        slot is free; the group watches it from then on.

        Args:
            device: As for the target's ``create()``.
            source_module: As for the target's ``create()``.
            target: ``"process"`` (default), ``"docker"``, a ``JobRuntime`` or an
                ``AwsSession``.
            admit: Called once the job's slot is held, just before the create; what it
                raises stops the create (a sweep's billing limit does so).
            options: Every other argument of the target's ``create()``
                (``LocalQuantumJob.create`` or ``AwsQuantumJob.create``).

        Raises:
            ClosedError: The block is not open.
            ConfigurationError, ServiceError, ...: What the target's ``create()`` raises
                (quota refusals excepted: they are waited out; transient errors are
                retried with the same client token for up to ``unreachable_timeout``).
        """
        self._check_open()
        check(target)
        self._pending += 1
        try:
            slot = await self._take_slot(target)
            try:
                if admit is not None:
                    admit()
                job = await self._create(target, device, source_module, options)
            except BaseException:
                await slot.release()
                raise
        finally:
            self._pending -= 1
            self._signal()
        self._watch(job, slot)
        return job

    def add(self, job: QuantumJob) -> QuantumJob:
        """Watch ``job`` (an existing handle) with the group's other jobs; it takes no
        slot."""
        self._check_open()
        self._watch(job, _Slot(()))
        return job

    async def _take_slot(self, target: object) -> _Slot:
        limiters = []
        if self._slots is not None:
            limiters.append(self._slots)
        if is_remote(target) and self._quota is not None:
            limiters.append(
                self._quota_slots.setdefault(id(target), anyio.CapacityLimiter(self._quota))
            )
        slot = _Slot(limiters)
        await slot.acquire()
        return slot

    async def _create(
        self, target: object, device: str, source: str | os.PathLike[str], options: dict[str, Any]
    ) -> QuantumJob:
        if not is_remote(target):
            return await create_on(target, device, source, **options)
        # Every attempt is the same create: a refused one made no job, a repeated one
        # returns the job it made.
        options.setdefault("client_token", str(uuid.uuid4()))
        name = options.get("job_name")
        attempt = 0
        while True:
            try:
                return await self._retrier.run(
                    lambda: create_on(target, device, source, **options),
                    operation="create",
                    job_name=name if isinstance(name, str) else None,
                )
            except ServiceError as error:
                if error.code != _QUOTA_CODE:
                    raise
            attempt += 1
            await self._wait_for_an_end(_quota_pause(attempt))

    async def retry(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        operation: str,
        job: QuantumJob | None = None,
        job_name: str | None = None,
    ) -> T:
        """``await call()`` as the group makes its own calls about jobs: a transient
        error (throttling, a 5xx answer, a failed connection) is tried again after a
        growing pause and reported as a :class:`~braket_async.RetryEvent` on
        :meth:`events`; after ``unreachable_timeout`` of failures the last error is
        raised. Other errors are raised at once.

        Args:
            call: Makes the call (called again for each attempt).
            operation: What the events call it.
            job: The job it is about, if any.
            job_name: The job's name, if there is no job yet.
        """
        return await self._retrier.run(call, operation=operation, job=job, job_name=job_name)

    def _publish(self, event: GroupEvent) -> None:
        self._hub.publish(event)

    async def _wait_for_an_end(self, at_most_seconds: float) -> None:
        ended = len(self._ended)
        with anyio.move_on_after(at_most_seconds):
            while len(self._ended) == ended:
                await self._changed.wait()

    def _watch(self, job: QuantumJob, slot: _Slot) -> None:
        assert self._tasks is not None
        self._jobs.append(job)
        self._done[job] = anyio.Event()
        self._signal()
        self._tasks.start_soon(self._follow, job, slot, name=f"watching {job.arn}")

    async def _follow(self, job: QuantumJob, slot: _Slot) -> None:
        old: JobState | None = None
        error: Exception | None = None
        try:
            while True:
                try:
                    new = await self._retrier.run(
                        lambda: next_state(job, self.poll_interval_seconds),
                        operation="watch",
                        job=job,
                    )
                except JobNotFoundError as exc:
                    error = JobNotFoundError(
                        f"{exc} (it vanished while the group waited on it, last seen "
                        f"{old.value if old is not None else 'never'})"
                    )
                    error.__cause__ = exc
                    break
                except Exception as exc:  # retried as long as it made sense: the outcome
                    error = exc
                    break
                if new is not old:
                    self._states[job] = new
                    self._hub.publish(JobEvent(job, old, new, time.time()))
                    old = new
                if new.is_terminal:
                    break
        finally:
            await slot.release()
        if error is not None:
            self._errors[job] = error
        self._ended.append(job)
        self._done[job].set()
        if old is not JobState.COMPLETED and self._failure is None and self.on_error == "raise":
            if error is None:
                try:
                    reason = (await job.metadata(use_cached_value=True)).get("failureReason")
                except Exception:  # the reason is a nicety; the failure is raised regardless
                    reason = None
                state = old.value if old is not None else "UNKNOWN"
                error = JobFailedError(job.arn, state, reason)
            self._failure = error
            assert self._tasks is not None
            self._tasks.cancel_scope.cancel()
        self._signal()

    def _signal(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _check_open(self) -> None:
        if self._state != "open":
            raise ClosedError("the JobGroup is not open: use it inside `async with`")

    # -- reading -------------------------------------------------------------------------

    @property
    def jobs(self) -> list[QuantumJob]:
        """The group's jobs, in the order they were added."""
        return list(self._jobs)

    def state_counts(self) -> dict[JobState, int]:
        """How many of the group's jobs are in each state, as last seen."""
        counts: dict[JobState, int] = {}
        for job in self._jobs:
            state = self._state_of(job)
            counts[state] = counts.get(state, 0) + 1
        return counts

    def events(self) -> AsyncIterator[GroupEvent]:
        """What happens to the group's jobs from now on, until the block is left: every
        state change (:class:`~braket_async.JobEvent`), and every call about a job that
        failed and is tried again, or given up (:class:`~braket_async.RetryEvent`)."""
        return self._hub.subscribe()

    def end_events(self) -> None:
        """End every :meth:`events` iteration after the events it holds (leaving the
        block does so too)."""
        self._hub.close()

    async def as_completed(self) -> AsyncIterator[QuantumJob]:
        """The group's jobs as they end (jobs added meanwhile too), until every job has
        ended and no ``create()`` is under way."""
        given = 0
        while True:
            while given < len(self._ended):
                given += 1
                yield self._ended[given - 1]
            if self._pending == 0 and len(self._ended) == len(self._jobs):
                return
            if self._state == "closed":
                return
            await self._changed.wait()

    async def wait(self, job: QuantumJob) -> JobState:
        """Wait until the group has seen ``job`` end; its final state.

        Raises:
            ConfigurationError: ``job`` is not one of the group's.
            JobNotFoundError: The job vanished while the group watched it.
            ServiceError: Its state could not be read: the error of the last look, after
                ``unreachable_timeout`` of transient errors, or a lasting one.
        """
        done = self._done.get(job)
        if done is None:
            raise ConfigurationError(f"{job.arn} is not a job of this group")
        await done.wait()
        error = self._errors.get(job)
        if error is not None:
            raise error
        return self._states[job]

    async def results(self, *, allow_pickle: bool = False) -> list[dict[str, Any] | BaseException]:
        """Wait for every job; their results in the order they were added.

        With ``on_error="collect"`` a job that did not complete gives its error in its
        place (a ``JobFailedError``, or why its end could not be seen: see :meth:`wait`);
        with ``"raise"`` the first one is raised.
        """
        async for _ in self.as_completed():
            pass
        results: list[dict[str, Any] | BaseException] = []
        for job in self._jobs:
            try:
                watch_error = self._errors.get(job)
                if watch_error is not None:
                    raise watch_error
                results.append(await job.result(allow_pickle=allow_pickle))
            except JobFailedError as error:
                if self.on_error == "raise":
                    raise
                results.append(error)
            except Exception as error:
                if self.on_error == "raise" or job not in self._errors:
                    raise
                results.append(error)
        return results


class _Slot:
    """The places one job holds (a group bound, a quota), released once."""

    def __init__(self, limiters: Iterable[anyio.CapacityLimiter]) -> None:
        self._limiters = list(limiters)
        self._held: list[anyio.CapacityLimiter] = []
        self._token = object()

    async def acquire(self) -> None:
        try:
            for limiter in self._limiters:
                await limiter.acquire_on_behalf_of(self._token)
                self._held.append(limiter)
        except BaseException:
            await self.release()
            raise

    async def release(self) -> None:
        held, self._held = self._held, []
        for limiter in held:
            limiter.release_on_behalf_of(self._token)


def _quota_pause(attempt: int) -> float:
    low, high = _QUOTA_RETRY_SECONDS
    return random.uniform(low, min(high, low * 2**attempt))


async def _cancel_quietly(job: QuantumJob) -> None:
    from .local import LocalQuantumJob

    # A local job's processes or container are gone when its cancel(wait=True) returns;
    # a remote job stops on the service's time.
    local = isinstance(job, LocalQuantumJob)
    with anyio.move_on_after(_CANCEL_SECONDS):
        with contextlib.suppress(Exception):  # leaving the block goes on for the others
            await job.cancel(wait=local, poll_interval_seconds=0.2)
