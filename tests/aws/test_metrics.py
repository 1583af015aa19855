"""A remote job's metrics through CloudWatch Logs Insights (moto), over real HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone

import anyio
import pytest
from support.aws import ROLE, SV1
from support.logs import (
    LogsProxy,
    RecordingClock,
    fake_job_arn,
    job_prefix,
    moto_session,
    put_events,
    start_job,
    terminal_check,
    unique_job_name,
)

from braket_async.aws import AwsSession
from braket_async.aws._logs import follow_logs
from braket_async.aws._metrics import (
    MAX_CONCURRENT_QUERIES,
    _seconds,
    fetch_metric_rows,
    query_metrics,
    query_slots,
)
from braket_async.errors import ServiceError
from braket_async.metrics import MetricStatistic, MetricType, parse_metrics

pytestmark = pytest.mark.anyio

JOB = """
from braket_async.jobs import log_metric

print("starting", flush=True)
for i in range(12):
    log_metric("energy", 1.0 / (i + 1), iteration_number=i // 2)
    log_metric("fidelity", 0.5 + i / 100, iteration_number=i // 2)
print("done", flush=True)
"""

KINDS = [(metric_type, statistic) for metric_type in MetricType for statistic in MetricStatistic]


def _at(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, tz=timezone.utc)


@pytest.fixture
async def logs_session(moto_endpoint: str) -> AsyncIterator[AwsSession]:
    async with moto_session(moto_endpoint, clock=RecordingClock()) as session:
        yield session


@pytest.fixture
async def proxy(moto_endpoint: str) -> AsyncIterator[LogsProxy]:
    async with LogsProxy(moto_endpoint).running() as running:
        yield running


@pytest.fixture
async def proxied_session(proxy: LogsProxy) -> AsyncIterator[AwsSession]:
    async with moto_session(proxy.endpoint_url, clock=RecordingClock()) as session:
        yield session


async def test_metrics_of_a_real_job_match_parsing_its_log(session: AwsSession) -> None:
    name, arn = await start_job(session, JOB, role_arn=ROLE, device=SV1)
    events = [
        event
        async for event in follow_logs(
            session,
            job_name=name,
            job_arn=arn,
            wait=True,
            poll_interval_seconds=0.1,
            is_terminal=terminal_check(session, arn),
        )
    ]
    job = await session.call("braket", "get_job", jobArn=arn)
    lines = [event.message for event in events]
    assert sum(line.startswith("Metrics - ") for line in lines) == 24
    for metric_type, statistic in KINDS:
        metrics = await query_metrics(
            session,
            job_name=name,
            job_arn=arn,
            start=job["startedAt"],
            end=job["endedAt"],
            metric_type=metric_type,
            statistic=statistic,
        )
        assert metrics == parse_metrics(lines, metric_type, statistic)
    by_iteration = await query_metrics(
        session,
        job_name=name,
        job_arn=arn,
        start=job["startedAt"],
        end=None,  # until now
        metric_type=MetricType.ITERATION_NUMBER,
        statistic=MetricStatistic.MIN,
    )
    assert by_iteration["iteration_number"] == [0, 1, 2, 3, 4, 5]
    assert by_iteration["energy"] == [1 / 2, 1 / 4, 1 / 6, 1 / 8, 1 / 10, 1 / 12]


async def test_only_the_jobs_metric_lines_in_the_window_count(logs_session: AwsSession) -> None:
    name, arn = unique_job_name("metrics"), fake_job_arn()
    base = int(time.time() * 1000)
    lines = [
        (base + 1, "Metrics - timestamp=100.5; loss=0.25; iteration_number=0;"),
        (base + 2, "a plain line"),
        (base + 3, "Metrics - timestamp=101.5; loss=0.5; iteration_number=1;"),
        (base + 4, "Metrics - timestamp=101.5; loss=0.125; accuracy=0.9;"),
    ]
    await put_events(logs_session, f"{job_prefix(name, arn)}/algo-1-1", lines)
    second = [(base + 5, "[node-2] Metrics - timestamp=100.5; loss=0.75; iteration_number=0;")]
    await put_events(logs_session, f"{job_prefix(name, arn)}/algo-2-1", second)
    # The same job name with another UUID (a name reused), and an old-style stream.
    other = [(base + 2, "Metrics - timestamp=100.5; loss=99.0; iteration_number=0;")]
    await put_events(logs_session, f"{job_prefix(name, fake_job_arn())}/algo-1-1", other)
    await put_events(logs_session, f"{name}/algo-1-1", other)

    own = [message for _, message in sorted(lines + second)]
    for metric_type, statistic in KINDS:
        metrics = await query_metrics(
            logs_session,
            job_name=name,
            job_arn=arn,
            start=_at(base - 1000),
            end=_at(base + 1000),
            metric_type=metric_type,
            statistic=statistic,
        )
        assert metrics == parse_metrics(own, metric_type, statistic)
    assert 99.0 not in metrics["loss"]


async def test_a_line_without_a_timestamp_gets_the_time_it_was_logged(
    logs_session: AwsSession,
) -> None:
    name, arn = unique_job_name("metrics"), fake_job_arn()
    logged = int(time.time() * 1000)
    await put_events(
        logs_session, f"{job_prefix(name, arn)}/algo-1-1", [(logged, "Metrics - energy=-1.5;")]
    )
    metrics = await query_metrics(
        logs_session,
        job_name=name,
        job_arn=arn,
        start=_at(logged - 5000),
        end=_at(logged + 5000),
        metric_type=MetricType.TIMESTAMP,
        statistic=MetricStatistic.MAX,
    )
    assert metrics == {"energy": [-1.5], "timestamp": [logged / 1000]}


def test_insights_timestamps_are_read_in_both_forms() -> None:
    assert _seconds("2023-09-18 13:27:29.822") == pytest.approx(1695043649.822)
    assert _seconds("2023-09-18 13:27:29") == 1695043649.0
    assert _seconds("1695043649822") == 1695043649.822
    with pytest.raises(ServiceError):
        _seconds("yesterday")


async def test_full_windows_are_split_until_every_row_is_read(
    logs_session: AwsSession,
) -> None:
    # An own log group and a window days ago: moto ignores the query's filters, so only
    # this test's events may be in it.
    group = f"/braket-async-tests/{uuid.uuid4().hex}"
    start = int(time.time()) - 3 * 86400
    name, arn = unique_job_name("split"), fake_job_arn()
    prefix = job_prefix(name, arn)
    own = [(start * 1000 + 100 + 500 * k, f"Metrics - timestamp={k}; step={k};") for k in range(50)]
    noise = [
        (start * 1000 + 300 + 1000 * k, f"Metrics - timestamp={k}; step=-1;") for k in range(25)
    ]
    await put_events(logs_session, f"{prefix}/algo-1-1", own, group=group)
    await put_events(logs_session, f"other/{uuid.uuid4()}/algo-1-1", noise, group=group)

    rows = await fetch_metric_rows(
        logs_session,
        stream_prefix=f"{prefix}/",
        start=start,
        end=start + 26,
        log_group=group,
        row_limit=10,
    )
    assert [row.message for row in rows] == [message for _, message in own]
    assert [row.timestamp for row in rows] == [stamp / 1000 for stamp, _ in own]
    assert {row.stream for row in rows} == {f"{prefix}/algo-1-1"}

    whole = await fetch_metric_rows(
        logs_session, stream_prefix=f"{prefix}/", start=start, end=start + 26, log_group=group
    )
    assert whole == rows


async def test_a_full_window_too_short_to_split_warns(logs_session: AwsSession) -> None:
    group = f"/braket-async-tests/{uuid.uuid4().hex}"
    start = int(time.time()) - 2 * 86400
    events = [(start * 1000 + 10 * k, f"Metrics - timestamp={k}; step={k};") for k in range(3)]
    await put_events(logs_session, "dense/x/algo-1-1", events, group=group)
    with pytest.warns(RuntimeWarning, match="only the first 2 were read"):
        rows = await fetch_metric_rows(
            logs_session,
            stream_prefix="dense/x/",
            start=start,
            end=start + 1,
            log_group=group,
            row_limit=2,
        )
    assert len(rows) == 2


async def test_queries_are_waited_for_with_backoff(
    proxy: LogsProxy, proxied_session: AwsSession
) -> None:
    name, arn = unique_job_name("metrics"), fake_job_arn()
    logged = int(time.time() * 1000)
    line = "Metrics - timestamp=7.0; energy=0.5;"
    await put_events(proxied_session, f"{job_prefix(name, arn)}/algo-1-1", [(logged, line)])
    proxy.statuses = ["Scheduled"] + ["Running"] * 6
    proxy.errors["StartQuery"] = ["LimitExceededException", "ThrottlingException"]
    proxy.errors["GetQueryResults"] = ["ServiceUnavailableException"]
    metrics = await query_metrics(
        proxied_session,
        job_name=name,
        job_arn=arn,
        start=_at(logged - 1000),
        end=_at(logged + 1000),
        metric_type=MetricType.TIMESTAMP,
        statistic=MetricStatistic.MAX,
    )
    assert metrics == {"timestamp": [7.0], "energy": [0.5]}
    assert not proxy.statuses
    assert not any(proxy.errors.values())
    assert proxy.calls["StartQuery"] == 3
    assert isinstance(proxied_session.clock, RecordingClock)
    polls = [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    sleeps = proxied_session.clock.sleeps
    assert sleeps[-len(polls) :] == polls  # no 10-second give-up, capped backoff


async def test_a_failed_query_raises(proxy: LogsProxy, proxied_session: AwsSession) -> None:
    proxy.statuses = ["Running", "Failed"]
    with pytest.raises(ServiceError, match="ended as Failed") as caught:
        await query_metrics(
            proxied_session,
            job_name="failing",
            job_arn=fake_job_arn(),
            start=_at(int(time.time() * 1000) - 1000),
            end=None,
            metric_type=MetricType.TIMESTAMP,
            statistic=MetricStatistic.MAX,
        )
    assert caught.value.code == "QueryFailed"


async def test_at_most_30_queries_run_at_once_per_session(
    proxy: LogsProxy, proxied_session: AwsSession, logs_session: AwsSession
) -> None:
    assert query_slots(proxied_session) is query_slots(proxied_session)
    assert query_slots(proxied_session) is not query_slots(logs_session)
    await put_events(logs_session, "slots/x/algo-1-1", [(int(time.time() * 1000), "x")])
    proxy.hold = anyio.Event()
    now = int(time.time())
    count = MAX_CONCURRENT_QUERIES + 10
    done: list[int] = []

    async def fetch(index: int) -> None:
        await fetch_metric_rows(proxied_session, stream_prefix="slots/x/", start=now, end=now)
        done.append(index)

    async with anyio.create_task_group() as group:
        for index in range(count):
            group.start_soon(fetch, index)
        await proxy.wait_held(MAX_CONCURRENT_QUERIES)
        await anyio.wait_all_tasks_blocked()
        assert proxy.calls["StartQuery"] == MAX_CONCURRENT_QUERIES
        proxy.hold.set()
    assert sorted(done) == list(range(count))
    assert proxy.calls["StartQuery"] == count


async def test_a_cancelled_wait_stops_its_query(
    proxy: LogsProxy, proxied_session: AwsSession
) -> None:
    proxy.hold = anyio.Event()
    now = int(time.time())
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: fetch_metric_rows(
                    proxied_session, stream_prefix="cancel/", start=now, end=now
                )
            )
            await proxy.wait_held(1)
            scope.cancel()
    assert scope.cancelled_caught
    assert proxy.calls["StopQuery"] == 1
    # The slot was given back.
    assert query_slots(proxied_session).value == MAX_CONCURRENT_QUERIES
