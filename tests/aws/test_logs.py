"""Following a remote job's CloudWatch Logs: real jobs on the emulator, and moto directly."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from support.aws import ROLE, SV1, session_for
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

from braket_async.aws import AwsSession, Clock, RetryPolicy
from braket_async.aws._logs import LogEvent, RemoteLogStream, follow_logs, log_stream_prefix
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import ServiceError

pytestmark = pytest.mark.anyio

JOB = """
import time
from braket_async.jobs import log_metric

for i in range(30):
    print(f"line {i}", flush=True)
    if i % 10 == 9:
        time.sleep(0.3)  # the job runs through several reads of the log
for i in range(3):
    log_metric("energy", -0.5 * i, iteration_number=i)
print("done", flush=True)
"""


async def _collect(events: AsyncIterator[LogEvent]) -> list[LogEvent]:
    return [event async for event in events]


def _now_ms() -> int:
    return int(time.time() * 1000)


class CountingClock(Clock):
    """Real sleeps, counted: tells whether a follower polled."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        super().__init__(sleep=self._sleep)

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(seconds)


@pytest.fixture
async def logs_session(moto_endpoint: str) -> AsyncIterator[AwsSession]:
    """A session on moto's CloudWatch Logs whose sleeps take no time."""
    async with moto_session(moto_endpoint, clock=RecordingClock()) as session:
        yield session


def _scripted(steps: list[Callable[[], Awaitable[bool]]]) -> Callable[[], Awaitable[bool]]:
    """An ``is_terminal`` that runs the next step on each call and returns its answer."""
    calls = iter(steps)

    async def is_terminal() -> bool:
        return await next(calls)()

    return is_terminal


# --- real jobs on the emulator --------------------------------------------------------


async def test_following_a_job_yields_every_line_once_then_ends(stack: EmulatorStack) -> None:
    clock = CountingClock()
    async with session_for(stack, clock=clock) as session:
        name, arn = await start_job(session, JOB, role_arn=ROLE, device=SV1)
        live = await _collect(
            follow_logs(
                session,
                job_name=name,
                job_arn=arn,
                wait=True,
                poll_interval_seconds=0.1,
                is_terminal=terminal_check(session, arn),
            )
        )
        assert (await session.call("braket", "get_job", jobArn=arn))["status"] == "COMPLETED"
        assert clock.sleeps  # it followed the job while it ran
        messages = [event.message for event in live]
        assert messages[:30] == [f"line {i}" for i in range(30)]
        assert all(line.startswith("Metrics - timestamp=") for line in messages[30:33])
        assert messages[33:] == ["done"]
        assert {event.instance for event in live} == {"algo-1"}
        assert [event.timestamp for event in live] == sorted(event.timestamp for event in live)
        assert all(str(event) == event.message for event in live)

        # A finished job is read at once, in one read, and ends without waiting.
        clock.sleeps.clear()
        checks = 0

        async def ended() -> bool:
            nonlocal checks
            checks += 1
            return True

        again = await _collect(
            follow_logs(
                session,
                job_name=name,
                job_arn=arn,
                wait=True,
                poll_interval_seconds=60,
                is_terminal=ended,
            )
        )
        assert again == live
        assert (checks, clock.sleeps) == (1, [])
        assert (
            await _collect(
                follow_logs(
                    session,
                    job_name=name,
                    job_arn=arn,
                    wait=False,
                    poll_interval_seconds=60,
                    is_terminal=ended,
                )
            )
            == live
        )
        assert checks == 1  # without wait, the job's state is not asked


async def test_two_instances_are_merged_by_timestamp(session: AwsSession) -> None:
    name, arn = await start_job(session, JOB, role_arn=ROLE, device=SV1, instance_count=2)
    live = await _collect(
        follow_logs(
            session,
            job_name=name,
            job_arn=arn,
            wait=True,
            poll_interval_seconds=0.1,
            is_terminal=terminal_check(session, arn),
        )
    )
    by_instance = {
        instance: [event.message for event in live if event.instance == instance]
        for instance in ("algo-1", "algo-2")
    }
    assert len(live) == 2 * 34
    for messages in by_instance.values():
        assert messages[:30] == [f"line {i}" for i in range(30)]
        assert messages[-1] == "done"

    finished = await _collect(
        follow_logs(
            session,
            job_name=name,
            job_arn=arn,
            wait=False,
            poll_interval_seconds=0.1,
            is_terminal=terminal_check(session, arn),
        )
    )
    assert sorted(finished, key=lambda e: e.timestamp) == finished  # one read: fully merged
    assert sorted(map(repr, finished)) == sorted(map(repr, live))


