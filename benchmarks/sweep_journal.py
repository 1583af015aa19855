"""A sweep's bookkeeping: the manifest journal against the old whole-file manifest, and a
10,000-point sweep end to end on an instant target.

1. **Recording points.** What a sweep writes for each point: its entry before the
   create (durable: written and fsynced before the create may start) and its ARN after
   (written). *new, concurrent*: the journal as a sweep uses it, ``--concurrency``
   points at a time (records made together share a write and an fsync); *new, one at a
   time*: one point after the other, each with an fsync of its own (the worst case);
   *old*: the manifest of before, which rewrote the whole JSON file (a temporary file,
   fsynced, renamed, the folder fsynced) for each of the two records, re-created here
   from its code. ms a point must stay flat (within 1.5x) across sizes for the new
   journal; the old one grows with the number of points, so it runs at the small sizes
   only (``--old-sizes``). Closing (compaction to one line a point) is timed apart.
2. **A 10,000-point sweep** through the public ``sweep()`` with a manifest, on a
   runtime whose jobs end at once (no process: a job's bookkeeping only — its folder,
   records, result), ``--concurrency`` jobs at a time; then the same call again, which
   finds every job through the manifest and creates none. Wall time, ms a point, peak
   OS threads and RSS (it runs first, so that the peak RSS is its own). The floor: the
   same jobs through ``JobGroup.create`` (no sweep, no manifest), what the jobs' own
   bookkeeping costs.

    .venv/bin/python benchmarks/sweep_journal.py [--sizes 1000,10000,100000]
        [--old-sizes 1000,2000] [--sweep-points 10000] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.to_thread
from _common import ThreadSampler, load_average, peak_rss_mb, progress, table

from braket_async import JobGroup, JobState, sweep
from braket_async._manifest import Manifest, PointEntry, write_durably
from braket_async.runtimes import CollectedOutputs, JobRuntime, JobSpec

FLAT = 1.5
DEVICE = "local:braket/braket.local.qubit"


def entries(count: int) -> list[PointEntry]:
    return [PointEntry(f"sweep-bench-{i}", str(uuid.uuid4())) for i in range(count)]


async def record_new(folder: Path, count: int, concurrency: int) -> tuple[float, float]:
    """Seconds a point and seconds to close, for the journal."""
    manifest = await Manifest.open(folder / "new.jsonl", "digest", "sweep-bench", count)
    points = iter(enumerate(entries(count)))

    async def worker() -> None:
        # ``concurrency`` points under way at a time, as many as a sweep's jobs at once.
        for index, entry in points:
            await manifest.record(index, entry)  # before the create
            entry.arn = f"local:job/{entry.job_name}"
            await manifest.record(index, entry, durable=False)  # after it

    started = time.perf_counter()
    async with anyio.create_task_group() as tasks:
        for _ in range(concurrency):
            tasks.start_soon(worker)
    recorded = time.perf_counter() - started
    started = time.perf_counter()
    await manifest.close()
    return recorded / count, time.perf_counter() - started


def record_old(folder: Path, count: int) -> float:
    """Seconds a point for the old manifest: every record rewrites the whole file."""
    path = folder / "old.json"
    points: list[dict[str, object] | None] = [None] * count

    def write() -> None:
        document = {"version": 1, "fingerprint": "digest", "prefix": "p", "points": points}
        write_durably(path, json.dumps(document, indent=1).encode())

    write()
    started = time.perf_counter()
    for index, entry in enumerate(entries(count)):
        points[index] = {"jobName": entry.job_name, "clientToken": entry.client_token}
        write()  # before the create
        points[index] = {**points[index], "arn": f"local:job/{entry.job_name}"}  # type: ignore[dict-item]
        write()  # after it
    return (time.perf_counter() - started) / count


async def old_row(size: int) -> list[str]:
    """The table row of the old manifest recording ``size`` points."""
    progress(f"recording {size:,} points, old manifest")
    folder = Path(tempfile.mkdtemp(prefix="sweep-journal-"))
    try:
        seconds = await anyio.to_thread.run_sync(record_old, folder, size)
    finally:
        shutil.rmtree(folder)
    return ["old (whole file)", f"{size:,}", f"{seconds * 1000:.3f}", ""]


class _Instant:
    """A job that exits 0 at once and printed nothing: only its bookkeeping remains."""

    async def _nothing(self) -> AsyncIterator[str]:
        return
        yield  # pragma: no cover

    def output(self) -> AsyncIterator[str]:
        return self._nothing()

    async def wait(self) -> int:
        return 0

    async def kill(self) -> None:
        pass

    async def collect(self, destination: Path) -> CollectedOutputs:
        def write() -> None:
            (destination / "model").mkdir(parents=True, exist_ok=True)
            (destination / "checkpoints").mkdir(exist_ok=True)
            (destination / "model" / "results.json").write_text(
                '{"braketSchemaHeader": {"name": "braket.jobs_data.persisted_job_data", '
                '"version": "1"}, "dataDictionary": {}, "dataFormat": "plaintext"}'
            )

        await anyio.to_thread.run_sync(write)
        return CollectedOutputs(None)

    async def aclose(self) -> None:
        pass


class InstantRuntime(JobRuntime):
    """Jobs that end at once (they run in the creating process: no supervisor)."""

    name = "instant"

    async def start(self, spec: JobSpec) -> _Instant:
        return _Instant()


async def sweep_end_to_end(folder: Path, count: int, concurrency: int) -> list[list[str]]:
    source = folder / "point.py"
    source.write_text("pass\n")
    rows = []
    async with InstantRuntime() as runtime:
        for run in ("first run", "rerun (finds every job)"):
            rss_before = peak_rss_mb()
            async with ThreadSampler() as threads:
                started = time.perf_counter()
                points = await sweep(
                    source,
                    points=[{"x": x} for x in range(count)],
                    target=runtime,
                    root=folder / "jobs",
                    manifest=folder / "sweep.jsonl",
                    job_name_prefix="bench",
                    max_concurrent_jobs=concurrency,
                    progress=False,
                    poll_interval_seconds=0.05,
                )
                wall = time.perf_counter() - started
            completed = sum(point.state is JobState.COMPLETED for point in points)
            rows.append(
                [
                    run,
                    f"{count:,}",
                    f"{completed:,}",
                    f"{wall:.1f}",
                    f"{wall / count * 1000:.2f}",
                    str(threads.peak),
                    f"{rss_before:.0f} -> {peak_rss_mb():.0f}",
                ]
            )
            progress(f"  {run}: {wall:.1f} s")
    jobs = sum(1 for _ in (folder / "jobs").iterdir())
    rows.append(["job folders after both", f"{jobs:,}", "", "", "", "", ""])

    # The floor: the same jobs created and collected through a JobGroup (no sweep, no
    # manifest): what the jobs' own bookkeeping costs.
    async with InstantRuntime() as runtime, ThreadSampler() as threads:
        started = time.perf_counter()
        async with JobGroup(max_concurrent_jobs=concurrency, poll_interval_seconds=0.05) as group:
            async with anyio.create_task_group() as creating:
                for x in range(count):
                    creating.start_soon(
                        functools.partial(
                            group.create,
                            DEVICE,
                            source,
                            target=runtime,
                            root=folder / "floor",
                            job_name=f"floor-{x}",
                            hyperparameters={"x": x},
                        )
                    )
            results = await group.results()
        wall = time.perf_counter() - started
    completed = sum(isinstance(result, dict) for result in results)
    rows.append(
        [
            "floor: JobGroup.create, no sweep",
            f"{count:,}",
            f"{completed:,}",
            f"{wall:.1f}",
            f"{wall / count * 1000:.2f}",
            str(threads.peak),
            f"-> {peak_rss_mb():.0f}",
        ]
    )
    return rows


async def main(options: argparse.Namespace) -> None:
    sizes = [int(size) for size in options.sizes.split(",")]
    old_sizes = [int(size) for size in options.old_sizes.split(",") if size]
    print(f"sweep_journal.py: {load_average()}")
    # First, so that its peak RSS is its own.
    progress(f"a {options.sweep_points:,}-point sweep on the instant runtime")
    folder = Path(tempfile.mkdtemp(prefix="sweep-journal-"))
    try:
        sweep_rows = await sweep_end_to_end(folder, options.sweep_points, options.concurrency)
    finally:
        await anyio.to_thread.run_sync(shutil.rmtree, folder)
    table(
        f"sweep() of {options.sweep_points:,} points, manifest, instant jobs, "
        f"max_concurrent_jobs={options.concurrency}",
        ["run", "points", "completed", "wall s", "ms a point", "peak threads", "peak RSS MB"],
        sweep_rows,
    )

    rows = []
    per_point: dict[str, list[float]] = {"concurrent": [], "one at a time": []}
    folder = Path(tempfile.mkdtemp(prefix="sweep-journal-"))
    try:  # warm-up, not counted: the worker threads, the first writes of the file system
        await record_new(folder, 500, options.concurrency)
    finally:
        shutil.rmtree(folder)
    for size in sizes:
        for mode, concurrency in (("concurrent", options.concurrency), ("one at a time", 1)):
            progress(f"recording {size:,} points, new journal, {mode}")
            folder = Path(tempfile.mkdtemp(prefix="sweep-journal-"))
            try:
                seconds, closing = await record_new(folder, size, concurrency)
            finally:
                shutil.rmtree(folder)
            per_point[mode].append(seconds)
            rows.append(
                [f"new, {mode}", f"{size:,}", f"{seconds * 1000:.3f}", f"{closing * 1000:.0f}"]
            )
        if size in old_sizes:
            rows.append(await old_row(size))
    for size in old_sizes:
        if size not in sizes:
            rows.append(await old_row(size))
    table(
        "Recording points: 2 records a point (entry, durable; then its ARN)",
        ["manifest", "points", "ms a point", "close ms"],
        rows,
    )
    checks = []
    for mode, values in per_point.items():
        spread = max(values) / min(values)
        verdict = "PASS" if spread <= FLAT else "FAIL"
        checks.append([f"new, {mode}", f"{spread:.2f}x", f"<= {FLAT}x", verdict])
    table(
        "Flat per point across sizes (largest / smallest)",
        ["journal", "spread", "target", ""],
        checks,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="points to record")
    parser.add_argument(
        "--old-sizes", default="1000,2000", help="points to record the old way (quadratic)"
    )
    parser.add_argument("--sweep-points", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
