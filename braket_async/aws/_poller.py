"""``JobPoller``: one task per session that waits on every awaited job.

Polling each of hundreds of jobs with GetJob every few seconds is over Braket's quotas
(GetJob: 5 calls/s). The poller instead asks SearchJobs for the states of all watched
jobs in batches, and calls GetJob only for a job that reached a final state (its full
metadata, ``failureReason`` included, is what a waiter gets) or that SearchJobs did not
answer for. Each cycle asks SearchJobs whichever way needs fewer calls:

* **by ARN**: one ``jobArn EQUAL`` filter of up to 10 ARNs per call;
* **by creation time**: one ``createdAt BETWEEN`` window from the oldest to the newest
  watched job, read 100 summaries a page. The window also returns jobs nobody watches;
  they are remembered, so the next cycle knows what the window costs. A scan that turns
  out dearer than asking by ARN is cut short and finished by ARN, so a cycle never costs
  more than twice the by-ARN price.

Jobs whose creation time is unknown (no hint, never seen) are always asked by ARN.
Throttling and transient errors never fail a wait: a call is retried a few times with
jittered backoff (through :meth:`AwsSession.call`, which also applies the client-side
rate limits), and what is still unanswered is asked again next cycle. A persistent
error (access denied, a malformed ARN) fails the waiters of the job it concerns.

All timing goes through ``session.clock``, so tests run the poller on virtual time.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import math
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import attrs

from .._rules import check_poll_interval, check_poll_timeout
from .._states import JobState
from ..errors import (
    ClosedError,
    JobTimeoutError,
    ServiceError,
)
from ._errors import is_transient, job_not_found
from ._throttle import Clock, RetryPolicy
from ._times import service_time

__all__ = ["BraketCaller", "JobPoller"]


class BraketCaller(Protocol):
    """What the poller needs of a session: its calls, its clock and its retry policy
    (:class:`~braket_async.aws.AwsSession` is one)."""

    clock: Clock
    retry: RetryPolicy

    async def call(
        self, service: str, operation: str, *, retry: RetryPolicy | None = None, **params: Any
    ) -> dict[str, Any]:
        """Call ``operation`` of ``service`` within its rate limit, retried per ``retry``."""
        ...


_TERMINAL = frozenset(state.value for state in JobState if state.is_terminal)
#: SearchJobsFilter takes at most 10 values; a page holds at most 100 summaries.
_ARNS_PER_SEARCH = 10
_PAGE_SIZE = 100
#: Widens the createdAt window on both sides: the service shows times to the millisecond
#: and a caller's hint may come from another clock. A job that still falls outside is
#: looked up with GetJob, whose answer corrects its creation time.
_WINDOW_SLACK = datetime.timedelta(seconds=1)
#: Attempts per call within one cycle; what still fails is asked again next cycle, so
#: that a throttled cycle ends and the per-waiter timeouts are checked.
_ATTEMPTS_PER_CYCLE = 4
_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})


@attrs.define(eq=False)
class _Waiter:
    """One ``wait_until_done`` call."""

    arn: str
    future: asyncio.Future[dict[str, Any]]
    interval: float
    timeout: float
    deadline: float


@attrs.define(eq=False)
class _Watch:
    """A job that at least one waiter waits on."""

    waiters: set[_Waiter] = attrs.Factory(set)
    #: Not looked at yet: due at once rather than at the next regular cycle.
    fresh: bool = True
    #: SearchJobs failed for the job last cycle (transiently): GetJob if it fails again.
    skipped: bool = False


@attrs.define
class _SearchOutcome:
    """What one cycle's SearchJobs calls learnt about the jobs asked for."""

    #: Jobs whose summary came back.
    found: set[str] = attrs.Factory(set)
    #: Jobs whose calls failed transiently: asked again next cycle, not looked up now.
    skipped: set[str] = attrs.Factory(set)


