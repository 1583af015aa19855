"""What the benchmark scripts share: constants, runtimes, job helpers, table printing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from braket_async import JobState, LocalQuantumJob
from braket_async.runtimes import JobRuntime, ProcessRuntime

DEVICE = "local:braket/braket.local.qubit"
DEFAULT_IMAGE = "braket-async-test:python3"


def shared_runtime(name: str, image: str, max_concurrent_jobs: int | None = None) -> JobRuntime:
    """A runtime object that many jobs share; the caller closes it."""
    if name == "docker":
        from braket_async.runtimes import DockerRuntime

        return DockerRuntime(
            image_uri=image, network_mode="none", max_concurrent_jobs=max_concurrent_jobs
        )
    return ProcessRuntime(max_concurrent_jobs=max_concurrent_jobs)


async def run_job(source: Path, root: Path, **options: Any) -> LocalQuantumJob:
    """Create a job, wait until its record is final, and fail unless it COMPLETED."""
    job = await LocalQuantumJob.create(device=DEVICE, source_module=source, root=root, **options)
    state = await job.wait()
    if state is not JobState.COMPLETED:
        reason = (await job.metadata()).get("failureReason")
        raise RuntimeError(f"job {job.name} ended {state.value}: {reason}")
    return job


def ms(seconds: float) -> str:
    """Seconds as milliseconds, one decimal."""
    return f"{seconds * 1000:.1f}"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def progress(message: str) -> None:
    """Say what is running (on stderr, so that stdout holds only the report)."""
    print(message, file=sys.stderr, flush=True)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a titled, aligned plain-text table."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    print(f"\n## {title}\n")
    for cells in (header, ["-" * width for width in widths], *rows):
        line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        print(line.rstrip())
    sys.stdout.flush()


class ThreadSampler:
    """The most OS threads this process had while the block ran, sampled every 50 ms
    on the event loop itself (a read of ``/proc/self/status``, no sampling thread)."""

    def __init__(self) -> None:
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ThreadSampler:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._read()

    async def _sample(self) -> None:
        while True:
            self._read()
            await asyncio.sleep(0.05)

    def _read(self) -> None:
        self.peak = max(self.peak, int(_status_field("Threads")))


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (``VmHWM``), in MB."""
    return int(_status_field("VmHWM").split()[0]) / 1024


def _status_field(name: str) -> str:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key == name:
                return value.strip()
    raise RuntimeError(f"no {name} in /proc/self/status")
