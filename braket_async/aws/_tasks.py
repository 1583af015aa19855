"""A hybrid job's quantum tasks: the tasks the service associated with the job (created
with its ``AMZN_BRAKET_JOB_TOKEN``), found with SearchQuantumTasks filtered on the job's
ARN, as the official ``AwsQuantumJob.get_tasks()`` finds them."""

from __future__ import annotations

import datetime
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from .._states import QuantumTaskState
from ..errors import ConfigurationError
from ._plan import job_arn_region

if TYPE_CHECKING:
    from ._session import AwsSession

__all__ = ["TaskSummary", "describe_tasks", "get_tasks", "tasks"]

#: SearchQuantumTasks' largest page.
MAX_PAGE_SIZE = 100
#: GetQuantumTask calls under way at once in :func:`describe_tasks`.
DESCRIBE_CONCURRENCY = 16
_TASK_ARN = re.compile(r"^arn:aws[a-z\-]*:braket:[a-z0-9\-]+:[0-9]{12}:quantum-task/.+$")


def _state(value: str) -> str:
    """The service's state as a :class:`QuantumTaskState` when it is one we know (an
    unknown one stays the service's string: a new state must not break a listing)."""
    try:
        return QuantumTaskState(value)
    except ValueError:
        return value


@attrs.frozen(kw_only=True)
class TaskSummary:
    """A quantum task as SearchQuantumTasks describes it.

    Attributes:
        arn: The task's ARN.
        device_arn: The device it runs on.
        status: Its state: a :class:`~braket_async.QuantumTaskState` (equal to the
            service's string), or the service's string for a state this version does
            not know.
        shots: The shots it asked for.
        created_at: When it was created.
        ended_at: When it ended, or ``None``.
        output_s3_bucket: The bucket of its result.
        output_s3_directory: The key prefix of its result (``results.json`` in it).
        job_arn: The hybrid job it belongs to (it was created with the job's token), or
            ``None``.
    """

    arn: str
    device_arn: str
    status: str
    shots: int
    created_at: datetime.datetime
    ended_at: datetime.datetime | None = None
    output_s3_bucket: str = ""
    output_s3_directory: str = ""
    job_arn: str | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the task has ended (COMPLETED, FAILED or CANCELLED)."""
        return isinstance(self.status, QuantumTaskState) and self.status.is_terminal

    @classmethod
    def from_service(cls, summary: Mapping[str, Any], job_arn: str | None = None) -> TaskSummary:
        """A summary of SearchQuantumTasks (whose job is ``job_arn`` when it searched by
        job), or a GetQuantumTask answer (which names the job)."""
        return cls(
            arn=str(summary["quantumTaskArn"]),
            device_arn=str(summary["deviceArn"]),
            status=_state(str(summary["status"])),
            shots=int(summary.get("shots", 0)),
            created_at=summary["createdAt"],
            ended_at=summary.get("endedAt"),
            output_s3_bucket=str(summary.get("outputS3Bucket", "")),
            output_s3_directory=str(summary.get("outputS3Directory", "")),
            job_arn=job_arn or summary.get("jobArn"),
        )


async def tasks(
    session: AwsSession, job_arn: str, *, page_size: int = MAX_PAGE_SIZE
) -> AsyncIterator[TaskSummary]:
    """The quantum tasks of the hybrid job ``job_arn``, in the service's order (newest
    first on Braket), one SearchQuantumTasks page at a time as they are taken.

    A job that created no task, or a job the service does not know, has none.

    Args:
        session: The session whose account and region have the job.
        job_arn: The job's ARN.
        page_size: Tasks per SearchQuantumTasks call (``maxResults``), 1 to 100.

    Raises:
        ConfigurationError: ``job_arn`` is not a job ARN, or a bad ``page_size``.
        ServiceError: The service refused the search.
    """
    job_arn_region(job_arn)
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise ConfigurationError(f"page_size must be an integer from 1 to 100, not {page_size!r}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ConfigurationError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, not {page_size}")
    filters = [{"name": "jobArn", "operator": "EQUAL", "values": [job_arn]}]
    token: str | None = None
    while True:
        params: dict[str, Any] = {"filters": filters, "maxResults": page_size}
        if token is not None:
            params["nextToken"] = token
        page = await session.call("braket", "search_quantum_tasks", **params)
        for summary in page.get("quantumTasks", ()):
            yield TaskSummary.from_service(summary, job_arn)
        token = page.get("nextToken")
        if not token:
            return


async def get_tasks(session: AwsSession, job_arn: str) -> list[str]:
    """The ARNs of the hybrid job's quantum tasks, oldest first (by creation time, as the
    official ``AwsQuantumJob.get_tasks()`` sorts them).

    Raises:
        ConfigurationError: ``job_arn`` is not a job ARN.
        ServiceError: The service refused the search.
    """
    return [task.arn for task in await sorted_tasks(session, job_arn)]


async def sorted_tasks(session: AwsSession, job_arn: str) -> list[TaskSummary]:
    """Every task of the job, oldest first (tasks created in the same millisecond in the
    service's order, as the official SDK's stable sort leaves them)."""
    found = [task async for task in tasks(session, job_arn)]
    found.sort(key=lambda task: task.created_at)
    return found


async def describe_tasks(session: AwsSession, task_arns: Iterable[str]) -> list[TaskSummary]:
    """Summaries of the quantum tasks ``task_arns`` (GetQuantumTask each), in that
    order: tasks of any job or of none, to price them after the fact.

    Raises:
        ConfigurationError: One is not a quantum task ARN.
        ServiceError: The service refused a call (``ResourceNotFoundException`` for a
            task it does not know).
    """
    arns = list(task_arns)
    for arn in arns:
        if not isinstance(arn, str) or not _TASK_ARN.fullmatch(arn):
            raise ConfigurationError(
                f"Invalid quantum task ARN {arn!r}: expected "
                "arn:aws:braket:<region>:<account>:quantum-task/<id>"
            )
    found: dict[str, TaskSummary] = {}
    limit = anyio.Semaphore(DESCRIBE_CONCURRENCY)

    async def describe(arn: str) -> None:
        async with limit:
            answer = await session.call("braket", "get_quantum_task", quantumTaskArn=arn)
        found[arn] = TaskSummary.from_service(answer)

    async with anyio.create_task_group() as group:
        for arn in dict.fromkeys(arns):
            group.start_soon(describe, arn)
    return [found[arn] for arn in arns]