class JobPoller:
    """Waits on any number of Braket jobs with one polling task and batched calls.

    Get it as ``session.poller``: the session makes one and closes it with itself. The
    polling task starts with the first waiter and ends when none remain. A cycle starts
    the smallest ``poll_interval_seconds`` of the current waiters after the previous one
    ended; a job that starts being awaited is looked at right away (waits that start
    together share that first look). Timeouts are checked between cycles, so under heavy
    throttling one may be noticed a little late.

    Args:
        session: The session whose calls, rate limits and clock the poller uses.
    """

    def __init__(self, session: BraketCaller) -> None:
        self._session = session
        self._watches: dict[str, _Watch] = {}
        self._status: dict[str, str] = {}
        self._metadata: dict[str, dict[str, Any]] = {}
        self._created: dict[str, datetime.datetime] = {}
        # The transient error of the last look at a job, until a look gets an answer.
        self._unanswered: dict[str, Exception] = {}
        # Jobs nobody waits on, seen in createdAt windows (or awaited before): what a
        # window over them costs.
        self._others: dict[str, datetime.datetime] = {}
        # A window scan cut short saw nothing older than this: a window reaching below
        # it is known to be dear.
        self._dense_below: datetime.datetime | None = None
        self._windows_refused = False
        self._search_denied = False
        self._last_full = -math.inf
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        base = session.retry
        self._retry = RetryPolicy(
            max_attempts=_ATTEMPTS_PER_CYCLE, base_delay=base.base_delay, max_delay=base.max_delay
        )

    # -- public ----------------------------------------------------------------------

    async def wait_until_done(
        self,
        arn: str,
        *,
        created_at: datetime.datetime | None = None,
        poll_interval_seconds: float = 5,
        poll_timeout_seconds: float = 864000,
    ) -> dict[str, Any]:
        """Wait until the job is COMPLETED, FAILED or CANCELLED.

        Cancelling this call stops only this wait; other waits, on the same job or
        others, go on.

        Args:
            arn: The job's ARN.
            created_at: When the job was created, if known: lets the poller ask for it
                in a creation-time window at once.
            poll_interval_seconds: The longest pause between two looks at the job.
            poll_timeout_seconds: How long to wait at most.

        Returns:
            The job's GetJob metadata (the response without ``ResponseMetadata``).

        Raises:
            JobTimeoutError: ``poll_timeout_seconds`` passed first.
            JobNotFoundError: The service has no such job.
            ServiceError: The service refused to tell (e.g. access denied).
            ClosedError: The poller (or its session) was closed.
            ConfigurationError: The interval is not a finite number above 0, or the
                timeout is negative or NaN.
        """
        if self._closed:
            raise ClosedError("this JobPoller was closed")
        check_poll_interval(poll_interval_seconds)
        check_poll_timeout(poll_timeout_seconds)
        cached = self._metadata.get(arn)
        if cached is not None and cached.get("status") in _TERMINAL:
            return copy.deepcopy(cached)
        if created_at is not None:
            self._created.setdefault(arn, _utc(created_at))
        self._others.pop(arn, None)
        clock = self._session.clock
        waiter = _Waiter(
            arn=arn,
            future=asyncio.get_running_loop().create_future(),
            interval=float(poll_interval_seconds),
            timeout=float(poll_timeout_seconds),
            deadline=clock.now() + poll_timeout_seconds,
        )
        self._watches.setdefault(arn, _Watch()).waiters.add(waiter)
        self._changed()
        try:
            return await waiter.future
        finally:
            self._forget(waiter)

    def cached_metadata(self, arn: str) -> dict[str, Any] | None:
        """The last GetJob metadata the poller read for the job, or ``None``."""
        metadata = self._metadata.get(arn)
        return copy.deepcopy(metadata) if metadata is not None else None

    def look_failed(self, arn: str) -> Exception | None:
        """The transient error (throttling, 5xx, a failed connection) of the last look
        at the job, or ``None`` if it got an answer: waits go on regardless, and this is
        how a watcher learns that they wait on a service that does not answer."""
        return self._unanswered.get(arn)

    def cached_status(self, arn: str) -> str | None:
        """The last status the poller saw for the job (GetJob or SearchJobs), or ``None``."""
        return self._status.get(arn)

    async def aclose(self) -> None:
        """Stop the polling task; pending waits raise :class:`ClosedError`. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for arn in list(self._watches):
            self._settle(arn, lambda: ClosedError("the job poller was closed"))
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            # Not ``await task``: that would turn the caller's own cancellation into
            # the task's.
            await asyncio.wait({task})

    # -- waiters ---------------------------------------------------------------------

    def _changed(self) -> None:
        """Waiters came or went: let the polling task replan, starting it if needed."""
        self._wakeup.set()
        if self._watches and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="braket_async job poller"
            )

    def _forget(self, waiter: _Waiter) -> None:
        watch = self._watches.get(waiter.arn)
        if watch is not None and waiter in watch.waiters:
            watch.waiters.discard(waiter)
            if not watch.waiters:
                self._unwatch(waiter.arn)
        if waiter.future.done() and not waiter.future.cancelled():
            # Cancelled just as it was answered: mark the error as seen.
            waiter.future.exception()
        if not self._closed:
            self._changed()

    def _unwatch(self, arn: str) -> None:
        del self._watches[arn]
        created = self._created.get(arn)
        if created is not None:
            self._others[arn] = created  # still there for the windows of other jobs

    def _resolve(self, arn: str, metadata: dict[str, Any]) -> None:
        watch = self._watches.get(arn)
        if watch is None:
            return
        self._unwatch(arn)
        for waiter in watch.waiters:
            if not waiter.future.done():
                waiter.future.set_result(copy.deepcopy(metadata))

    def _settle(self, arn: str, error: Callable[[], BaseException]) -> None:
        """Fail every wait on ``arn`` with a fresh ``error()``."""
        watch = self._watches.get(arn)
        if watch is None:
            return
        self._unwatch(arn)
        for waiter in watch.waiters:
            if not waiter.future.done():
                waiter.future.set_exception(error())

    def _expire(self) -> None:
        now = self._session.clock.now()
        for arn, watch in list(self._watches.items()):
            for waiter in [w for w in watch.waiters if w.deadline <= now]:
                watch.waiters.discard(waiter)
                if not waiter.future.done():
                    waiter.future.set_exception(JobTimeoutError(arn, waiter.timeout))
            if not watch.waiters:
                self._unwatch(arn)

    # -- the polling task ----------------------------------------------------------

    def _interval(self) -> float:
        return min(waiter.interval for watch in self._watches.values() for waiter in watch.waiters)

    def _due(self) -> list[str]:
        """The jobs to look at now: all of them when a cycle is due, else the fresh."""
        if not self._watches:
            return []
        if self._session.clock.now() >= self._last_full + self._interval():
            return list(self._watches)
        return [arn for arn, watch in self._watches.items() if watch.fresh]

    def _next_wake(self) -> float:
        deadline = min(
            waiter.deadline for watch in self._watches.values() for waiter in watch.waiters
        )
        return min(self._last_full + self._interval(), deadline)

    async def _run(self) -> None:
        try:
            while True:
                self._wakeup.clear()
                due = self._due()
                if due:
                    await self._cycle(due)
                self._expire()
                if not self._watches:
                    return
                if due:
                    continue  # waiters that came during the cycle may be due already
                delay = self._next_wake() - self._session.clock.now()
                if delay > 0:
                    await self._nap(delay)
        except Exception as exc:
            # A bug, not a service answer (those are handled per job): fail the waits
            # rather than leave them hanging.
            failure = exc
            for arn in list(self._watches):
                self._settle(arn, lambda: failure)

    async def _nap(self, delay: float) -> None:
        """Sleep ``delay`` seconds on the session's clock, or until waiters change."""
        sleeper = asyncio.ensure_future(self._session.clock.sleep(delay))
        woken = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            woken.cancel()
        if sleeper.done() and not sleeper.cancelled():
            sleeper.result()  # a clock that fails is a bug worth seeing

    async def _cycle(self, arns: list[str]) -> None:
        full = len(arns) == len(self._watches)
        for arn in arns:
            self._watches[arn].fresh = False
        # A job seen final (its GetJob failed last time) needs no search, only GetJob.
        lookups = [arn for arn in arns if self._status.get(arn) in _TERMINAL]
        search = [arn for arn in arns if self._status.get(arn) not in _TERMINAL]
        outcome = await self._search(search) if search else _SearchOutcome()
        for arn in search:
            watch = self._watches.get(arn)
            if arn in outcome.skipped:
                # Throttled or failing: wait for the next cycle, but not forever, or an
                # outage of SearchJobs alone would stall every wait.
                if watch is not None and watch.skipped:
                    lookups.append(arn)
                    watch.skipped = False
                elif watch is not None:
                    watch.skipped = True
                continue
            if watch is not None:
                watch.skipped = False
            if arn not in outcome.found or self._status.get(arn) in _TERMINAL:
                lookups.append(arn)
        await asyncio.gather(*(self._look_up(arn) for arn in lookups if arn in self._watches))
        if full:
            self._last_full = self._session.clock.now()

    # -- SearchJobs ----------------------------------------------------------------

    async def _search(self, arns: list[str]) -> _SearchOutcome:
        """The states of ``arns`` from SearchJobs, by creation window or by ARN."""
        outcome = _SearchOutcome()
        if self._search_denied:
            return outcome
        known = [arn for arn in arns if arn in self._created]
        by_arn = [arn for arn in arns if arn not in self._created]
        if known:
            # Pages the window may take and still be strictly cheaper than by ARN.
            budget = _calls(len(by_arn) + len(known)) - _calls(len(by_arn)) - 1
            times = [self._created[arn] for arn in known]
            low, high = min(times) - _WINDOW_SLACK, max(times) + _WINDOW_SLACK
            if budget >= 1 and self._window_pages(low, high, len(known)) <= budget:
                missing = await self._scan_window(low, high, set(known), budget, outcome)
                by_arn += missing
            else:
                by_arn += known
        batches = _chunks(by_arn, _ARNS_PER_SEARCH)
        await asyncio.gather(*(self._search_arns(batch, outcome) for batch in batches))
        return outcome

    def _window_pages(self, low: datetime.datetime, high: datetime.datetime, watched: int) -> float:
        """The pages a createdAt window is expected to take (optimistic where unseen)."""
        if self._windows_refused or (self._dense_below is not None and low < self._dense_below):
            return math.inf
        for arn, created in list(self._others.items()):
            if created < low:
                del self._others[arn]  # below every window from now on, or nearly so
        others = sum(1 for created in self._others.values() if created <= high)
        return _pages(watched + others)

    async def _scan_window(
        self,
        low: datetime.datetime,
        high: datetime.datetime,
        wanted: set[str],
        budget: int,
        outcome: _SearchOutcome,
    ) -> list[str]:
        """Read the window newest first, at most ``budget`` pages; return the wanted
        jobs still to be asked by ARN."""
        missing = set(wanted)
        params: dict[str, Any] = {
            "filters": [
                {
                    "name": "createdAt",
                    "operator": "BETWEEN",
                    "values": [service_time(low), service_time(high)],
                }
            ],
            "maxResults": _PAGE_SIZE,
        }
        oldest: datetime.datetime | None = None
        for _ in range(budget):
            try:
                page = await self._call("search_jobs", **params)
            except Exception as exc:
                if is_transient(exc):
                    outcome.skipped.update(missing)
                    self._unanswered.update(dict.fromkeys(missing, exc))
                    return []
                # A window the service does not take (say, a time format it refuses)
                # is never tried again; asking by ARN still works.
                self._windows_refused = True
                return sorted(missing)
            for summary in page.get("jobs", ()):
                arn = self._note(summary)
                if arn in missing:
                    missing.discard(arn)
                    outcome.found.add(arn)
                created = self._created.get(arn)
                if created is not None and (oldest is None or created < oldest):
                    oldest = created
            token = page.get("nextToken")
            if not token or not missing:
                return []  # complete; a job the window did not return gets GetJob
            params["nextToken"] = token
        # Dearer than asking by ARN: remember where the scan stopped.
        self._dense_below = oldest if oldest is not None else high
        return sorted(missing)

    async def _search_arns(self, batch: list[str], outcome: _SearchOutcome) -> None:
        try:
            page = await self._call(
                "search_jobs",
                filters=[{"name": "jobArn", "operator": "EQUAL", "values": batch}],
                maxResults=_PAGE_SIZE,
            )
        except Exception as exc:
            if is_transient(exc):
                outcome.skipped.update(batch)
                self._unanswered.update(dict.fromkeys(batch, exc))
            elif isinstance(exc, ServiceError) and exc.code in _DENIED_CODES:
                self._search_denied = True  # GetJob alone from now on
            # Any other refusal: GetJob answers for each job, errors included.
            return
        wanted = set(batch)
        for summary in page.get("jobs", ()):
            arn = self._note(summary)
            if arn in wanted:
                outcome.found.add(arn)

    def _note(self, summary: dict[str, Any]) -> str:
        """Record a JobSummary; return its ARN."""
        arn = str(summary["jobArn"])
        self._unanswered.pop(arn, None)
        self._status[arn] = str(summary["status"])
        created = summary.get("createdAt")
        if isinstance(created, datetime.datetime):
            self._created[arn] = _utc(created)
            if arn not in self._watches:
                self._others[arn] = self._created[arn]
        return arn

    # -- GetJob ----------------------------------------------------------------------

    async def _look_up(self, arn: str) -> None:
        try:
            response = await self._call("get_job", jobArn=arn)
        except Exception as exc:
            failure = exc
            if is_transient(failure):
                self._unanswered[arn] = failure
                return  # next cycle
            self._unanswered.pop(arn, None)
            self._settle(arn, lambda: job_not_found(failure, arn) or failure)
            return
        self._unanswered.pop(arn, None)
        metadata = {key: value for key, value in response.items() if key != "ResponseMetadata"}
        self._metadata[arn] = metadata
        self._status[arn] = str(metadata["status"])
        created = metadata.get("createdAt")
        if isinstance(created, datetime.datetime):
            self._created[arn] = _utc(created)
        if metadata["status"] in _TERMINAL:
            self._resolve(arn, metadata)

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self._session.call("braket", operation, retry=self._retry, **params)


def _calls(arns: int) -> int:
    """SearchJobs calls to ask for ``arns`` jobs by ARN."""
    return -(-arns // _ARNS_PER_SEARCH)


def _pages(jobs: int) -> int:
    return max(1, -(-jobs // _PAGE_SIZE))


def _utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def _chunks(items: Iterable[str], size: int) -> list[list[str]]:
    listed = list(items)
    return [listed[i : i + size] for i in range(0, len(listed), size)]
