"""One client side of the remote-jobs benchmark, in a fresh interpreter.

Run by ``remote_jobs.py``::

    python benchmarks/_remote_side.py {ours|official} --jobs N --source algo.py \\
        --tag TAG --poll-interval 5 --create-rate 1 --out side.json

The environment points every AWS client at the emulator and moto (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_BRAKET``, fake credentials); nothing else is configured, as a user of
either SDK would do. It creates N jobs, awaits every result and writes a JSON report:
wall time (first create to last result), completed and failed jobs with their errors,
peak RSS and the peak number of threads.

Threads are sampled without adding one: an asyncio task samples for ``ours``, the main
thread (which only waits for the pool) for ``official``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import functools
import json
import os
import re
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEVICE = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
EXPECTED_RESULT = {"ok": 1}
SAMPLE_SECONDS = 0.05


@dataclass
class Peaks:
    """The most threads seen at once, in all and by kind (name without its number)."""

    threads: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def sample(self) -> None:
        self.threads = max(self.threads, _os_threads())
        kinds = collections.Counter(
            re.sub(r"[-_]?\d+(_\d+)?( \(.*\))?$", "", thread.name)
            for thread in threading.enumerate()
        )
        for kind, count in kinds.items():
            self.by_kind[kind] = max(self.by_kind.get(kind, 0), count)


@dataclass
class Report:
    """What one side measured (JSON-serialised for the parent)."""

    side: str
    jobs: int
    completed: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    error_example: str = ""
    start_epoch: float = 0.0  # time.time() at the first create
    wall_seconds: float = 0.0
    last_create_seconds: float = 0.0
    rss_before_mb: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_seconds: float = 0.0
    peak_threads: int = 0
    thread_kinds: dict[str, int] = field(default_factory=dict)


@dataclass
class Outcome:
    """One job: when its create and its result returned (seconds from the start)."""

    created_at: float | None = None
    error: BaseException | None = None
    result: Any = None


def _os_threads() -> int:
    """The process's OS threads (``Threads:`` of /proc/self/status), all of them."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return threading.active_count()


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _error_kind(error: BaseException) -> str:
    """The exception's class, with the service's error code when it has one."""
    code = getattr(error, "code", None)
    response = getattr(error, "response", None)
    if code is None and isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
    return f"{type(error).__name__}({code})" if code else type(error).__name__


def _tally(report: Report, outcomes: list[Outcome]) -> None:
    errors: collections.Counter[str] = collections.Counter()
    for outcome in outcomes:
        if outcome.error is None and outcome.result == EXPECTED_RESULT:
            report.completed += 1
            continue
        report.failed += 1
        error = outcome.error or ValueError(f"unexpected result {outcome.result!r}")
        errors[_error_kind(error)] += 1
        if not report.error_example:
            report.error_example = f"{type(error).__name__}: {error}"[:300]
    report.errors = dict(errors.most_common())
    created = [outcome.created_at for outcome in outcomes if outcome.created_at is not None]
    report.last_create_seconds = max(created, default=0.0)


# -- ours ------------------------------------------------------------------------------


def _rates(create_rate: float) -> dict[str, Any]:
    """Our default rates, with the CreateJob rate a user whose quota differs says so."""
    from braket_async.aws import OperationRate
    from braket_async.aws._throttle import DEFAULT_BRAKET_RATES

    create = DEFAULT_BRAKET_RATES["CreateJob"]
    return {**DEFAULT_BRAKET_RATES, "CreateJob": OperationRate(create_rate, create.burst)}


async def _sample_forever(peaks: Peaks) -> None:
    while True:
        peaks.sample()
        await asyncio.sleep(SAMPLE_SECONDS)


