"""SearchJobs, SearchQuantumTasks and SearchDevices: filters and keyset pagination."""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from ._errors import validation_error
from ._jobs import JobRecord
from ._tasks import QuantumTaskRecord

__all__ = ["job_filter", "newest_first", "page", "task_filter"]


class _Created(Protocol):
    @property
    def arn(self) -> str: ...

    @property
    def created_at(self) -> datetime.datetime: ...


R = TypeVar("R", bound=_Created)


_TIME_OPERATORS: dict[str, Callable[[datetime.datetime, list[datetime.datetime]], bool]] = {
    "LT": lambda a, b: a < b[0],
    "LTE": lambda a, b: a <= b[0],
    "GT": lambda a, b: a > b[0],
    "GTE": lambda a, b: a >= b[0],
    "EQUAL": lambda a, b: a in b,
    "BETWEEN": lambda a, b: b[0] <= a <= b[1],
}


def job_filter(spec: dict[str, Any]) -> Callable[[JobRecord], bool]:
    """The predicate of one SearchJobs filter."""
    name, operator, values = spec["name"], spec["operator"], list(spec["values"])
    if operator == "BETWEEN" and len(values) != 2:
        raise validation_error("The BETWEEN operator takes exactly two values")
    if name == "createdAt":
        if operator == "CONTAINS":
            raise validation_error("createdAt filters take LT, LTE, GT, GTE, EQUAL or BETWEEN")
        times = [_parse_time(value) for value in values]
        compare = _TIME_OPERATORS[operator]
        return lambda job: bool(compare(job.created_at, times))
    # The service filters on these two names only (API reference, SearchJobsFilter); a
    # client that filters on status here would break against the real service.
    if name != "jobArn":
        raise validation_error(
            f"Invalid filter name {name!r}: filter name can be either jobArn or createdAt"
        )

    def field(job: JobRecord) -> str:
        return job.arn

    if operator == "EQUAL":
        wanted = set(values)
        return lambda job: field(job) in wanted
    if operator == "CONTAINS":
        return lambda job: any(value in field(job) for value in values)
    raise validation_error(f"jobArn filters take EQUAL or CONTAINS, not {operator}")


#: SearchQuantumTasks' filter names (API reference, SearchQuantumTasksFilter) and the
#: field each one compares.
_TASK_FIELDS: dict[str, Callable[[QuantumTaskRecord], str | None]] = {
    "quantumTaskArn": lambda task: task.arn,
    "deviceArn": lambda task: task.device_arn,
    "jobArn": lambda task: task.job_arn,
    "status": lambda task: task.status.value,
}


def task_filter(spec: dict[str, Any]) -> Callable[[QuantumTaskRecord], bool]:
    """The predicate of one SearchQuantumTasks filter."""
    name, operator, values = spec["name"], spec["operator"], list(spec["values"])
    if operator == "BETWEEN" and len(values) != 2:
        raise validation_error("The BETWEEN operator takes exactly two values")
    if name == "createdAt":
        times = [_parse_time(value) for value in values]
        compare = _TIME_OPERATORS[operator]
        return lambda task: bool(compare(task.created_at, times))
    field = _TASK_FIELDS.get(name)
    if field is None:
        raise validation_error(
            f"Invalid filter name {name!r}: filter name can be either quantumTaskArn, "
            "deviceArn, jobArn, status or createdAt"
        )
    if operator != "EQUAL":
        raise validation_error(f"{name} filters take the EQUAL operator, not {operator}")
    wanted = set(values)
    return lambda task: field(task) in wanted


def _parse_time(value: str) -> datetime.datetime:
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc)
        except ValueError:
            raise validation_error(
                f"Invalid time {value!r}: use ISO 8601 or seconds since the epoch"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


def newest_first(
    records: Iterable[R],
    params: dict[str, Any],
    *,
    filter_of: Callable[[dict[str, Any]], Callable[[R], bool]],
    item: Callable[[R], dict[str, Any]],
    field: str,
) -> dict[str, Any]:
    """One page of a Search operation on jobs or tasks: its filters AND-ed, newest first."""
    predicates = [filter_of(spec) for spec in params["filters"]]
    found = [record for record in records if all(match(record) for match in predicates)]
    found.sort(key=lambda record: (record.created_at, record.arn), reverse=True)
    return page(
        found,
        params,
        key=lambda record: [record.created_at.isoformat(), record.arn],
        item=item,
        field=field,
        descending=True,
    )


def page(
    items: list[Any],
    params: dict[str, Any],
    *,
    key: Callable[[Any], list[str]],
    item: Callable[[Any], dict[str, Any]],
    field: str,
    descending: bool,
) -> dict[str, Any]:
    """One page of sorted ``items``; the token names the last item shown.

    A keyset token (rather than an offset) keeps pages stable while jobs are created.
    """
    limit = params.get("maxResults", 100)
    token = params.get("nextToken")
    if token is not None:
        try:
            after = json.loads(base64.urlsafe_b64decode(token.encode()))
        except (binascii.Error, ValueError):
            raise validation_error("Invalid nextToken") from None
        if not isinstance(after, list):
            raise validation_error("Invalid nextToken")
        items = [
            candidate
            for candidate in items
            if (key(candidate) < after if descending else key(candidate) > after)
        ]
    page = items[:limit]
    document: dict[str, Any] = {field: [item(entry) for entry in page]}
    if len(items) > limit:
        document["nextToken"] = base64.urlsafe_b64encode(
            json.dumps(key(page[-1])).encode()
        ).decode()
    return document
