"""``QuantumJob``: the one interface of local and remote job handles.

A program written against it runs unchanged on ``LocalQuantumJob`` and
``AwsQuantumJob``: the same methods, signatures, defaults and rules. What differs is
how a handle learns its job's state (a folder, the Braket API), which is all a
subclass provides. The one intended difference: leaving ``async with`` cancels a local
job that still runs, never a remote one.

The rules live here, once: every public method checks its waiting arguments (an
interval is a finite number of seconds above 0; a timeout is 0 or more, ``0`` meaning
"look once, do not wait" and ``math.inf`` "no limit") before the handle does anything,
and two handles are equal when they are of the same kind and name the same job.
"""

from __future__ import annotations

import abc
import math
import os
from pathlib import Path
from typing import Any

import anyio.to_thread
from anyio.abc import AsyncResource

from ._logs import LogStream
from ._rules import check_poll_interval, check_poll_timeout
from ._states import JobState
from .errors import ConfigurationError, JobCancelledError, JobFailedError
from .metrics import MetricStatistic, MetricType

__all__ = ["DEFAULT_RESULTS_POLL_INTERVAL", "DEFAULT_RESULTS_POLL_TIMEOUT", "QuantumJob"]

#: How long ``wait()``, ``result()`` and ``download_result()`` wait by default: 10 days.
DEFAULT_RESULTS_POLL_TIMEOUT = 864000
#: The default pause between two looks at a job's state, in seconds.
DEFAULT_RESULTS_POLL_INTERVAL = 5