async def _run_ours(options: argparse.Namespace, report: Report, peaks: Peaks) -> None:
    from braket_async.aws import AwsQuantumJob, AwsSession

    outcomes = [Outcome() for _ in range(options.jobs)]
    sampler = functools.partial(_sample_forever, peaks)

    async with AwsSession(rates=_rates(options.create_rate)) as session:
        start = time.monotonic()
        report.start_epoch = time.time()

        async def one(index: int) -> None:
            outcome = outcomes[index]
            try:
                job = await AwsQuantumJob.create(
                    DEVICE,
                    options.source,
                    job_name=f"{options.tag}-{index}",
                    aws_session=session,
                )
                outcome.created_at = time.monotonic() - start
                outcome.result = await job.result(poll_interval_seconds=options.poll_interval)
            except Exception as exc:
                outcome.error = exc

        sampling = asyncio.ensure_future(sampler())
        try:
            await asyncio.gather(*(one(index) for index in range(options.jobs)))
            report.wall_seconds = time.monotonic() - start
        finally:
            sampling.cancel()
    _tally(report, outcomes)


async def _run_sweep(options: argparse.Namespace, report: Report, peaks: Peaks) -> None:
    """The same jobs as one ``braket_async.sweep`` within the concurrent-jobs quota."""
    from braket_async import sweep
    from braket_async.aws import AwsSession

    sampler = functools.partial(_sample_forever, peaks)

    async with AwsSession(rates=_rates(options.create_rate)) as session:
        start = time.monotonic()
        report.start_epoch = time.time()
        sampling = asyncio.ensure_future(sampler())
        try:
            points = await sweep(
                options.source,
                points=[{"index": index} for index in range(options.jobs)],
                target=session,
                device=DEVICE,
                job_name_prefix=options.tag,
                concurrent_jobs_quota=options.concurrent_jobs_quota,
                poll_interval_seconds=options.poll_interval,
                progress=False,
            )
            report.wall_seconds = time.monotonic() - start
        finally:
            sampling.cancel()
    _tally(report, [Outcome(created_at=0.0, error=p.error, result=p.result) for p in points])


# -- the official SDK ------------------------------------------------------------------


def _run_official(options: argparse.Namespace, report: Report, peaks: Peaks) -> None:
    from braket.aws import AwsQuantumJob  # type: ignore[import-untyped]

    # result() downloads model.tar.gz into the working directory: give it one of its own.
    os.chdir(options.workdir)
    outcomes = [Outcome() for _ in range(options.jobs)]
    start = time.monotonic()
    report.start_epoch = time.time()

    def one(index: int) -> None:
        outcome = outcomes[index]
        try:
            job = AwsQuantumJob.create(
                DEVICE,
                str(options.source),
                job_name=f"{options.tag}-{index}",
                wait_until_complete=False,
            )
            outcome.created_at = time.monotonic() - start
            outcome.result = job.result(poll_interval_seconds=options.poll_interval)
        except Exception as exc:
            outcome.error = exc

    with concurrent.futures.ThreadPoolExecutor(max_workers=options.jobs) as pool:
        pending = {pool.submit(one, index) for index in range(options.jobs)}
        while pending:
            peaks.sample()
            _, pending = concurrent.futures.wait(pending, timeout=SAMPLE_SECONDS)
        report.wall_seconds = time.monotonic() - start
    _tally(report, outcomes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("side", choices=("ours", "official", "sweep"))
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--tag", required=True, help="job names are <tag>-<index>")
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--create-rate", type=float, default=1.0)
    parser.add_argument("--concurrent-jobs-quota", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()

    report = Report(side=options.side, jobs=options.jobs)
    peaks = Peaks()
    # The SDK under test is imported before the baseline, so that RSS growth is the jobs'.
    run: Callable[[], None]
    if options.side in ("ours", "sweep"):
        import braket_async.aws  # noqa: F401

        def run() -> None:
            main = _run_sweep if options.side == "sweep" else _run_ours
            asyncio.run(main(options, report, peaks))
    else:
        import braket.aws  # type: ignore[import-untyped]  # noqa: F401

        def run() -> None:
            _run_official(options, report, peaks)

    report.rss_before_mb = _rss_mb()
    peaks.sample()
    run()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report.peak_rss_mb = usage.ru_maxrss / 1024
    report.cpu_seconds = usage.ru_utime + usage.ru_stime
    report.peak_threads = peaks.threads
    report.thread_kinds = dict(sorted(peaks.by_kind.items()))
    options.out.write_text(json.dumps(asdict(report), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
