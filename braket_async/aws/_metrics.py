"""A remote job's metrics, through CloudWatch Logs Insights.

The official SDK runs one Insights query, waits at most 10 seconds for it and keeps the
first 10,000 rows, so the metrics of a long job come back incomplete without a word.
Here a window that comes back full (Insights' row cap) is split in two halves, each
queried again, down to what one query can hold; queries are waited for as long as
Insights runs them, with backoff; and no more than Insights' 30 concurrent queries run
per session.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
import weakref
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import anyio
import attrs

from .._shield import finish
from ..errors import ServiceError
from ..metrics import MetricsParser, MetricStatistic, MetricType
from ._logs import LOG_GROUP, log_stream_prefix
from ._session import AwsSession
from ._throttle import RetryPolicy

__all__ = ["MAX_CONCURRENT_QUERIES", "query_metrics"]

#: CloudWatch Logs Insights' quota of concurrent queries.
MAX_CONCURRENT_QUERIES = 30
#: The most rows one Insights query returns.
INSIGHTS_ROW_LIMIT = 10_000
# Insights runs a query for at most 60 minutes; wait a little longer before giving up.
_QUERY_TIMEOUT_SECONDS = 65 * 60
_FIRST_POLL_DELAY = 0.1
_MAX_POLL_DELAY = 2.0
# Stopping is a courtesy (a query ends by itself): it must not hold up a cancellation.
_STOP_RETRY = RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=0.5)
_MARKER = "Metrics - "
_FINAL_FAILURES = frozenset({"Failed", "Cancelled", "Timeout", "Unknown"})

# Query slots per session; a weak map so that sessions are not kept alive by it.
_QUERY_SLOTS: weakref.WeakKeyDictionary[AwsSession, anyio.Semaphore] = weakref.WeakKeyDictionary()


def query_slots(session: AwsSession) -> anyio.Semaphore:
    """The semaphore that bounds ``session``'s concurrent Insights queries."""
    slots = _QUERY_SLOTS.get(session)
    if slots is None:
        slots = _QUERY_SLOTS[session] = anyio.Semaphore(MAX_CONCURRENT_QUERIES)
    return slots


@attrs.frozen
class MetricRow:
    """One log event an Insights query returned."""

    timestamp: float  # seconds since the epoch
    message: str
    stream: str | None


async def query_metrics(
    session: AwsSession,
    *,
    job_name: str,
    job_arn: str,
    start: datetime,
    end: datetime | None,
    metric_type: MetricType,
    statistic: MetricStatistic,
) -> dict[str, list[Any]]:
    """Return the metrics a job logged between ``start`` and ``end`` (default: now).

    The ``Metrics - ...`` lines of all the job's instances are found with CloudWatch
    Logs Insights and parsed like :func:`braket_async.metrics.parse_metrics` (a line
    without a ``timestamp`` gets the time it was logged).

    Args:
        session: The session to call CloudWatch Logs with.
        job_name: The job's name.
        job_arn: The job's ARN (its last part names the log streams).
        start: The start of the time range, e.g. the job's ``startedAt``.
        end: The end of the time range, e.g. the job's ``endedAt``; ``None``: now.
        metric_type: The column that keys the rows.
        statistic: Which value wins when several fall into one cell.

    Raises:
        ServiceError: CloudWatch Logs refused a call, or a query failed or timed out.
    """
    rows = await fetch_metric_rows(
        session,
        stream_prefix=log_stream_prefix(job_name, job_arn),
        start=math.floor(start.timestamp()),
        end=math.ceil(end.timestamp() if end is not None else time.time()),
    )
    parser = MetricsParser()
    for row in rows:
        parser.add_line(row.message, timestamp=row.timestamp)
    return parser.get_parsed_metrics(metric_type, statistic)


async def fetch_metric_rows(
    session: AwsSession,
    *,
    stream_prefix: str,
    start: int,
    end: int,
    log_group: str = LOG_GROUP,
    row_limit: int = INSIGHTS_ROW_LIMIT,
) -> list[MetricRow]:
    """Every metrics line of the streams named ``stream_prefix...`` in ``[start, end]``.

    Times are whole seconds since the epoch, both ends included (as Insights takes
    them). Rows come in timestamp order, each once.
    """
    query = (
        "fields @timestamp, @message, @logStream, @ptr"
        f" | filter @logStream like /^{_regex_literal(stream_prefix)}/"
        f" | filter @message like /{_regex_literal(_MARKER)}/"
        f" | sort @timestamp asc | limit {row_limit}"
    )
    found = await _query_window(session, log_group, query, start, end, row_limit)
    seen: set[tuple[float, str | None, str]] = set()
    rows: list[MetricRow] = []
    for row in found:
        # Halves share their middle second, so rows there come twice. An event that
        # really occurs twice (same time, stream and text) is the same metric twice,
        # which no statistic tells apart, so dropping it loses nothing.
        key = (row.timestamp, row.stream, row.message)
        if key in seen:
            continue
        seen.add(key)
        # Not every CloudWatch Logs implementation applies the query's filters (moto
        # does not); apply them here too.
        if _MARKER not in row.message:
            continue
        if row.stream is not None and not row.stream.startswith(stream_prefix):
            continue
        rows.append(row)
    rows.sort(key=lambda row: row.timestamp)  # stable: a stream's order is kept
    return rows