# --- moto's CloudWatch Logs directly -------------------------------------------------


async def test_late_streams_and_the_last_lines_are_read(logs_session: AwsSession) -> None:
    name, arn = unique_job_name(), fake_job_arn()
    prefix = job_prefix(name, arn)
    first, second = f"{prefix}/algo-1-1700000000", f"{prefix}/algo-2-1700000000"
    base = _now_ms()
    cycle = 0

    def step(
        done: bool, *writes: tuple[str, list[tuple[int, str]]]
    ) -> Callable[[], Awaitable[bool]]:
        async def run() -> bool:
            nonlocal cycle
            cycle += 1
            for stream, events in writes:
                await put_events(logs_session, stream, events)
            return done

        return run

    # Someone else's streams: the same name with another UUID, and an old-style name.
    await put_events(
        logs_session, f"{name}/{fake_job_arn().rsplit('/')[-1]}/algo-1-1", [(base, "other job")]
    )
    await put_events(logs_session, f"{name}/algo-1-1", [(base, "old job")])

    is_terminal = _scripted(
        [
            step(False),  # no stream yet
            step(False, (first, [(base + 1, "a0"), (base + 2, "a1")])),
            step(
                False, (second, [(base + 3, "b0"), (base + 5, "b1")]), (first, [(base + 4, "a2")])
            ),
            # The job has ended, and its last lines arrive just then.
            step(True, (first, [(base + 6, "a3")]), (second, [(base + 6, "b2")])),
        ]
    )
    seen = [
        (cycle, event.instance, event.message)
        async for event in follow_logs(
            logs_session,
            job_name=name,
            job_arn=arn,
            wait=True,
            poll_interval_seconds=5,
            is_terminal=is_terminal,
        )
    ]
    assert seen == [
        (2, "algo-1", "a0"),
        (2, "algo-1", "a1"),
        (3, "algo-2", "b0"),
        (3, "algo-1", "a2"),
        (3, "algo-2", "b1"),
        (4, "algo-1", "a3"),
        (4, "algo-2", "b2"),
    ]
    assert isinstance(logs_session.clock, RecordingClock)
    assert logs_session.clock.sleeps == [5, 5, 5]  # between reads only, none before the first


async def test_streams_are_merged_by_timestamp_keeping_each_streams_order(
    logs_session: AwsSession,
) -> None:
    name, arn = unique_job_name(), fake_job_arn()
    prefix = job_prefix(name, arn)
    base = _now_ms()
    await put_events(
        logs_session,
        f"{prefix}/algo-2-1",
        [(base + 1, "2a"), (base + 3, "2b"), (base + 3, "2c"), (base + 9, "2d")],
    )
    await put_events(
        logs_session, f"{prefix}/algo-1-1", [(base, "1a"), (base + 3, "1b"), (base + 4, "1c")]
    )
    await put_events(logs_session, f"{prefix}/algo-10-1", [(base + 2, "10a"), (base + 3, "10b")])
    events = await _collect(
        follow_logs(
            logs_session,
            job_name=name,
            job_arn=arn,
            wait=False,
            poll_interval_seconds=1,
            is_terminal=_scripted([]),
        )
    )
    assert [event.message for event in events] == [
        "1a", "2a", "10a", "1b", "2b", "2c", "10b", "1c", "2d",
    ]  # fmt: skip
    assert [event.timestamp for event in events][:2] == [base / 1000, (base + 1) / 1000]
    assert [event.instance for event in events][:3] == ["algo-1", "algo-2", "algo-10"]


async def test_many_streams_are_listed_page_by_page(logs_session: AwsSession) -> None:
    name, arn = unique_job_name(), fake_job_arn()
    prefix = job_prefix(name, arn)
    base = _now_ms()
    for index in range(1, 56):  # DescribeLogStreams pages hold 50
        await put_events(logs_session, f"{prefix}/algo-{index}-1", [(base + index, f"{index}")])
    events = await _collect(
        follow_logs(
            logs_session,
            job_name=name,
            job_arn=arn,
            wait=False,
            poll_interval_seconds=1,
            is_terminal=_scripted([]),
        )
    )
    assert [event.message for event in events] == [str(index) for index in range(1, 56)]


async def test_old_jobs_have_streams_named_without_the_uuid(logs_session: AwsSession) -> None:
    name = unique_job_name()
    arn = f"arn:aws:braket:us-east-1:123456789012:job/{name}"
    assert log_stream_prefix(name, arn) == f"{name}/algo-"
    await put_events(logs_session, f"{name}/algo-1-1600000000", [(_now_ms(), "old style")])
    events = await _collect(
        follow_logs(
            logs_session,
            job_name=name,
            job_arn=arn,
            wait=False,
            poll_interval_seconds=1,
            is_terminal=_scripted([]),
        )
    )
    assert events == [LogEvent(events[0].timestamp, "old style", "algo-1")]


