"""Where a trivial local job's time goes: phases, in-job imports, Docker API calls.

Run from the repository root::

    .venv/bin/python benchmarks/breakdown.py [--runtime process|docker|both] [--repeat N]

Three tables, all through public interfaces:

- **Phases** of ``create()`` through ``wait()``, timed by a :class:`JobRuntime` that
  wraps the real one (the runtime seam): ``prepare`` (checks), ``start`` (workspace or
  container, job files, spawn), ``run`` (the job's bootstrap and code, until exit),
  ``collect`` (results and checkpoints copied out), ``close`` (process reaped, workspace
  or container removed) and ``other`` (the rest: metadata and log files, task hops).
- **In-job imports**: a trivial job run with ``PYTHONPROFILEIMPORTTIME=1`` in its
  environment; Python's import log (stderr, so the job's log) is split per interpreter:
  the bootstrap's supervisor, then the child that runs the user code. The profiling
  itself slows imports down; compare the rows with each other, not with wall times.
- **Docker API calls** a job makes, on a bare container of the image, timed one by one
  (Docker runtime only).

Like ``local_jobs.py`` it prints tables and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import statistics
import tarfile
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

from _common import DEFAULT_IMAGE, ms, progress, run_job, shared_runtime, table

from braket_async.runtimes import CollectedOutputs, Execution, JobRuntime, JobSpec

PHASES = ("prepare", "start", "run", "collect", "close", "other", "total")
_IMPORT_HEADER = "import time: self"  # the first line each interpreter prints
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)$")

T = TypeVar("T")


class Timings:
    """Durations per phase, in seconds, of the job being measured."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = defaultdict(float)

    async def time(self, phase: str, action: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await action
        finally:
            self.phases[phase] += time.perf_counter() - started


class TimedExecution(Execution):
    """Delegates to an execution and records how long each step takes."""

    def __init__(self, inner: Execution, timings: Timings) -> None:
        self._inner = inner
        self._timings = timings

    def output(self) -> AsyncIterator[str]:
        return self._inner.output()

    async def wait(self) -> int:
        return await self._timings.time("run", self._inner.wait())

    async def kill(self) -> None:
        await self._inner.kill()

    async def collect(self, destination: Path) -> CollectedOutputs:
        return await self._timings.time("collect", self._inner.collect(destination))

    async def aclose(self) -> None:
        await self._timings.time("close", self._inner.aclose())


class TimedRuntime(JobRuntime):
    """Delegates to a runtime (which it does not own) and times its steps."""

    def __init__(self, inner: JobRuntime) -> None:
        super().__init__()
        self.name = inner.name
        self.inner = inner
        self.timings = Timings()

    async def prepare(self, spec: JobSpec) -> None:
        await self.timings.time("prepare", self.inner.prepare(spec))

    async def start(self, spec: JobSpec) -> Execution:
        execution = await self.timings.time("start", self.inner.start(spec))
        return TimedExecution(execution, self.timings)


async def phases(name: str, image: str, work: Path, repeat: int) -> list[str]:
    """Median duration of each phase of a trivial job on one shared runtime."""
    samples: dict[str, list[float]] = defaultdict(list)
    inner = shared_runtime(name, image)
    try:
        await run_job(work / "noop.py", work / "jobs", runtime=inner)  # warm-up
        for _ in range(repeat):
            timed = TimedRuntime(inner)
            started = time.perf_counter()
            await run_job(work / "noop.py", work / "jobs", runtime=timed)
            total = time.perf_counter() - started
            measured = dict(timed.timings.phases)
            measured["other"] = total - sum(measured.values())
            measured["total"] = total
            for phase in PHASES:
                samples[phase].append(measured.get(phase, 0.0))
    finally:
        await inner.aclose()
    return [name, *(ms(statistics.median(samples[phase])) for phase in PHASES)]


async def imports(name: str, image: str, work: Path) -> list[list[str]]:
    """Import time per interpreter of a trivial job, from Python's own import log."""
    runtime = shared_runtime(name, image)
    try:
        job = await run_job(
            work / "noop.py",
            work / "jobs",
            runtime=runtime,
            environment={"PYTHONPROFILEIMPORTTIME": "1"},
        )
    finally:
        await runtime.aclose()
    interpreters: list[list[tuple[str, int]]] = []
    for line in job.run_log.splitlines():
        if line.startswith(_IMPORT_HEADER):
            interpreters.append([])
        match = _IMPORT_LINE.match(line)
        if interpreters and match is not None and not match.group(3):  # top level only
            interpreters[-1].append((match.group(4), int(match.group(2))))
    labels = ["supervisor", "user-code child"]
    rows = []
    for index, found in enumerate(interpreters):
        label = labels[index] if index < len(labels) else f"interpreter {index + 1}"
        largest = sorted(found, key=lambda item: -item[1])[:6]
        rows.append(
            [
                name,
                label,
                ms(sum(us for _, us in found) / 1e6),
                ", ".join(f"{module} {ms(us / 1e6)}" for module, us in largest),
            ]
        )
    return rows


async def docker_calls(image: str, repeat: int) -> list[list[str]]:
    """The Docker API calls of one job, each timed on a bare container of ``image``.

    Uses aiodocker's ``_query`` for the archive ``HEAD`` (a stat), which has no method.
    """
    import aiodocker

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("probe.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    archive = buffer.getvalue()
    config: dict[str, Any] = {
        "Image": image,
        "Entrypoint": [],
        "Cmd": ["python3", "-c", "pass"],
        "HostConfig": {"NetworkMode": "none", "LogConfig": {"Type": "none"}},
    }
    samples: dict[str, list[float]] = defaultdict(list)

    async def timed(call: str, action: Awaitable[T]) -> T:
        started = time.perf_counter()
        result = await action
        samples[call].append(time.perf_counter() - started)
        return result

    async def stat(container_id: str, path: str) -> None:
        async with docker._query(
            f"containers/{container_id}/archive", method="HEAD", params={"path": path}
        ):
            pass

    docker = aiodocker.Docker()
    try:
        for _ in range(repeat):
            container = await timed("create container", docker.containers.create(config))
            try:
                put = container.put_archive("/tmp", archive)  # type: ignore[no-untyped-call]
                await timed("PUT archive (1 small file)", put)
                await timed("start", container.start())
                await timed("wait (python3 -c pass exits)", container.wait())
                await timed("HEAD archive (stat a path)", stat(container.id, "/tmp/probe.txt"))
                await timed("GET archive (1 small file)", container.get_archive("/tmp/probe.txt"))
            finally:
                await timed("delete container", container.delete(force=True))
    finally:
        await docker.close()
    return [
        [call, ms(statistics.median(values)), ms(min(values))] for call, values in samples.items()
    ]


async def run(runtimes: list[str], image: str, repeat: int, work: Path) -> None:
    phase_rows: list[list[str]] = []
    import_rows: list[list[str]] = []
    for name in runtimes:
        progress(f"[{name}] phases, imports ...")
        phase_rows.append(await phases(name, image, work, repeat))
        import_rows += await imports(name, image, work)
    table(
        f"Phases of a trivial job on a shared runtime, median of {repeat} (ms)",
        ["runtime", *PHASES],
        phase_rows,
    )
    table(
        "Imports of a trivial job's interpreters (PYTHONPROFILEIMPORTTIME, ms)",
        ["runtime", "interpreter", "total", "largest top-level imports (cumulative)"],
        import_rows,
    )
    if "docker" in runtimes:
        progress("[docker] API calls ...")
        table(
            f"Docker API calls on a bare container, {repeat} repeats (ms)",
            ["call", "median", "min"],
            await docker_calls(image, repeat),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=("process", "docker", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="image of the Docker runtime")
    args = parser.parse_args()
    runtimes = ["process", "docker"] if args.runtime == "both" else [args.runtime]
    with tempfile.TemporaryDirectory(prefix="braket-async-breakdown-") as folder:
        work = Path(folder)
        (work / "noop.py").write_text("")
        asyncio.run(run(runtimes, args.image, args.repeat, work))


if __name__ == "__main__":
    main()
