"""``sweep()``: one source module, many hyperparameter sets, one job each, resumable."""

from __future__ import annotations

import inspect
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio
import attrs

from ._braket import CLIENT_TOKEN_TAG, DEFAULT_CONCURRENT_JOBS_QUOTA, LOCAL_DEVICE
from ._events import GroupEvent
from ._group import JobGroup, OnError, OnExit
from ._manifest import Manifest, PointEntry, fingerprint
from ._names import validate_job_name
from ._progress import progress_display
from ._quantum_job import DEFAULT_RESULTS_POLL_INTERVAL, QuantumJob
from ._retries import DEFAULT_UNREACHABLE_TIMEOUT, check_unreachable_timeout
from ._states import JobState
from ._targets import attach, check, describe, is_remote
from .errors import BillingLimitError, ConfigurationError, JobNotFoundError

__all__ = ["SweepPoint", "sweep"]

# Looks at jobs under way at once (see _Sweep.looks).
_LOOKS = 100
# Room left in a job name after the prefix: "-<index>-r<attempt>".
_MAX_PREFIX = 36


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


async def sweep(
    source_module: str | os.PathLike[str],
    points: Iterable[Mapping[str, Any]] | None = None,
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    target: object = "process",
    device: str | None = None,
    manifest: str | os.PathLike[str] | None = None,
    job_name_prefix: str | None = None,
    max_concurrent_jobs: int | None = None,
    concurrent_jobs_quota: int | None = DEFAULT_CONCURRENT_JOBS_QUOTA,
    on_error: OnError = "collect",
    on_exit: OnExit = "leave",
    progress: bool | None = None,
    max_billable_seconds: float | None = None,
    allow_pickle: bool = False,
    poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL,
    on_event: Callable[[GroupEvent], object] | None = None,
    unreachable_timeout: float | None = DEFAULT_UNREACHABLE_TIMEOUT,
    **create_options: Any,
) -> list[SweepPoint]:
    """Run ``source_module`` once per hyperparameter set and return the points in order.

    Args:
        source_module: The job's source, as for ``create()``.
        points: The hyperparameter sets, one job each.
        grid: Instead of ``points``: values per hyperparameter; the points are their
            product (``{"x": [1, 2], "lr": [0.1]}`` gives two points).
        target: ``"process"`` (default), ``"docker"``, a ``JobRuntime`` or an
            ``AwsSession`` (remote jobs).
        device: The jobs' device (required for remote sweeps; local default
            ``local:braket/braket.local.qubit``).
        manifest: A file that makes the sweep resumable: run again with the same
            arguments after a crash, it attaches to the jobs it made (each one known by
            its client token) and creates only the missing ones.
        job_name_prefix: Jobs are named ``<prefix>-<index>`` (default: ``sweep-`` and a
            random suffix; a manifest keeps the one it was made with).
        max_concurrent_jobs: Unfinished jobs at once (default: no bound but the quota).
        concurrent_jobs_quota: Unfinished remote jobs at once (Braket's default 5).
        on_error: ``"collect"`` (default: a failed point never stops the others) or
            ``"raise"`` (the first failure ends the sweep with its error).
        on_exit: What happens to running jobs when the sweep ends early: ``"leave"``
            (default; a manifest's rerun attaches to them) or ``"cancel"``.
        progress: The live display: ``None`` shows it when standard output is a
            terminal or a notebook; ``True`` / ``False`` force it.
        max_billable_seconds: Create no more points once the finished ones were billed
            this much (remote jobs); the rest end with a ``BillingLimitError``.
        allow_pickle: Allow unpickling pickled results.
        poll_interval_seconds: The pause between looks at a job's state.
        on_event: Called with every :class:`~braket_async.JobEvent` (a job's state
            change) and :class:`~braket_async.RetryEvent` (a call that failed and is
            retried) as it happens, for a service that passes them on; a coroutine it
            returns is awaited before the next event.
        unreachable_timeout: How long the target may fail every call about a point's
            job with transient errors (each one retried and reported) before the point
            fails with the last error (``None``: no bound).
        create_options: Every other argument of the target's ``create()``.

    Returns:
        Every point, in input order. With ``on_error="collect"`` whatever went wrong
        with a point (its create, its job, a job that vanished, a service that stopped
        answering, a job of its name that is not its own) is that point's ``error``.

    Raises:
        ConfigurationError: Bad arguments, or a manifest of a sweep with other ones.
        JobFailedError: With ``on_error="raise"``, the first point that failed (or the
            error that made it fail).
    """
    hyperparameter_sets = _points(points, grid)
    check(target)
    remote = is_remote(target)
    if device is None:
        if remote:
            raise ConfigurationError("device= is required for a remote sweep")
        device = LOCAL_DEVICE
    for reserved in ("job_name", "hyperparameters", "client_token", "runtime", "aws_session"):
        if reserved in create_options:
            raise ConfigurationError(f"{reserved}= is set by the sweep for each point")
    if max_billable_seconds is not None and not max_billable_seconds > 0:
        raise ConfigurationError("max_billable_seconds must be positive")
    check_unreachable_timeout(unreachable_timeout)
    prefix = _prefix(job_name_prefix)
    root = create_options.get("root")
    points_manifest = None
    if manifest is not None:
        digest = fingerprint(
            {
                "source": os.path.join(os.getcwd(), os.fspath(source_module)),
                "points": hyperparameter_sets,
                "target": describe(target),
                "device": device,
                "prefix": job_name_prefix,
                "options": {k: v for k, v in create_options.items() if k != "detach"},
            }
        )
        points_manifest = await Manifest.open(manifest, digest, prefix, len(hyperparameter_sets))
        prefix = points_manifest.prefix
        if not remote:
            # The jobs must outlive a crash of the sweep, so that a rerun attaches to them.
            create_options.setdefault("detach", True)
    run = _Sweep(
        source=source_module,
        target=target,
        device=device,
        prefix=prefix,
        manifest=points_manifest,
        root=root,
        options=create_options,
        max_billable_seconds=max_billable_seconds,
        allow_pickle=allow_pickle,
        on_error=on_error,
    )
    run.results = [SweepPoint(i, dict(p)) for i, p in enumerate(hyperparameter_sets)]
    try:
        async with JobGroup(
            max_concurrent_jobs=max_concurrent_jobs,
            concurrent_jobs_quota=concurrent_jobs_quota,
            on_error="collect",  # the sweep raises the first failed point itself
            on_exit=on_exit,
            poll_interval_seconds=poll_interval_seconds,
            progress=False,  # the sweep's own display below knows the number of points
            unreachable_timeout=unreachable_timeout,
        ) as group:
            run.group = group
            async with progress_display(
                group, total=len(hyperparameter_sets), enabled=progress
            ) as display:
                run.display = display
                async with anyio.create_task_group() as points_group:
                    if on_event is not None:
                        points_group.start_soon(_pass_on, group.events(), on_event)
                    async with anyio.create_task_group() as running:
                        run.running = running.cancel_scope
                        for index, hyperparameters in enumerate(hyperparameter_sets):
                            running.start_soon(run.point, index, hyperparameters)
                    # Every job's last event is out once the group has seen every end;
                    # then the readers finish what they hold and stop.
                    if run.failure is None:
                        async for _ in group.as_completed():
                            pass
                    group.end_events()
            if run.failure is not None:
                raise run.failure  # within the group: on_exit applies to the others
    finally:
        if points_manifest is not None:
            await points_manifest.close()
    return run.results


