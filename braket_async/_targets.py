"""Where a group's or a sweep's jobs run: a local runtime or an AWS session, behind one
``create`` and one ``attach``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeGuard

from ._quantum_job import QuantumJob
from ._states import JobState
from .errors import ConfigurationError

if TYPE_CHECKING:
    from .aws import AwsSession
    from .runtimes import JobRuntime

__all__ = [
    "REMOTE_ONLY_OPTIONS",
    "Target",
    "attach",
    "create_on",
    "describe",
    "is_remote",
    "next_state",
]

#: ``AwsQuantumJob.create()`` options that mean nothing to a local job: given for a local
#: target they are refused by name, never dropped.
REMOTE_ONLY_OPTIONS = (
    "instance_config",
    "distribution",
    "stopping_condition",
    "tags",
    "reservation_arn",
)

#: ``"process"`` or ``"docker"`` (a runtime per job), a :class:`JobRuntime` (shared), or
#: an :class:`AwsSession` (remote jobs).
Target: TypeAlias = "Literal['process', 'docker'] | JobRuntime | AwsSession"


def is_remote(target: object) -> TypeGuard[AwsSession]:
    """Whether ``target`` runs jobs on Amazon Braket."""
    from .aws import AwsSession

    return isinstance(target, AwsSession)


def check(target: object) -> None:
    """Raise :class:`ConfigurationError` unless ``target`` is a :data:`Target`."""
    from .runtimes import JobRuntime

    if target in ("process", "docker") or isinstance(target, JobRuntime) or is_remote(target):
        return
    raise ConfigurationError(
        f"target must be 'process', 'docker', a JobRuntime or an AwsSession, not {target!r}"
    )


def describe(target: object) -> str:
    """A stable text for ``target``: what a manifest records of it."""
    if is_remote(target):
        return f"aws:{target.region}"
    if isinstance(target, str):
        return target
    return f"runtime:{getattr(target, 'name', type(target).__name__)}"


async def create_on(
    target: object,
    device: str,
    source_module: str | os.PathLike[str],
    *,
    client_token: str | None = None,
    **options: Any,
) -> QuantumJob:
    """``create()`` of the handle class ``target`` calls for, with ``options``."""
    check(target)
    if is_remote(target):
        from .aws import AwsQuantumJob

        return await AwsQuantumJob.create(
            device, source_module, aws_session=target, client_token=client_token, **options
        )
    from .local import LocalQuantumJob

    for option in REMOTE_ONLY_OPTIONS:
        if options.get(option) is not None:
            raise ConfigurationError(
                f"{option}= applies to remote jobs only; the target {describe(target)!r} "
                "runs the job locally"
            )
        options.pop(option, None)
    return await LocalQuantumJob.create(
        device,
        source_module,
        runtime=target,  # type: ignore[arg-type]
        client_token=client_token,
        **options,
    )


def attach(target: object, arn: str, *, root: str | os.PathLike[str] | None = None) -> QuantumJob:
    """A handle on the existing job ``arn`` of ``target``."""
    if is_remote(target):
        from .aws import AwsQuantumJob

        return AwsQuantumJob(arn, aws_session=target)
    from .local import LocalQuantumJob

    return LocalQuantumJob(arn, root=root)


async def next_state(job: QuantumJob, poll_interval_seconds: float) -> JobState:
    """``job.next_state()``, for a group's watcher: a remote job's state as the session's
    poller last saw it (its SearchJobs summaries show RUNNING, which the handle's own
    record does not until the job ends), and the error of the last look at it when that
    got no answer (the handle's own waits go on through such errors)."""
    state = await job.next_state(poll_interval_seconds)
    from .aws import AwsQuantumJob

    if isinstance(job, AwsQuantumJob) and not state.is_terminal:
        poller = job.aws_session.poller
        error = poller.look_failed(job.arn)
        if error is not None:
            raise error
        seen = poller.cached_status(job.arn)
        if seen is not None and not JobState(seen).is_terminal:
            # An end comes through the wait, with the job's whole record.
            state = JobState(seen)
    return state
