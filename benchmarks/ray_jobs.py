"""Jobs on a two-node Ray cluster: ours (RayRuntime) beside Ray's own job submission.

Starts a cluster like the Ray tests' (``tests/ray/setup.sh`` installs its Ray), or uses
``--address``. The floor is Ray itself driving the same cluster: ``ray job submit`` (the
CLI, its start included) and Ray's ``JobSubmissionClient`` in a warm process of the
cluster's environment (submit, then follow the log until it ends). Prints tables:

- a trivial job's latency (create to final record; floor: submit to end of log);
- 50 trivial jobs at once, one CPU each (wall time until every job ended);
- 100,000 log lines: lines per second and the delay from ``print`` to the reader;
- the creating process's peak RSS and threads, and one job supervisor's RSS.

    .venv/bin/python benchmarks/ray_jobs.py [--repeat 5] [--jobs 50] [--lines 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import contextlib

from _common import load_average, ms, progress, table
from support.ray_cluster import RAY_VENV, ray_cluster

from braket_async import JobState, LocalQuantumJob
from braket_async.runtimes import RayRuntime

TRIVIAL = "print('ok')\n"
PRINTER = """
import sys, time
for index in range({lines}):
    print(index, time.time())
"""
# Ray's own client in the cluster's environment: submit and follow each job's log to its
# end (what `ray job submit` does, without its start).
FLOOR = """
import asyncio, json, sys, time
from ray.job_submission import JobSubmissionClient
address, folder, count, concurrent = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
client = JobSubmissionClient(address)
kwargs = dict(entrypoint="python3 trivial.py", runtime_env={{"working_dir": folder}})
if concurrent:
    kwargs["entrypoint_num_cpus"] = 1

async def one():
    start = time.perf_counter()
    job = client.submit_job(**kwargs)
    async for _ in client.tail_job_logs(job):
        pass
    return time.perf_counter() - start

async def main():
    await one()  # warm up: the package upload
    if concurrent:
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        print(json.dumps([time.perf_counter() - start]))
    else:
        print(json.dumps([await one() for _ in range(count)]))

asyncio.run(main())
"""


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def floor(address: str, folder: Path, count: int, concurrent: bool) -> list[float]:
    script = folder / "floor.py"
    script.write_text(textwrap.dedent(FLOOR.format()))
    done = subprocess.run(
        [str(RAY_VENV / "bin" / "python3"), str(script), address, str(folder / "job"),
         str(count), "1" if concurrent else "0"],
        capture_output=True, text=True, check=True, env={**os.environ, "RAY_ADDRESS": ""},
    )  # fmt: skip
    times: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
    return times


def cli_floor(address: str, folder: Path, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        subprocess.run(
            [str(RAY_VENV / "bin" / "ray"), "job", "submit", "--address", address,
             "--working-dir", str(folder / "job"), "--", "python3", "trivial.py"],
            capture_output=True, check=True,
        )  # fmt: skip
        times.append(time.perf_counter() - start)
    return times


async def trivial(runtime: RayRuntime, source: Path, root: Path) -> tuple[float, LocalQuantumJob]:
    start = time.perf_counter()
    job = await LocalQuantumJob.create("local:none/none", str(source), root=root, runtime=runtime)
    state = await job.wait(poll_interval_seconds=0.05)
    if state is not JobState.COMPLETED:
        raise RuntimeError(f"{job.name}: {(await job.metadata()).get('failureReason')}")
    return time.perf_counter() - start, job


async def ours(args: argparse.Namespace, address: str, python: str, work: Path) -> None:
    source = work / "job" / "trivial.py"
    async with RayRuntime(address, python=python) as runtime:
        await trivial(runtime, source, work / "warm")
        latencies = [(await trivial(runtime, source, work / "one"))[0] for _ in range(args.repeat)]
    progress("ray floor (JobSubmissionClient)")
    floor_times = floor(address, work, args.repeat, concurrent=False)
    progress("ray floor (ray job submit)")
    cli_times = cli_floor(address, work, args.repeat)
    median_floor = statistics.median(floor_times)
    table(
        f"A trivial job (median / min of {args.repeat}, ms)",
        ["what", "median", "min", "x floor"],
        [
            ["ours: create to final record", ms(statistics.median(latencies)), ms(min(latencies)),
             f"{statistics.median(latencies) / statistics.median(floor_times):.2f}"],
            ["floor: JobSubmissionClient, submit to end of log",
             ms(statistics.median(floor_times)), ms(min(floor_times)), "1.00"],
            ["ray job submit (CLI, its start included)", ms(statistics.median(cli_times)),
             ms(min(cli_times)), f"{statistics.median(cli_times) / median_floor:.2f}"],
        ],
    )  # fmt: skip

    progress(f"{args.jobs} jobs at once")
    threads_before = threading.active_count()
    supervisors: list[float] = []
    async with RayRuntime(address, python=python, num_cpus=1) as runtime:
        start = time.perf_counter()

        async def one() -> None:
            job = await LocalQuantumJob.create(
                "local:none/none", str(source), root=work / "many", runtime=runtime
            )
            pid = (await job.metadata())["supervisor"]["pid"]
            if not supervisors:
                with contextlib.suppress(OSError):
                    supervisors.append(rss_mib(pid))
            await job.wait(poll_interval_seconds=0.05)

        await asyncio.gather(*(one() for _ in range(args.jobs)))
        wall = time.perf_counter() - start
    many_floor = floor(address, work, args.jobs, concurrent=True)[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table(
        f"{args.jobs} trivial jobs at once, one CPU each (two nodes of 4 CPUs)",
        ["what", "wall s", "jobs/s", "x floor"],
        [
            ["ours", f"{wall:.2f}", f"{args.jobs / wall:.1f}", f"{wall / many_floor:.2f}"],
            ["floor: JobSubmissionClient", f"{many_floor:.2f}", f"{args.jobs / many_floor:.1f}",
             "1.00"],
        ],
    )  # fmt: skip
    table(
        "The creating process",
        ["peak RSS MiB", "threads before", "threads after", "a supervisor's RSS MiB"],
        [[f"{peak:.0f}", str(threads_before), str(threading.active_count()),
          f"{supervisors[0]:.0f}" if supervisors else "?"]],
    )  # fmt: skip

    progress(f"{args.lines} log lines")
    printer = work / "printer.py"
    printer.write_text(textwrap.dedent(PRINTER.format(lines=args.lines)))
    async with RayRuntime(address, python=python) as runtime:
        job = await LocalQuantumJob.create(
            "local:none/none", str(printer), root=work / "lines", runtime=runtime
        )
        delays, first, count = [], None, 0
        async for event in job.logs(wait=True, poll_interval_seconds=0.05):
            now = time.time()
            first = first or now
            count += 1
            if count % 100 == 0:
                delays.append(now - float(event.message.split()[1]))
        last = time.time()
    delays.sort()
    table(
        f"{args.lines} log lines, read with logs(wait=True)",
        ["lines", "lines/s", "delay median ms", "delay p95 ms"],
        [[str(count), f"{count / max(last - first, 1e-9):.0f}",
          ms(delays[len(delays) // 2]), ms(delays[int(len(delays) * 0.95)])]],
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", help="an existing cluster's dashboard (default: start one)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    print(f"# Ray jobs ({load_average()})")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "job").mkdir()
        (work / "job" / "trivial.py").write_text(TRIVIAL)
        if args.address:
            asyncio.run(ours(args, args.address, "python3", work))
            return
        progress("starting a two-node cluster")
        with ray_cluster() as cluster:
            asyncio.run(ours(args, cluster.address, cluster.python, work))


if __name__ == "__main__":
    main()
