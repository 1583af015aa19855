"""Local jobs on this machine: start-up cost, concurrency and log streaming.

Run from the repository root::

    .venv/bin/python benchmarks/local_jobs.py [--runtime process|docker|both] [--repeat N]

It prints tables, then a summary of measured values against targets with PASS/FAIL. It
always exits 0: it is a report, not a test.

What is timed:

- **Trivial job.** ``await LocalQuantumJob.create(...)`` of a module that does nothing,
  through ``await job.wait()`` (the job's record is final), inside one running event loop:
  interpreter start, imports and event loop start are not counted. Each repeat is paired
  with one run of the runtime's physical floor, measured in the same run:
  ``sys.executable -c pass`` as an asyncio subprocess for the process runtime, and the wall
  time of ``docker run --rm --network none <image> python3 -c pass`` for Docker. One
  untimed warm-up of each comes first.
- **Concurrency.** 20 trivial jobs on one runtime with ``max_concurrent_jobs`` 1, 4 and
  20: from the first ``create()`` until every job's record is final; next to it, the
  floor command run 20 times with as many at once.
- **Log streaming.** A job prints ``--lines`` lines (default 100,000), each carrying
  ``time.time()`` at print; ``async for line in job.logs(wait=True)`` receives them.
  Latency = ``time.time()`` when the iterator yields the line - the printed time (the job
  and this script share the host's clock, also in a container).

Each section also reports this process's peak OS threads (sampled every 50 ms) and peak
RSS. The targets are those of the performance issue: a process job within 60 ms of its
floor, a Docker job within 1.3x of ``docker run``, 20 jobs at ``max_concurrent_jobs=20``
within 2.5x (process) / 1.3x (Docker) of the floor's wall time, Docker logs at 250,000
lines/s or more, and a print-to-iterator latency of median < 5 ms, p99 < 20 ms.

The only blocking calls made inside coroutines are the clock reads being measured and the
reads of ``/proc/self/status``; files are written before the event loop starts and
removed after it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    DEFAULT_IMAGE,
    DEVICE,
    ThreadSampler,
    load_average,
    ms,
    peak_rss_mb,
    progress,
    run_job,
    shared_runtime,
    table,
)

from braket_async import JobState, LocalQuantumJob
from braket_async.runtimes import JobRuntime

CONCURRENCY_JOBS = 20
CONCURRENCY_LEVELS = (1, 4, 20)
PROCESS_OVERHEAD_TARGET = 0.060  # seconds over the floor
DOCKER_RATIO_TARGET = 1.3  # times the floor
# 20 jobs at max_concurrent_jobs=20: times the floor's wall time, by runtime.
CONCURRENCY_RATIO_TARGETS = {"process": 2.5, "docker": 1.3}
LATENCY_MEDIAN_TARGET = 0.005  # seconds
LATENCY_P99_TARGET = 0.020  # seconds
LOG_RATE_TARGETS = {"docker": 250_000.0}  # lines/s; the process runtime's is the reference

PRINTER = """\
import time

for index in range({lines}):
    print(index, repr(time.time()))
