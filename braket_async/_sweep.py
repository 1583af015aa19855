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

from ._braket import DEFAULT_CONCURRENT_JOBS_QUOTA, LOCAL_DEVICE
from ._events import JobEvent
from ._group import JobGroup, OnError, OnExit
from ._manifest import Manifest, PointEntry, fingerprint
from ._names import validate_job_name
from ._progress import progress_display
from ._quantum_job import DEFAULT_RESULTS_POLL_INTERVAL, QuantumJob
from ._states import JobState
from ._targets import attach, check, describe, is_remote
from .errors import BillingLimitError, ConfigurationError, JobNotFoundError

__all__ = ["SweepPoint", "sweep"]

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
    on_event: Callable[[JobEvent], object] | None = None,
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
            arguments after a crash, it attaches to the jobs that exist and creates only
            the missing ones.
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
            change) as it happens, for a service that passes them on; a coroutine it
            returns is awaited before the next event.
        create_options: Every other argument of the target's ``create()``.

    Raises:
        ConfigurationError: Bad arguments, or a manifest of a sweep with other ones.
        JobFailedError: With ``on_error="raise"``, the first point that failed.
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
        poll_interval_seconds=poll_interval_seconds,
        on_error=on_error,
    )
    run.results = [SweepPoint(i, dict(p)) for i, p in enumerate(hyperparameter_sets)]
    async with JobGroup(
        max_concurrent_jobs=max_concurrent_jobs,
        concurrent_jobs_quota=concurrent_jobs_quota,
        on_error=on_error,
        on_exit=on_exit,
        poll_interval_seconds=poll_interval_seconds,
        progress=False,  # the sweep's own display below knows the number of points
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
                    for index, hyperparameters in enumerate(hyperparameter_sets):
                        running.start_soon(run.point, index, hyperparameters)
                # Every job's last event is out once the group has seen every end;
                # then the readers finish what they hold and stop.
                async for _ in group.as_completed():
                    pass
                group.end_events()
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
    poll_interval_seconds: float
    on_error: OnError
    results: list[SweepPoint] = attrs.Factory(list)
    group: JobGroup | None = None
    display: Any = None
    billed: float = 0.0

    async def point(self, index: int, hyperparameters: dict[str, Any]) -> None:
        assert self.group is not None
        entry = self.manifest.entries[index] if self.manifest is not None else None
        job = await self._reattach(entry) if entry is not None else None
        while True:
            attached = job is not None
            if job is not None:
                self.group.add(job)
            else:
                entry = self._next_entry(index, entry)
                try:
                    job = await self._create(index, entry, hyperparameters)
                except BillingLimitError as exc:
                    self._set(index, error=exc)
                    return
                except Exception as exc:
                    self._set(index, error=exc)
                    if self.on_error == "raise":
                        raise
                    return
            state = await job.wait(poll_interval_seconds=self.poll_interval_seconds)
            if attached and entry is not None and await self._died_with_an_earlier_sweep(job):
                entry.attempt += 1  # a job of the crashed sweep that ended with it
                entry.arn = None
                job = None
                continue
            break
        await self._collect(index, job, state)

    def _admit(self) -> None:
        """Raise :class:`BillingLimitError` once the finished points used the budget."""
        if self.max_billable_seconds is not None and self.billed >= self.max_billable_seconds:
            raise BillingLimitError(
                f"not created: the sweep's finished points were billed {self.billed:g} s of "
                f"max_billable_seconds={self.max_billable_seconds:g}"
            )

    async def _died_with_an_earlier_sweep(self, job: QuantumJob) -> bool:
        if is_remote(self.target):
            return False
        from .local._folder import died_with_its_owner

        metadata = await job.metadata()
        status = metadata.get("status")
        return status == JobState.CANCELLED.value or (
            status == JobState.FAILED.value and died_with_its_owner(metadata.get("failureReason"))
        )

    async def _reattach(self, entry: PointEntry) -> QuantumJob | None:
        """The point's existing job, or ``None`` when it has to be created (again)."""
        if entry.arn is None:
            return None  # a remote create whose answer was not recorded: repeat it
        try:
            job = attach(self.target, entry.arn, root=self.root)
            metadata = await job.metadata()
        except JobNotFoundError:
            return None
        if JobState(metadata["status"]).is_terminal and await self._died_with_an_earlier_sweep(job):
            entry.attempt += 1  # the job died with a sweep: run the point again
            entry.arn = None
            return None
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
        assert self.group is not None
        remote = is_remote(self.target)
        if not remote:
            entry.arn = f"local:job/{entry.job_name}"  # known before: recorded before
        if self.manifest is not None:
            await self.manifest.record(index, entry)
        options = dict(self.options)
        if remote:
            options["client_token"] = entry.client_token
        job = await self.group.create(
            self.device,
            self.source,
            target=self.target,
            admit=self._admit,
            job_name=entry.job_name,
            hyperparameters=hyperparameters,
            **options,
        )
        if remote and self.manifest is not None:
            entry.arn = job.arn
            await self.manifest.record(index, entry)
        return job

    async def _collect(self, index: int, job: QuantumJob, state: JobState) -> None:
        metadata = await job.metadata(use_cached_value=True)
        billable = metadata.get("billableDuration")
        seconds = billable / 1000 if isinstance(billable, (int, float)) else None
        if seconds is not None:
            self.billed += seconds
        result: dict[str, Any] | None = None
        error: BaseException | None = None
        try:
            result = await job.result(allow_pickle=self.allow_pickle)
        except Exception as exc:  # a failed job, or an unreadable result: this point's error
            error = exc
        self._set(index, job=job, state=state, result=result, error=error, billable_seconds=seconds)

    def _set(self, index: int, **fields: Any) -> None:
        self.results[index] = attrs.evolve(self.results[index], **fields)
        if self.display is not None:
            self.display.point_done(self.results[index])


async def _pass_on(events: AsyncIterator[JobEvent], on_event: Callable[[JobEvent], object]) -> None:
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
