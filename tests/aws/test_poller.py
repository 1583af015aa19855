"""JobPoller over real HTTP against the emulator, on virtual time.

The emulator's runner ends jobs when a test says so; the session and the emulator's rate
limits share one virtual clock, so polling intervals, backoff and timeouts take no wall
time and nothing here sleeps to wait for something.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import anyio
import attrs
import pytest
from support.aws import session_for
from support.poller import VirtualTime, create_jobs, denying_proxy

from braket_async.aws import AwsSession
from braket_async.aws._poller import JobPoller
from braket_async.emulator import FakeRunner, Faults, RateLimits
from braket_async.emulator.testing import EmulatorStack, emulator_stack
from braket_async.errors import (
    ClosedError,
    ConfigurationError,
    JobNotFoundError,
    JobTimeoutError,
    ServiceError,
)

pytestmark = pytest.mark.anyio

#: A guard against a hang, in wall time; every test finishes far sooner.
WALL_LIMIT = 120
UNKNOWN = "arn:aws:braket:us-east-1:123456789012:job/00000000-0000-0000-0000-000000000000"


@attrs.define
class Rig:
    stack: EmulatorStack
    runner: FakeRunner
    session: AwsSession
    time: VirtualTime

    @property
    def poller(self) -> JobPoller:
        return self.session.poller

    def calls(self, operation: str, counter: str = "calls") -> int:
        return self.stack.emulator.stats.get(operation, counter)

    def created_at(self, arn: str) -> datetime.datetime:
        return self.stack.emulator.service.job(arn).created_at

    def wait(self, arns: Iterable[str], **options: Any) -> list[asyncio.Task[dict[str, Any]]]:
        return [asyncio.ensure_future(self.poller.wait_until_done(arn, **options)) for arn in arns]

    async def until_status(self, arns: Iterable[str], status: str) -> None:
        arns = list(arns)
        await self.time.until(lambda: all(self.poller.cached_status(arn) == status for arn in arns))


@pytest.fixture
async def rig(moto_endpoint: str) -> AsyncIterator[Rig]:
    """Jobs that run until told to end; session and emulator limits on virtual time."""
    time = VirtualTime()
    runner = FakeRunner(auto_finish=False)
    async with (
        emulator_stack(runner=runner, aws_endpoint_url=moto_endpoint, clock=time.now) as stack,
        session_for(stack, clock=time.clock()) as session,
    ):
        yield Rig(stack, runner, session, time)


def guarded(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Fail the test instead of hanging if it does not finish in ``WALL_LIMIT`` s."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> None:
        with anyio.fail_after(WALL_LIMIT):
            await test(*args, **kwargs)

    return run


def report(rig: Rig, label: str, jobs: int) -> None:
    get, search = rig.calls("GetJob"), rig.calls("SearchJobs")
    print(
        f"\n{label}: N={jobs} GetJob {get} ({get / jobs:.2f}/job, "
        f"{rig.calls('GetJob', 'succeeded')} answered), SearchJobs {search} "
        f"({search / jobs:.2f}/job), throttled "
        f"{rig.calls('GetJob', 'throttled') + rig.calls('SearchJobs', 'throttled')}, "
        f"injected 5xx "
        f"{rig.calls('GetJob', 'injected_errors') + rig.calls('SearchJobs', 'injected_errors')}"
    )


@guarded
async def test_hundred_jobs_are_polled_in_batches(rig: Rig) -> None:
    arns = await create_jobs(rig.session, 100)
    first_naps = rig.time.naps
    tasks = rig.wait(arns)
    await rig.until_status(arns, "RUNNING")
    # The first look: nothing is known about the jobs, so by ARN, ten per call.
    assert rig.calls("SearchJobs") == 10
    assert rig.calls("GetJob") == 0

    for arn in arns[:40]:
        rig.runner.finish(arn)
    for arn in arns[40:50]:
        rig.runner.finish(arn, "AlgorithmError: ValueError: bad input, exit code: 1")
    await asyncio.wait(tasks[:50])
    assert all(not task.done() for task in tasks[50:])  # the others still wait
    for arn in arns[50:]:
        rig.runner.finish(arn)
    results = await asyncio.gather(*tasks)

    assert [result["jobArn"] for result in results] == arns
    assert [result["status"] for result in results] == ["COMPLETED"] * 40 + ["FAILED"] * 10 + [
        "COMPLETED"
    ] * 50
    assert all("ResponseMetadata" not in result for result in results)
    assert results[45]["failureReason"].startswith("AlgorithmError: ValueError")
    # GetJob only for the change to a final state: one per job (the target is two).
    assert rig.calls("GetJob") == 100
    # After the first look the creation times are known: one window page per cycle.
    cycles = rig.time.naps - first_naps
    assert 10 < rig.calls("SearchJobs") <= 10 + cycles
    assert all(
        rig.poller.cached_status(arn) == result["status"]
        for arn, result in zip(arns, results, strict=True)
    )
    report(rig, "clean", 100)


@pytest.mark.parametrize("trouble", ["throttling", "faults", "both"])
@guarded
async def test_throttling_and_faults_never_fail_a_wait(rig: Rig, trouble: str) -> None:
    arns = await create_jobs(rig.session, 100)
    emulator = rig.stack.emulator
    if trouble in ("throttling", "both"):
        # A fifth of Braket's rates: the session's own limits (the full rates) are
        # too generous, so the service throttles.
        emulator.set_rate_limits(RateLimits().scaled(0.2))
    if trouble in ("faults", "both"):
        emulator.set_faults(Faults(error_rate=0.3, seed=11))
    tasks = rig.wait(arns)
    for arn in arns[:50]:
        rig.runner.finish(arn)
    await asyncio.wait(tasks[:50])
    for arn in arns[50:]:
        rig.runner.finish(arn, "AlgorithmError: boom")
    results = await asyncio.gather(*tasks)

    assert [result["status"] for result in results] == ["COMPLETED"] * 50 + ["FAILED"] * 50
    assert all(result["failureReason"] == "AlgorithmError: boom" for result in results[50:])
    assert rig.calls("GetJob", "succeeded") <= 200
    if trouble != "faults":
        assert rig.calls("GetJob", "throttled") + rig.calls("SearchJobs", "throttled") > 0
    if trouble != "throttling":
        assert rig.calls("GetJob", "injected_errors") > 0
        assert rig.calls("SearchJobs", "injected_errors") > 0
    report(rig, trouble, 100)


@guarded
async def test_cancelling_one_waiter_leaves_the_others(rig: Rig) -> None:
    first, second, third = await create_jobs(rig.session, 3)
    kept, cancelled, other, alone = rig.wait([first, first, second, third])
    await rig.until_status([first, second, third], "RUNNING")
    cancelled.cancel()
    alone.cancel()  # the only waiter of its job
    for arn in (first, second, third):
        rig.runner.finish(arn)
    assert (await kept)["status"] == "COMPLETED"
    assert (await other)["status"] == "COMPLETED"
    for task in (cancelled, alone):
        with pytest.raises(asyncio.CancelledError):
            await task
    # Nobody waits on the third job any more: it got no GetJob.
    assert rig.calls("GetJob") == 2


@guarded
async def test_timeouts_are_per_waiter(rig: Rig) -> None:
    (arn,) = await create_jobs(rig.session, 1)
    started = rig.time.now()
    short, long = rig.wait([arn, arn], poll_interval_seconds=5)
    brief = asyncio.ensure_future(
        rig.poller.wait_until_done(arn, poll_interval_seconds=5, poll_timeout_seconds=60)
    )
    with pytest.raises(JobTimeoutError) as caught:
        await brief
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.arn == arn
    assert caught.value.timeout == 60
    assert 60 <= rig.time.now() - started <= 65
    assert not short.done()
    assert not long.done()
    rig.runner.finish(arn)
    assert (await short)["status"] == (await long)["status"] == "COMPLETED"


@guarded
async def test_unknown_job_raises_not_found(rig: Rig) -> None:
    with pytest.raises(JobNotFoundError) as caught:
        await rig.poller.wait_until_done(UNKNOWN)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value.__cause__, ServiceError)


@guarded
async def test_bad_arns_fail_only_their_own_waits(rig: Rig) -> None:
    arns = await create_jobs(rig.session, 12)
    good = rig.wait(arns)
    unknown, malformed = rig.wait([UNKNOWN, "not-an-arn"])
    with pytest.raises(JobNotFoundError):
        await unknown
    # A persistent refusal fails the wait with the service's error instead of looping.
    with pytest.raises(ServiceError) as caught:
        await malformed
    assert caught.value.code == "ValidationException"
    for arn in arns:
        rig.runner.finish(arn)
    assert all(result["status"] == "COMPLETED" for result in await asyncio.gather(*good))


@guarded
async def test_a_finished_job_is_answered_from_the_cache(rig: Rig) -> None:
    (arn,) = await create_jobs(rig.session, 1)
    rig.runner.finish(arn, "AlgorithmError: nope")
    metadata = await rig.poller.wait_until_done(arn)
    assert metadata["status"] == "FAILED"
    assert metadata["failureReason"] == "AlgorithmError: nope"
    calls = rig.stack.emulator.stats.snapshot()
    metadata["status"] = "changed by the caller"
    again = await rig.poller.wait_until_done(arn)
    assert again["status"] == "FAILED"
    assert rig.stack.emulator.stats.snapshot() == calls
    assert rig.poller.cached_metadata(arn) == again
    assert rig.poller.cached_status(arn) == "FAILED"
    assert rig.poller.cached_status(UNKNOWN) is None
    assert rig.poller.cached_metadata(UNKNOWN) is None


@guarded
async def test_aclose_wakes_waiters_with_closed_error(rig: Rig) -> None:
    arns = await create_jobs(rig.session, 3)
    tasks = rig.wait(arns)
    await rig.until_status(arns, "RUNNING")
    await rig.poller.aclose()
    for task in tasks:
        with pytest.raises(ClosedError):
            await task
    await rig.poller.aclose()
    with pytest.raises(ClosedError):
        await rig.poller.wait_until_done(arns[0])


@guarded
async def test_creation_time_hints_allow_a_window_at_once(rig: Rig) -> None:
    arns = await create_jobs(rig.session, 100)
    tasks = [
        asyncio.ensure_future(rig.poller.wait_until_done(arn, created_at=rig.created_at(arn)))
        for arn in arns
    ]
    await rig.until_status(arns, "RUNNING")
    assert rig.calls("SearchJobs") == 1
    for arn in arns:
        rig.runner.finish(arn)
    await asyncio.gather(*tasks)
    assert rig.calls("GetJob") == 100


@guarded
async def test_a_crowded_window_is_left_for_asking_by_arn(rig: Rig) -> None:
    # 20 awaited jobs among 240 that nobody awaits: a window would take 3 pages where
    # asking by ARN takes 2 calls.
    watched: list[str] = []
    for index in range(20):
        watched += await create_jobs(rig.session, 1, name=f"watched-{index}")
        await create_jobs(rig.session, 12, name=f"other-{index}")
    tasks = [
        asyncio.ensure_future(rig.poller.wait_until_done(arn, created_at=rig.created_at(arn)))
        for arn in watched
    ]
    naps = rig.time.naps
    await rig.time.until(lambda: rig.time.naps == naps + 1)
    # One page of the window showed it crowded; the rest was asked by ARN.
    first = rig.calls("SearchJobs")
    assert first <= 3
    await rig.time.until(lambda: rig.time.naps == naps + 4)
    assert rig.calls("SearchJobs") - first == 3 * 2
    for arn in watched:
        rig.runner.finish(arn)
    await asyncio.gather(*tasks)
    assert rig.calls("GetJob") == 20


@guarded
async def test_intervals_must_be_positive(fake_session: AwsSession) -> None:
    with pytest.raises(ConfigurationError):
        await fake_session.poller.wait_until_done(UNKNOWN, poll_interval_seconds=0)
    with pytest.raises(ConfigurationError):
        await fake_session.poller.wait_until_done(UNKNOWN, poll_timeout_seconds=-1)


@guarded
async def test_an_outage_of_search_jobs_falls_back_to_get_job(rig: Rig) -> None:
    arns = await create_jobs(rig.session, 12)
    rig.stack.emulator.set_faults(Faults(error_rate=1.0, operations=["SearchJobs"]))
    tasks = rig.wait(arns)
    await rig.until_status(arns, "RUNNING")
    for arn in arns:
        rig.runner.finish(arn)
    assert all(result["status"] == "COMPLETED" for result in await asyncio.gather(*tasks))
    assert rig.calls("SearchJobs", "succeeded") == 0


@guarded
async def test_a_service_that_always_fails_ends_in_timeouts_only(rig: Rig) -> None:
    (arn,) = await create_jobs(rig.session, 1)
    rig.stack.emulator.set_faults(Faults(error_rate=1.0))
    with pytest.raises(JobTimeoutError):
        await rig.poller.wait_until_done(arn, poll_timeout_seconds=120)
    assert rig.calls("GetJob", "injected_errors") > 0


@guarded
async def test_search_jobs_denied_uses_get_job_alone(rig: Rig) -> None:
    arns = await create_jobs(rig.session, 12)
    async with (
        denying_proxy(
            rig.stack.emulator.endpoint_url, lambda method, path: path == "/jobs"
        ) as proxy,
        AwsSession(
            region="us-east-1", endpoint_urls={"braket": proxy.url}, clock=rig.time.clock()
        ) as session,
    ):
        tasks = [asyncio.ensure_future(session.poller.wait_until_done(arn)) for arn in arns]
        await rig.time.until(
            lambda: all(session.poller.cached_status(arn) == "RUNNING" for arn in arns)
        )
        for arn in arns:
            rig.runner.finish(arn)
        assert all(r["status"] == "COMPLETED" for r in await asyncio.gather(*tasks))
    assert proxy.denied == 2  # the first cycle's two batches; then SearchJobs is left alone


@guarded
async def test_access_denied_fails_the_waits(rig: Rig) -> None:
    arns = await create_jobs(rig.session, 3)
    async with (
        denying_proxy(rig.stack.emulator.endpoint_url, lambda method, path: True) as proxy,
        AwsSession(
            region="us-east-1", endpoint_urls={"braket": proxy.url}, clock=rig.time.clock()
        ) as session,
    ):
        tasks = [asyncio.ensure_future(session.poller.wait_until_done(arn)) for arn in arns]
        for task in tasks:
            with pytest.raises(ServiceError) as caught:
                await task
            assert caught.value.code == "AccessDeniedException"
            assert caught.value.status == 403