"""


@dataclass(frozen=True)
class Bench:
    """What every measurement of one runtime needs."""

    runtime: str  # "process" or "docker"
    image: str
    root: Path  # job folders are made here
    noop: Path  # a module that does nothing
    printer: Path  # a module that prints timestamped lines
    lines: int

    def create_options(self) -> dict[str, Any]:
        """``create()`` options that make a new runtime for the job (the common use)."""
        if self.runtime == "docker":
            return {"runtime": "docker", "image_uri": self.image, "network_mode": "none"}
        return {"runtime": "process"}

    def shared_runtime(self, max_concurrent_jobs: int | None = None) -> JobRuntime:
        return shared_runtime(self.runtime, self.image, max_concurrent_jobs)

    def floor_command(self) -> list[str]:
        """The physical floor of one trivial job on this runtime."""
        if self.runtime == "docker":
            return [
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                self.image,
                "python3",
                "-c",
                "pass",
            ]
        return [sys.executable, "-c", "pass"]


@dataclass(frozen=True)
class Check:
    """One line of the summary."""

    name: str
    measured: str
    target: str
    passed: bool


async def timed(action: Awaitable[object]) -> float:
    """Await ``action``; return how long it took, in seconds."""
    started = time.perf_counter()
    await action
    return time.perf_counter() - started


async def floor_once(bench: Bench, slots: asyncio.Semaphore | None = None) -> None:
    """Run the floor command once (holding one of ``slots``, if given)."""
    async with slots or contextlib.nullcontext():
        process = await asyncio.create_subprocess_exec(
            *bench.floor_command(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        if await process.wait() != 0:
            raise RuntimeError(f"floor command failed: {' '.join(bench.floor_command())}")


async def trivial(bench: Bench, repeat: int) -> tuple[list[list[str]], list[Check]]:
    """Trivial jobs against the floor, interleaved so that both see the same load."""
    shared = bench.shared_runtime()
    variants: dict[str, Callable[[], Awaitable[object]]] = {
        "floor": functools.partial(floor_once, bench),
        "ours": functools.partial(run_job, bench.noop, bench.root, **bench.create_options()),
        "ours, shared runtime": functools.partial(run_job, bench.noop, bench.root, runtime=shared),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for action in variants.values():
            await action()  # warm-up, not counted
        for _ in range(repeat):
            for name, action in variants.items():
                samples[name].append(await timed(action()))
    finally:
        await shared.aclose()

    floor = statistics.median(samples["floor"])
    rows = []
    for name, values in samples.items():
        median = statistics.median(values)
        versus = "" if name == "floor" else f"{ms(median - floor)} / {median / floor:.2f}x"
        rows.append([bench.runtime, name, ms(median), ms(min(values)), versus])
    ours = statistics.median(samples["ours"])
    if bench.runtime == "docker":
        check = Check(
            "docker trivial job (median)",
            f"{ours / floor:.2f} x floor",
            f"<= {DOCKER_RATIO_TARGET} x floor ({ms(floor)} ms)",
            ours <= DOCKER_RATIO_TARGET * floor,
        )
    else:
        check = Check(
            "process trivial job (median)",
            f"floor + {ms(ours - floor)} ms",
            f"<= floor + {ms(PROCESS_OVERHEAD_TARGET)} ms ({ms(floor)} ms)",
            ours <= floor + PROCESS_OVERHEAD_TARGET,
        )
    return rows, [check]


async def concurrency(bench: Bench) -> tuple[list[list[str]], list[Check]]:
    """20 trivial jobs on one runtime per bound, and the floor command 20 times alike."""
    rows = []
    checks = []
    for limit in CONCURRENCY_LEVELS:
        slots = asyncio.Semaphore(limit)
        floor = await timed(
            asyncio.gather(*(floor_once(bench, slots) for _ in range(CONCURRENCY_JOBS)))
        )
        runtime = bench.shared_runtime(max_concurrent_jobs=limit)
        try:
            await run_job(bench.noop, bench.root, runtime=runtime)  # warm-up, not counted
            jobs = (
                run_job(bench.noop, bench.root, runtime=runtime) for _ in range(CONCURRENCY_JOBS)
            )
            ours = await timed(asyncio.gather(*jobs))
        finally:
            await runtime.aclose()
        rows.append(
            [
                bench.runtime,
                str(limit),
                ms(ours),
                f"{CONCURRENCY_JOBS / ours:.1f}",
                ms(floor),
                f"{CONCURRENCY_JOBS / floor:.1f}",
                f"{ours / floor:.2f}x",
            ]
        )
        if limit == CONCURRENCY_JOBS:
            target = CONCURRENCY_RATIO_TARGETS[bench.runtime]
            checks.append(
                Check(
                    f"{bench.runtime}: {CONCURRENCY_JOBS} jobs, max_concurrent_jobs={limit}",
                    f"{ours / floor:.2f} x floor wall",
                    f"<= {target} x floor wall ({ms(floor)} ms)",
                    ours <= target * floor,
                )
            )
    return rows, checks


async def log_streaming(bench: Bench) -> tuple[list[list[str]], list[Check]]:
    """One job prints timestamped lines; this loop receives them through ``job.logs()``."""
    received: list[str] = []
    received_at: list[float] = []
    started = time.perf_counter()
    job = await LocalQuantumJob.create(
        device=DEVICE, source_module=bench.printer, root=bench.root, **bench.create_options()
    )
    async for event in job.logs(wait=True):
        received_at.append(time.time())
        received.append(event.message)
    elapsed = time.perf_counter() - started
    state = await job.state()

    indices: list[int] = []
    latencies: list[float] = []
    for line, arrived in zip(received, received_at, strict=True):
        index, _, printed = line.partition(" ")
        try:
            indices.append(int(index))
            latencies.append(arrived - float(printed))
        except ValueError:
            indices.append(-1)  # not a printed line: breaks the order check
    complete = state is JobState.COMPLETED and indices == list(range(bench.lines))
    if latencies:
        latencies.sort()
        median = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        worst = latencies[-1]
        first_printed = float(received[0].partition(" ")[2])
        throughput = len(received) / max(received_at[-1] - first_printed, 1e-9)
    else:
        median = p99 = worst = throughput = float("nan")
    row = [
        bench.runtime,
        f"{len(received)}/{bench.lines}",
        "OK" if complete else "FAIL",
        f"{throughput:,.0f}",
        ms(median),
        ms(p99),
        ms(worst),
        ms(elapsed),
    ]
    outcome = f"{len(received)}/{bench.lines}, {'in order' if complete else 'NOT in order'}"
    if state is not JobState.COMPLETED:
        outcome += f", job {state.value}"
    checks = [
        Check(f"{bench.runtime} log: all lines, in order", outcome, "all, in order", complete),
        Check(
            f"{bench.runtime} log: median print-to-iterator latency",
            f"{ms(median)} ms",
            f"< {ms(LATENCY_MEDIAN_TARGET)} ms",
            median < LATENCY_MEDIAN_TARGET,
        ),
        Check(
            f"{bench.runtime} log: p99 print-to-iterator latency",
            f"{ms(p99)} ms",
            f"< {ms(LATENCY_P99_TARGET)} ms",
            p99 < LATENCY_P99_TARGET,
        ),
    ]
    rate_target = LOG_RATE_TARGETS.get(bench.runtime)
    if rate_target is not None:
        checks.append(
            Check(
                f"{bench.runtime} log: lines/s",
                f"{throughput:,.0f}",
                f">= {rate_target:,.0f}",
                throughput >= rate_target,
            )
        )
    return [row], checks


async def run(runtimes: list[str], repeat: int, image: str, lines: int, work: Path) -> None:
    trivial_rows: list[list[str]] = []
    concurrency_rows: list[list[str]] = []
    log_rows: list[list[str]] = []
    resource_rows: list[list[str]] = []
    checks: list[Check] = []
    for name in runtimes:
        bench = Bench(name, image, work / "jobs", work / "noop.py", work / "printer.py", lines)
        for section, measure, into in (
            ("trivial jobs", functools.partial(trivial, bench, repeat), trivial_rows),
            ("concurrency", functools.partial(concurrency, bench), concurrency_rows),
            ("log streaming", functools.partial(log_streaming, bench), log_rows),
        ):
            progress(f"[{name}] {section} ...")
            async with ThreadSampler() as threads:
                rows, found = await measure()
            into += rows
            checks += found
            resource_rows.append([name, section, str(threads.peak), f"{peak_rss_mb():.0f}"])

    table(
        f"Trivial job, create() through wait(), {repeat} repeats (ms)",
        ["runtime", "what", "median", "min", "median - floor / ratio"],
        trivial_rows,
    )
    print(
        "\n'ours' passes runtime='process' / runtime='docker' to create() (a new runtime "
        "per job); 'shared runtime' passes one runtime object to every job."
    )
    table(
        f"{CONCURRENCY_JOBS} trivial jobs on one runtime with max_concurrent_jobs; floor: "
        f"the floor command {CONCURRENCY_JOBS} times, as many at once",
        [
            "runtime",
            "max_concurrent_jobs",
            "wall ms",
            "jobs/s",
            "floor wall ms",
            "floor jobs/s",
            "ratio",
        ],
        concurrency_rows,
    )
    table(
        f"Log streaming, {lines:,} lines, async for line in job.logs(wait=True)",
        ["runtime", "received", "order", "lines/s", "median ms", "p99 ms", "max ms", "job wall ms"],
        log_rows,
    )
    print("\nlines/s: lines received / (last line received - first line printed).")
    table(
        "This process (the jobs' owner): peak OS threads and peak RSS after each section",
        ["runtime", "section", "peak threads", "peak RSS MB (so far)"],
        resource_rows,
    )
    print(
        "\nThe official SDK's local mode (braket.jobs.local.LocalQuantumJob) is not run "
        "here: it needs an AWS session, S3 and the ECR base image. The remote benchmark "
        "compares the two side by side."
    )
    print(f"\nAt the end: {load_average()} (this run's own concurrent jobs count too).")
    table(
        "Summary",
        ["target", "measured", "target value", "result"],
        [[c.name, c.measured, c.target, "PASS" if c.passed else "FAIL"] for c in checks],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=("process", "docker", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=10, help="repeats of the trivial job")
    parser.add_argument("--lines", type=int, default=100_000, help="lines of the log job")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="image of the Docker runtime")
    args = parser.parse_args()
    runtimes = ["process", "docker"] if args.runtime == "both" else [args.runtime]
    print(
        f"python {sys.version.split()[0]} ({sys.executable}); runtimes: "
        f"{', '.join(runtimes)}; at the start: {load_average()}"
    )
    with tempfile.TemporaryDirectory(prefix="braket-async-bench-") as folder:
        work = Path(folder)
        (work / "noop.py").write_text("")
        (work / "printer.py").write_text(PRINTER.format(lines=args.lines))
        asyncio.run(run(runtimes, args.repeat, args.image, args.lines, work))


if __name__ == "__main__":
    main()