async def test_no_log_group_yet_means_no_events(moto_endpoint: str) -> None:
    # A region of moto where nothing was ever logged: the group does not exist.
    async with moto_session(moto_endpoint, region="ap-southeast-2") as session:
        events = await _collect(
            follow_logs(
                session,
                job_name="never",
                job_arn=fake_job_arn(),
                wait=False,
                poll_interval_seconds=1,
                is_terminal=_scripted([]),
            )
        )
    assert events == []


async def test_throttling_never_ends_the_stream(moto_endpoint: str) -> None:
    clock = RecordingClock()
    async with (
        LogsProxy(moto_endpoint).running() as proxy,
        moto_session(
            proxy.endpoint_url,
            clock=clock,
            # The session would give up after 2 attempts; following logs must not.
            retry=RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=4),
        ) as session,
    ):
        name, arn = unique_job_name(), fake_job_arn()
        stream = f"{job_prefix(name, arn)}/algo-1-1"
        base = _now_ms()
        await put_events(session, stream, [(base, "first")])
        proxy.errors["DescribeLogStreams"] = ["ThrottlingException"] * 3
        proxy.errors["GetLogEvents"] = ["ThrottlingException", "ServiceUnavailableException"] * 3
        written = 0

        async def is_terminal() -> bool:
            nonlocal written
            written += 1
            await put_events(session, stream, [(base + written, f"line {written}")])
            if written == 2:
                # Throttled again in the middle of following.
                proxy.errors["GetLogEvents"] = ["ThrottlingException"] * 4
            return written == 3

        events = await _collect(
            follow_logs(
                session,
                job_name=name,
                job_arn=arn,
                wait=True,
                poll_interval_seconds=5,
                is_terminal=is_terminal,
            )
        )
    assert [event.message for event in events] == ["first", "line 1", "line 2", "line 3"]
    assert not any(proxy.errors.values())  # every injected error was answered
    assert clock.sleeps.count(5) == 2
    assert len(clock.sleeps) > 2 + 3 + 6  # backoffs besides the polling pauses


async def test_errors_other_than_throttling_are_raised(moto_endpoint: str) -> None:
    async with (
        LogsProxy(moto_endpoint).running() as proxy,
        moto_session(proxy.endpoint_url, clock=RecordingClock()) as session,
    ):
        proxy.errors["DescribeLogStreams"] = ["AccessDeniedException"]
        with pytest.raises(ServiceError) as caught:
            await _collect(
                follow_logs(
                    session,
                    job_name="denied",
                    job_arn=fake_job_arn(),
                    wait=False,
                    poll_interval_seconds=1,
                    is_terminal=_scripted([]),
                )
            )
    assert caught.value.code == "AccessDeniedException"


# --- RemoteLogStream --------------------------------------------------------------------

EVENTS = [
    LogEvent(1.0, "one", "algo-1"),
    LogEvent(1.5, "two", "algo-2"),
    LogEvent(2.0, "three", "algo-1"),
    LogEvent(2.5, "six", "algo-6"),
]


async def _events() -> AsyncIterator[LogEvent]:
    for event in EVENTS:
        yield event


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_awaiting_a_stream_prints_plain_lines_to_a_file() -> None:
    out = io.StringIO()
    await RemoteLogStream(_events, file=out)
    assert out.getvalue() == "one\ntwo\nthree\nsix\n"


async def test_colour_per_instance_on_a_terminal_or_when_asked() -> None:
    coloured = "\x1b[34mone\x1b[0m\n\x1b[35mtwo\x1b[0m\n\x1b[34mthree\x1b[0m\n\x1b[34msix\x1b[0m\n"
    out = io.StringIO()
    await RemoteLogStream(_events, file=out, color=True)
    assert out.getvalue() == coloured
    terminal = Terminal()
    await RemoteLogStream(_events, file=terminal)
    assert terminal.getvalue() == coloured
    plain = Terminal()
    await RemoteLogStream(_events, file=plain, color=False)
    assert plain.getvalue() == "one\ntwo\nthree\nsix\n"


async def test_iterating_a_stream_yields_events_each_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = RemoteLogStream(_events)
    assert [event async for event in stream] == EVENTS
    assert [str(event) async for event in stream] == ["one", "two", "three", "six"]
    await stream  # standard output, resolved when printing
    assert capsys.readouterr().out == "one\ntwo\nthree\nsix\n"