@attrs.define
class _Sweep:
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
            if attached and entry is not None and self._died_with_a_sweep(await job.metadata()):
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


async def _pass_on(
    events: AsyncIterator[GroupEvent], on_event: Callable[[GroupEvent], object]
) -> None:
    async for event in events:
        outcome = on_event(event)
        if inspect.isawaitable(outcome):
            await outcome


def _points(
    points: Iterable[Mapping[str, Any]] | None, grid: Mapping[str, Sequence[Any]] | None
) -> list[dict[str, Any]]:
    if (points is None) == (grid is None):
        raise ConfigurationError("pass either points= or grid=")
    if grid is not None:
        if not isinstance(grid, Mapping) or not grid:
            raise ConfigurationError("grid must be a non-empty mapping of name to values")
        names = list(grid)
        for name in names:
            values = grid[name]
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise ConfigurationError(f"grid[{name!r}] must be a non-empty list of values")
        return [
            dict(zip(names, combination, strict=True))
            for combination in itertools.product(*grid.values())
        ]
    listed = list(points or ())
    if not listed:
        raise ConfigurationError("points must hold at least one hyperparameter set")
    for index, point in enumerate(listed):
        if not isinstance(point, Mapping):
            raise ConfigurationError(f"points[{index}] is not a mapping of hyperparameters")
    return [dict(point) for point in listed]


def _prefix(prefix: str | None) -> str:
    if prefix is None:
        return f"sweep-{uuid.uuid4().hex[:8]}"
    if len(prefix) > _MAX_PREFIX:
        raise ConfigurationError(f"job_name_prefix must be at most {_MAX_PREFIX} characters")
    validate_job_name(prefix)
    return prefix