async def _query_window(
    session: AwsSession, log_group: str, query: str, start: int, end: int, row_limit: int
) -> list[MetricRow]:
    rows = await _run_query(session, log_group, query, start, end, row_limit)
    if len(rows) < row_limit:
        return rows
    if end - start < 2:
        # Halves overlap by their middle second (the only split that is complete both
        # where Insights includes the whole last second and where it stops at its
        # first millisecond), so a window of two seconds cannot get smaller.
        warnings.warn(
            f"{row_limit} or more metrics lines were logged in {log_group} between "
            f"{start} and {end} (epoch seconds); only the first {row_limit} were read",
            RuntimeWarning,
            stacklevel=2,
        )
        return rows
    middle = (start + end) // 2
    halves: list[list[MetricRow]] = [[], []]

    async def query_half(index: int, low: int, high: int) -> None:
        halves[index] = await _query_window(session, log_group, query, low, high, row_limit)

    async with anyio.create_task_group() as group:
        group.start_soon(query_half, 0, start, middle)
        group.start_soon(query_half, 1, middle, end)
    return halves[0] + halves[1]


async def _run_query(
    session: AwsSession, log_group: str, query: str, start: int, end: int, row_limit: int
) -> list[MetricRow]:
    retry = attrs.evolve(session.retry, max_attempts=None)
    async with query_slots(session):
        attempt = 0
        while True:
            attempt += 1
            try:
                started = await session.call(
                    "logs",
                    "start_query",
                    retry=retry,
                    logGroupName=log_group,
                    startTime=start,
                    endTime=end,
                    queryString=query,
                    limit=row_limit,
                )
                break
            except ServiceError as exc:
                if exc.code == "ResourceNotFoundException":
                    return []  # no log group: no job of the account ever logged
                # Insights' concurrency quota is per account: other programs' queries
                # count too, so the semaphore alone cannot prevent this.
                if exc.code != "LimitExceededException":
                    raise
            await session.clock.sleep(retry.delay(attempt))
        query_id = str(started["queryId"])
        try:
            results = await _wait_for_results(session, query_id, retry)
        except anyio.get_cancelled_exc_class():
            await finish(_stop_query(session, query_id))
            raise
    return [_row(fields) for fields in results]


async def _wait_for_results(
    session: AwsSession, query_id: str, retry: RetryPolicy
) -> list[list[dict[str, str]]]:
    delay = _FIRST_POLL_DELAY
    waited = 0.0
    while True:
        response = await session.call("logs", "get_query_results", retry=retry, queryId=query_id)
        status = str(response.get("status"))
        if status == "Complete":
            results: list[list[dict[str, str]]] = response.get("results", [])
            return results
        if status in _FINAL_FAILURES:
            raise ServiceError(
                f"Query{status}",
                f"CloudWatch Logs Insights query {query_id} ended as {status}",
                operation="GetQueryResults",
            )
        if waited >= _QUERY_TIMEOUT_SECONDS:
            await _stop_query(session, query_id)
            raise ServiceError(
                "QueryTimeout",
                f"CloudWatch Logs Insights query {query_id} still {status} after {waited:.0f} s",
                operation="GetQueryResults",
            )
        await session.clock.sleep(delay)
        waited += delay
        delay = min(delay * 2, _MAX_POLL_DELAY)


async def _stop_query(session: AwsSession, query_id: str) -> None:
    # A query left running holds one of the account's 30 slots until it ends.
    # Already ended, or the service is unreachable: nothing more to do either way.
    with contextlib.suppress(ServiceError):
        await session.call("logs", "stop_query", retry=_STOP_RETRY, queryId=query_id)


def _row(fields: Iterable[dict[str, str]]) -> MetricRow:
    values = {str(field.get("field")): str(field.get("value", "")) for field in fields}
    return MetricRow(
        timestamp=_seconds(values.get("@timestamp", "")),
        message=values.get("@message", "").rstrip("\r\n"),
        stream=values.get("@logStream"),
    )


def _seconds(timestamp: str) -> float:
    """An Insights ``@timestamp`` in seconds since the epoch.

    Insights answers ``"2023-09-18 13:27:29.822"`` (UTC); moto answers milliseconds
    since the epoch.
    """
    text = timestamp.strip()
    if text.isdigit():
        return int(text) / 1000
    for pattern in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return parsed.replace(tzinfo=timezone.utc).timestamp()
    raise ServiceError(
        "InvalidTimestamp", f"unexpected @timestamp {timestamp!r}", operation="GetQueryResults"
    )


def _regex_literal(text: str) -> str:
    # Insights' regular expressions are delimited by slashes; escape everything that
    # is not a letter or digit so a name cannot change the pattern.
    return "".join(char if char.isalnum() or char in " _" else "\\" + char for char in text)
