"""What a hybrid job costs: its instance time and its quantum tasks, priced from the
public price list by the official ``Tracker``'s rules (:mod:`._price_rules`).

The facts come from the service, never from the job's own bookkeeping: the job's
``billableDuration`` and instance type (GetJob), its tasks (SearchQuantumTasks by the
job's ARN), whether a QPU task ran under a reservation (GetQuantumTask's
``associations``) and how long a simulator task ran (the ``executionDuration`` in its
``results.json``, where the Tracker reads it too). Facts that can no longer change are
kept in a :class:`TaskFacts`, so that watching a job's spend re-reads nothing.

Not included: the job's storage volume (a GB-month price), S3 and CloudWatch charges,
discounts and credits. Like the Tracker, a simulator task is assumed to have no
reservation (reservations are for QPUs), and a task that did not complete costs nothing.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from .._states import JobState, QuantumTaskState
from ..errors import ServiceError
from ._cost_breakdown import CostBreakdown, InstanceCost, TaskCost
from ._plan import job_arn_region
from ._price_list import PriceList
from ._price_rules import (
    CONTEXT,
    Unpriced,
    billed_simulator_ms,
    device_kind,
    instance_price,
    qpu_task_prices,
    simulator_price,
)
from ._pricing import fetch_price_list
from ._tasks import TaskSummary, sorted_tasks

if TYPE_CHECKING:
    from ._session import AwsSession

__all__ = ["TaskFacts", "instance_cost", "job_cost", "task_costs"]

#: Look-ups (GetQuantumTask, S3 results) under way at once for one breakdown.
DETAIL_CONCURRENCY = 16
_RESERVATION = "RESERVATION_TIME_WINDOW_ARN"
#: S3's answers for a result that cannot be read: the task is left unpriced, saying so.
_UNREADABLE_RESULT = frozenset({"NoSuchKey", "NoSuchBucket", "AccessDenied", "404", "403"})


class TaskFacts:
    """What never changes about a task once known, kept between breakdowns: whether it
    runs under a reservation, and how long a completed simulator task ran.

    One per watcher (a sweep, a group, a display that refreshes) saves a GetQuantumTask
    or an S3 read per task and refresh; a fresh one is made per call otherwise.
    """

    def __init__(self) -> None:
        self.reservations: dict[str, bool] = {}
        self.execution_ms: dict[str, int | None] = {}

    def __len__(self) -> int:
        return len(self.reservations) + len(self.execution_ms)


async def job_cost(
    session: AwsSession,
    job_metadata: Mapping[str, Any],
    prices: PriceList | None = None,
    *,
    facts: TaskFacts | None = None,
    now: datetime.datetime | None = None,
) -> CostBreakdown:
    """What the job of ``job_metadata`` (a GetJob answer) cost so far.

    Args:
        session: The session of the job's account and region.
        job_metadata: The job's GetJob answer (``await job.metadata()``).
        prices: The price list; default :func:`fetch_price_list` (``BRAKET_PRICE_OFFERS_URL``
            or AWS's, cached).
        facts: What is known of its tasks already (kept up to date); default none.
        now: The time a running job's instance time is estimated to (default: now).

    Raises:
        ConfigurationError: The metadata has no valid ``jobArn``.
        PriceListError: The price list cannot be fetched or read.
        ServiceError: The service refused a call.
    """
    arn = str(job_metadata.get("jobArn", ""))
    region = job_arn_region(arn)
    if prices is None:
        prices = await fetch_price_list()
    summaries = await sorted_tasks(session, arn)
    costs = await task_costs(session, summaries, prices, facts=facts)
    instance = instance_cost(job_metadata, prices, region=region, now=now)
    return CostBreakdown(
        job_arn=arn,
        job_status=_job_state(job_metadata.get("status", "")),
        instance=instance,
        tasks=tuple(costs),
        price_list=prices.info,
        computed_at=datetime.datetime.now(datetime.timezone.utc),
    )


def _job_state(value: object) -> str:
    try:
        return JobState(value)
    except ValueError:
        return str(value)


def instance_cost(
    job_metadata: Mapping[str, Any],
    prices: PriceList,
    *,
    region: str,
    now: datetime.datetime | None = None,
) -> InstanceCost:
    """The cost of the job's instances (GetJob's ``billableDuration`` times the instance count)."""
    config = job_metadata.get("instanceConfig") or {}
    instance_type = str(config.get("instanceType", ""))
    count = int(config.get("instanceCount") or 1)
    state = _job_state(job_metadata.get("status", ""))
    ended = isinstance(state, JobState) and state.is_terminal
    billable = job_metadata.get("billableDuration")
    started = job_metadata.get("startedAt")
    estimated = False
    if isinstance(billable, int) and not isinstance(billable, bool):
        billed_ms = billable
    elif not ended and isinstance(started, datetime.datetime):
        moment = now or datetime.datetime.now(datetime.timezone.utc)
        billed_ms = max(0, int((moment - started).total_seconds() * 1000))
        estimated = True
    else:  # it never started, or ended without billable time
        billed_ms = 0
    base: dict[str, Any] = {
        "instance_type": instance_type,
        "instance_count": count,
        "billed_ms": billed_ms,
        "estimated": estimated,
        "final": ended and not estimated,
    }
    try:
        price, unit_ms = instance_price(prices, instance_type, region)
    except Unpriced as exc:
        return InstanceCost(**base, cost=None, unpriced=str(exc))
    cost = CONTEXT.divide(CONTEXT.multiply(price, Decimal(billed_ms * count)), Decimal(unit_ms))
    return InstanceCost(**base, cost=cost, price=price, unit_ms=unit_ms)


async def task_costs(
    session: AwsSession,
    summaries: Sequence[TaskSummary],
    prices: PriceList,
    *,
    facts: TaskFacts | None = None,
) -> list[TaskCost]:
    """The cost of each task (in the order given): tasks of a hybrid job at the prices
    inside jobs, other tasks at the plain ones (as a ``Tracker`` inside or outside a job
    prices them). Summaries of any tasks come from :func:`describe_tasks`.

    Raises:
        PriceListFormatError: A price in the list is not a number.
        ServiceError: The service refused a call.
    """
    facts = facts if facts is not None else TaskFacts()
    limit = anyio.Semaphore(DETAIL_CONCURRENCY)
    unreadable: dict[str, str] = {}

    async def learn(task: TaskSummary) -> None:
        async with limit:
            kind = device_kind(task.device_arn)
            if kind == "qpu" and task.status not in _NOT_CHARGED:
                await _learn_reservation(session, task, facts)
            elif kind == "simulator" and task.status == QuantumTaskState.COMPLETED:
                try:
                    await _learn_execution_ms(session, task, facts)
                except ServiceError as exc:
                    if exc.code not in _UNREADABLE_RESULT:
                        raise
                    where = f"s3://{task.output_s3_bucket}/{_result_key(task)}"
                    unreadable[task.arn] = f"its result {where} cannot be read: {exc}"

    async with anyio.create_task_group() as group:
        for task in summaries:
            group.start_soon(learn, task)
    return [_price_task(task, prices, facts, unreadable.get(task.arn)) for task in summaries]


_NOT_CHARGED = frozenset({QuantumTaskState.FAILED, QuantumTaskState.CANCELLED})


async def _learn_reservation(session: AwsSession, task: TaskSummary, facts: TaskFacts) -> None:
    if task.arn in facts.reservations:
        return
    answer = await session.call("braket", "get_quantum_task", quantumTaskArn=task.arn)
    associations = answer.get("associations") or ()
    facts.reservations[task.arn] = any(item.get("type") == _RESERVATION for item in associations)


async def _learn_execution_ms(session: AwsSession, task: TaskSummary, facts: TaskFacts) -> None:
    if task.arn in facts.execution_ms:
        return
    bucket, key = task.output_s3_bucket, _result_key(task)
    response = await session.call("s3", "get_object", Bucket=bucket, Key=key)
    async with response["Body"] as body:
        data = await body.read()
    facts.execution_ms[task.arn] = await anyio.to_thread.run_sync(_execution_ms, data)


def _result_key(task: TaskSummary) -> str:
    return f"{task.output_s3_directory.rstrip('/')}/results.json"


def _execution_ms(data: bytes) -> int | None:
    """The simulator's execution time in a task result, as the SDK finds it."""
    try:
        document = json.loads(data)
        value = document["additionalMetadata"]["simulatorMetadata"]["executionDuration"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _price_task(
    task: TaskSummary, prices: PriceList, facts: TaskFacts, unreadable: str | None
) -> TaskCost:
    kind = device_kind(task.device_arn)
    in_job = task.job_arn is not None
    base: dict[str, Any] = {
        "arn": task.arn,
        "device_arn": task.device_arn,
        "status": task.status,
        "shots": task.shots,
        "kind": kind,
        "final": task.is_terminal,
    }
    if kind is None:
        reason = "its device is neither a QPU nor a simulator of the price list's rules"
        return TaskCost(**base, cost=None, unpriced=reason)
    if kind == "qpu":
        reservation = facts.reservations.get(task.arn, False)
        if task.status in _NOT_CHARGED or reservation:
            return TaskCost(**base, cost=Decimal(0), reservation=reservation)
        try:
            task_price, shot_price = qpu_task_prices(
                prices, task.arn, task.device_arn, in_job=in_job
            )
        except Unpriced as exc:
            return TaskCost(**base, cost=None, unpriced=str(exc))
        shots_cost = CONTEXT.multiply(shot_price, Decimal(task.shots))
        cost = CONTEXT.add(shots_cost, CONTEXT.multiply(task_price, Decimal(1)))
        return TaskCost(**base, cost=cost, task_price=task_price, shot_price=shot_price)
    if unreadable is not None:
        return TaskCost(**base, cost=None, unpriced=unreadable)
    if task.status != QuantumTaskState.COMPLETED:  # billed once it completes, if it does
        return TaskCost(**base, cost=Decimal(0) if task.is_terminal else None)
    execution_ms = facts.execution_ms.get(task.arn)
    billed_ms = billed_simulator_ms(execution_ms, reservation=False)
    if not billed_ms:
        return TaskCost(**base, cost=Decimal(0), execution_ms=execution_ms, billed_ms=0)
    try:
        price, unit_ms = simulator_price(prices, task.arn, task.device_arn, in_job=in_job)
    except Unpriced as exc:
        return TaskCost(**base, cost=None, execution_ms=execution_ms, unpriced=str(exc))
    cost = CONTEXT.divide(CONTEXT.multiply(price, Decimal(billed_ms)), Decimal(unit_ms))
    return TaskCost(**base, cost=cost, execution_ms=execution_ms, billed_ms=billed_ms)