class QuantumJob(AsyncResource, abc.ABC):
    """A hybrid job, local or remote, as an async handle.

    Every wait is cooperative (no thread, no blocking sleep) and cancellable; cancelling
    a wait never cancels the job.
    """

    DEFAULT_RESULTS_POLL_TIMEOUT = DEFAULT_RESULTS_POLL_TIMEOUT
    DEFAULT_RESULTS_POLL_INTERVAL = DEFAULT_RESULTS_POLL_INTERVAL

    @property
    @abc.abstractmethod
    def arn(self) -> str:
        """The job's ARN (``local:job/<name>`` for local jobs)."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The job's name."""

    @abc.abstractmethod
    async def state(self, use_cached_value: bool = False) -> JobState:
        """The job's current state."""

    @abc.abstractmethod
    async def metadata(self, use_cached_value: bool = False) -> dict[str, Any]:
        """The job's GetJob-shaped description: status, failureReason, dates, ..."""

    async def cancel(
        self,
        *,
        wait: bool = False,
        poll_timeout_seconds: float = DEFAULT_RESULTS_POLL_TIMEOUT,
        poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL,
    ) -> JobState:
        """Cancel the job; a job that has ended is left as it is.

        Args:
            wait: Also wait until the job has stopped (for a local job: its processes
                or container are gone, and what it saved is in its folder) and return
                its final state.
            poll_timeout_seconds: With ``wait``, how long to wait.
            poll_interval_seconds: With ``wait``, the pause between looks.

        Returns:
            The state right after the request (``CANCELLING`` while the job stops), or
            with ``wait`` its final state.

        Raises:
            ConfigurationError: A waiting argument is out of range (checked first,
                whether or not ``wait`` is set: nothing is cancelled then).
            JobNotFoundError: There is no such job.
            JobTimeoutError: With ``wait``, the job did not stop in time.
        """
        check_poll_timeout(poll_timeout_seconds)
        check_poll_interval(poll_interval_seconds)
        return await self._cancel(
            wait=wait,
            poll_timeout_seconds=poll_timeout_seconds,
            poll_interval_seconds=poll_interval_seconds,
        )

    @abc.abstractmethod
    async def _cancel(
        self, *, wait: bool, poll_timeout_seconds: float, poll_interval_seconds: float
    ) -> JobState:
        """:meth:`cancel`, its arguments checked."""

    def logs(
        self, wait: bool = False, poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL
    ) -> LogStream:
        """The job's log: ``await`` it to print, ``async for event in`` it for
        :class:`~braket_async.LogEvent` objects (message, timestamp, instance).

        Every reader gets every line once, in order, however late it starts. Neither
        form raises when the job fails: use :meth:`result` for the outcome.

        Args:
            wait: Follow the log until the job ends; otherwise read what there is now.
            poll_interval_seconds: The longest pause between reads while following (a
                local job's creator is woken at each new line instead).

        Raises:
            ConfigurationError: ``poll_interval_seconds`` is out of range (at once,
                not when the log is read).
        """
        return self._logs(wait, check_poll_interval(poll_interval_seconds))

    @abc.abstractmethod
    def _logs(self, wait: bool, poll_interval_seconds: float) -> LogStream:
        """:meth:`logs`, its arguments checked."""

    @abc.abstractmethod
    async def metrics(
        self,
        metric_type: MetricType = MetricType.TIMESTAMP,
        statistic: MetricStatistic = MetricStatistic.MAX,
    ) -> dict[str, list[Any]]:
        """The metrics the job logged with ``log_metric``, as columns."""

    @abc.abstractmethod
    async def _wait_until_done(
        self, poll_timeout_seconds: float, poll_interval_seconds: float
    ) -> dict[str, Any]:
        """Wait for a final state; return the final metadata.

        Raises:
            JobTimeoutError: ``poll_timeout_seconds`` passed first.
        """

    @abc.abstractmethod
    async def _load_result(self, allow_pickle: bool) -> dict[str, Any]:
        """The saved result of the job, which has COMPLETED."""

    @abc.abstractmethod
    async def _copy_outputs(self, target: Path) -> None:
        """Put the outputs of the job, which has COMPLETED, in the new folder ``target``."""

    async def wait(
        self,
        poll_timeout_seconds: float = DEFAULT_RESULTS_POLL_TIMEOUT,
        poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL,
    ) -> JobState:
        """Wait until the job ends, and return its final state.

        Args:
            poll_timeout_seconds: How long to wait: 0 looks once without waiting,
                ``math.inf`` waits for as long as it takes.
            poll_interval_seconds: The longest pause between looks at the job's state.

        Raises:
            JobTimeoutError: ``poll_timeout_seconds`` passed first (a ``TimeoutError``).
            ConfigurationError: A waiting argument is out of range.
        """
        metadata = await self._checked_wait(poll_timeout_seconds, poll_interval_seconds)
        return JobState(metadata["status"])

    async def _checked_wait(
        self, poll_timeout_seconds: float, poll_interval_seconds: float
    ) -> dict[str, Any]:
        check_poll_timeout(poll_timeout_seconds)
        check_poll_interval(poll_interval_seconds)
        return await self._wait_until_done(poll_timeout_seconds, poll_interval_seconds)

    async def _wait_for_success(
        self, poll_timeout_seconds: float, poll_interval_seconds: float
    ) -> dict[str, Any]:
        """Wait for the end; the rule for every handle: only COMPLETED has outputs."""
        metadata = await self._checked_wait(poll_timeout_seconds, poll_interval_seconds)
        state = JobState(metadata["status"])
        if state is JobState.COMPLETED:
            return metadata
        error = JobCancelledError if state is JobState.CANCELLED else JobFailedError
        raise error(self.arn, state.value, metadata.get("failureReason"))

    async def result(
        self,
        poll_timeout_seconds: float = DEFAULT_RESULTS_POLL_TIMEOUT,
        poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL,
        allow_pickle: bool = False,
    ) -> dict[str, Any]:
        """Wait for the job to end and return what it saved with ``save_job_result``.

        A job that completed without saving a result returns ``{}``.

        Args:
            poll_timeout_seconds: How long to wait for the job to end (0: only if it
                has ended already; ``math.inf``: no limit).
            poll_interval_seconds: The longest pause between looks at its state.
            allow_pickle: Allow unpickling a ``pickled_v4`` result. Unpickling runs
                arbitrary code: only allow it for results you trust.

        Raises:
            JobFailedError: The job FAILED (a ``RuntimeError``; ``failure_reason`` says why).
            JobCancelledError: The job was CANCELLED (a ``JobFailedError``).
            JobTimeoutError: It did not end within ``poll_timeout_seconds``.
            ConfigurationError: A waiting argument is out of range.
            ResultError: The saved result cannot be read.
            RuntimeError: The result is pickled and ``allow_pickle`` is false.
        """
        await self._wait_for_success(poll_timeout_seconds, poll_interval_seconds)
        return await self._load_result(allow_pickle)

    async def download_result(
        self,
        extract_to: str | os.PathLike[str] | None = None,
        poll_timeout_seconds: float = DEFAULT_RESULTS_POLL_TIMEOUT,
        poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL,
    ) -> Path:
        """Wait for the job to end and put its outputs in ``<extract_to>/<job_name>``.

        Args:
            extract_to: The folder to put the job's folder in (default: the current
                folder). The job's folder in it must not exist yet, or be empty.

        Returns:
            The folder that holds the outputs.

        Raises:
            JobFailedError: The job FAILED or was CANCELLED.
            JobTimeoutError: It did not end within ``poll_timeout_seconds``.
            ConfigurationError: ``<extract_to>/<job_name>`` holds files already, or a
                waiting argument is out of range.
        """
        await self._wait_for_success(poll_timeout_seconds, poll_interval_seconds)
        root = Path(extract_to) if extract_to is not None else Path.cwd()
        target = root.resolve() / self.name
        if await self._outputs_are_in(target):
            return target
        if await anyio.to_thread.run_sync(_holds_files, target):
            raise ConfigurationError(f"{target} exists and is not empty: pick another extract_to")
        await self._copy_outputs(target)
        return target

    async def next_state(
        self, poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL
    ) -> JobState:
        """Wait until the job's state may have changed, at most about one interval; return it.

        For watching many jobs (groups, progress displays) at the cost of the handle's
        own waiting: no extra API calls for remote jobs, wake-ups for local ones.

        Raises:
            ConfigurationError: ``poll_interval_seconds`` is out of range.
        """
        return await self._next_state(check_poll_interval(poll_interval_seconds))

    async def _next_state(self, poll_interval_seconds: float) -> JobState:
        """:meth:`next_state`, its argument checked."""
        with anyio.move_on_after(poll_interval_seconds):
            await self._wait_until_done(math.inf, poll_interval_seconds)
        return await self.state(use_cached_value=True)

    async def _outputs_are_in(self, target: Path) -> bool:
        """Whether the job's outputs are in ``target`` already (a local job's folder)."""
        return False

    @abc.abstractmethod
    def _identity(self) -> tuple[object, ...]:
        """What tells this handle's job from any other: its kind first, then the ARN and
        whatever else the ARN alone does not fix (a local job's root folder)."""

    def __eq__(self, other: object) -> bool:
        """Whether ``other`` is a handle of the same job (the same kind, the same ARN, and
        for local jobs the same folder)."""
        if not isinstance(other, QuantumJob):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


def _holds_files(target: Path) -> bool:
    return target.is_symlink() or (target.exists() and any(target.iterdir()))
