"""A hybrid job's cost, item by item: what :func:`~._cost.job_cost` answers."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import attrs

from .._states import QuantumTaskState
from ._price_list import PriceListInfo
from ._price_rules import CONTEXT

__all__ = ["CostBreakdown", "InstanceCost", "TaskCost"]


@attrs.frozen(kw_only=True)
class TaskCost:
    """One quantum task's cost.

    Attributes:
        arn: The task's ARN.
        device_arn: Its device.
        status: Its state when priced.
        shots: The shots it asked for.
        kind: ``"qpu"``, ``"simulator"`` or ``None`` (a device the rules do not know).
        cost: In USD; for a QPU task that has not ended, what it costs if it completes
            (as the Tracker counts it); ``None`` when not known: a simulator task that
            has not ended, or no price (``unpriced`` says why).
        final: The cost can no longer change (the task has ended).
        task_price: The per-task price applied (QPU tasks).
        shot_price: The per-shot price applied (QPU tasks).
        execution_ms: The simulator's execution time from its result.
        billed_ms: The simulator time billed (at least 3 s).
        reservation: It ran under a reservation (no task charge).
        unpriced: Why there is no cost, when the price list has no price for it or its
            result cannot be read.
    """

    arn: str
    device_arn: str
    status: str
    shots: int
    kind: str | None
    cost: Decimal | None
    final: bool
    task_price: Decimal | None = None
    shot_price: Decimal | None = None
    execution_ms: int | None = None
    billed_ms: int | None = None
    reservation: bool = False
    unpriced: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as exact decimal strings."""
        plain: dict[str, Any] = _plain(attrs.asdict(self))
        return plain


@attrs.frozen(kw_only=True)
class InstanceCost:
    """The cost of a job's instances.

    Attributes:
        instance_type: The instance type, e.g. ``ml.m5.large``.
        instance_count: How many instances.
        billed_ms: Billable time of one instance: GetJob's ``billableDuration``, or
            for a running job the time since it started (``estimated``).
        estimated: ``billed_ms`` is not yet the service's.
        price: The price applied, per ``unit_ms``.
        unit_ms: Milliseconds per unit of ``price``.
        cost: ``price * billed_ms * instance_count / unit_ms``, or ``None`` without a price.
        final: The job has ended and the service reported its billable time.
        unpriced: Why there is no cost.
    """

    instance_type: str
    instance_count: int
    billed_ms: int
    estimated: bool
    cost: Decimal | None
    final: bool
    price: Decimal | None = None
    unit_ms: int | None = None
    unpriced: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as exact decimal strings."""
        plain: dict[str, Any] = _plain(attrs.asdict(self))
        return plain


@attrs.frozen(kw_only=True)
class CostBreakdown:
    """What a hybrid job cost, item by item, in USD.

    Attributes:
        job_arn: The job.
        job_status: Its state when priced.
        instance: Its instances' time.
        tasks: Its quantum tasks, oldest first.
        price_list: The price list used: URL, publication date, version, fetch time.
        computed_at: When the breakdown was made (UTC).
    """

    job_arn: str
    job_status: str
    instance: InstanceCost
    tasks: tuple[TaskCost, ...]
    price_list: PriceListInfo
    computed_at: datetime.datetime

    @property
    def instance_cost(self) -> Decimal:
        """The instances' cost (0 when unpriced)."""
        return self.instance.cost or Decimal(0)

    @property
    def qpu_tasks_cost(self) -> Decimal:
        """The QPU tasks' cost, as ``Tracker.qpu_tasks_cost()`` counts it."""
        return _sum(task.cost for task in self.tasks if task.kind == "qpu")

    @property
    def simulator_tasks_cost(self) -> Decimal:
        """The simulator tasks' cost, as ``Tracker.simulator_tasks_cost()`` counts it."""
        return _sum(task.cost for task in self.tasks if task.kind == "simulator")

    @property
    def tasks_cost(self) -> Decimal:
        """Every priced task's cost."""
        return _sum(task.cost for task in self.tasks)

    @property
    def total(self) -> Decimal:
        """Instances and tasks: everything priced (see :attr:`unpriced` and :attr:`final`)."""
        return _sum([self.instance_cost, self.qpu_tasks_cost, self.simulator_tasks_cost])

    @property
    def final(self) -> bool:
        """Nothing in the breakdown can change any more: the job and its tasks ended."""
        return self.instance.final and all(task.final for task in self.tasks)

    @property
    def pending_tasks(self) -> int:
        """Tasks that have not ended."""
        return sum(1 for task in self.tasks if not task.final)

    @property
    def unpriced(self) -> tuple[str, ...]:
        """What could not be priced, and why; not counted in :attr:`total`."""
        found = [f"task {task.arn}: {task.unpriced}" for task in self.tasks if task.unpriced]
        if self.instance.unpriced:
            found.insert(0, f"instance {self.instance.instance_type}: {self.instance.unpriced}")
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``braket-async cost --json``): the attributes' names, amounts as
        exact decimal strings, times in ISO 8601."""
        return {
            "job_arn": self.job_arn,
            "job_status": str(self.job_status),
            "total": str(self.total),
            "instance_cost": str(self.instance_cost),
            "qpu_tasks_cost": str(self.qpu_tasks_cost),
            "simulator_tasks_cost": str(self.simulator_tasks_cost),
            "final": self.final,
            "pending_tasks": self.pending_tasks,
            "unpriced": list(self.unpriced),
            "instance": self.instance.to_dict(),
            "tasks": [task.to_dict() for task in self.tasks],
            "price_list": _plain(attrs.asdict(self.price_list)),
            "computed_at": self.computed_at.isoformat(),
        }


def _sum(amounts: Iterable[Decimal | None]) -> Decimal:
    total = Decimal(0)
    for amount in amounts:
        if amount is not None:
            total = CONTEXT.add(total, amount)
    return total


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, QuantumTaskState):
        return value.value
    return value
