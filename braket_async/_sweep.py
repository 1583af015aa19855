"""``sweep()``: one source module, many hyperparameter sets, one job each, resumable."""

from __future__ import annotations

import inspect
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

import anyio

from ._braket import DEFAULT_CONCURRENT_JOBS_QUOTA, LOCAL_DEVICE
from ._events import GroupEvent
from ._group import JobGroup, OnError, OnExit
from ._manifest import Manifest, fingerprint
from ._names import validate_job_name
from ._progress import progress_display
from ._quantum_job import DEFAULT_RESULTS_POLL_INTERVAL
from ._retries import DEFAULT_UNREACHABLE_TIMEOUT, check_unreachable_timeout
from ._sweep_run import SweepPoint, SweepRun
from ._targets import check, describe, is_remote
from .errors import ConfigurationError

__all__ = ["SweepPoint", "sweep"]

# Room left in a job name after the prefix: "-<index>-r<attempt>".
_MAX_PREFIX = 36


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
    run = SweepRun(
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
