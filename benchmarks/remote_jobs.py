"""Remote jobs against the Braket service emulator: ours vs the official SDK, side by side.

Run from the repository root::

    .venv/bin/python benchmarks/remote_jobs.py --jobs 100 [--jobs 500] \\
        [--side ours|official|both] [--create-rate 1] [--poll-interval 5] \\
        [--job-interpreter bare|sdk]

It prints one table per N, then ours against the targets with PASS/FAIL. It always exits
0: it is a report, not a test. Progress goes to stderr.

How it runs:

- **The service** (``_remote_emulator.py``) is its own process: the Braket emulator with
  its quota-shaped rate limits (CreateJob 1/s burst 5, GetJob 5/s burst 25, SearchJobs
  5/s burst 50, GetDevice 5/s burst 50, 140/s for the account; ``--create-rate``
  changes CreateJob's rate only, for both sides) and the real process runner, with a
  moto server (S3, CloudWatch Logs, STS, IAM) in a child process of its own. The job
  prints a line and saves ``{"ok": 1}`` with ``braket.jobs.save_job_result``. By
  default (``--job-interpreter bare``) jobs run with a Python of the standard library
  only, as in a slim image, where that import is braket_async's in-job API; with
  ``sdk`` they run with this interpreter, where it is the official SDK's, whose import
  alone costs the host about 1.5 CPU-seconds a job (on Braket, AWS's machine pays it).
- **Each side** (``_remote_side.py``) is a fresh interpreter whose environment points
  every AWS client at the emulator and moto (``AWS_ENDPOINT_URL``,
  ``AWS_ENDPOINT_URL_BRAKET``, fake credentials); both find the jobs role through IAM
  and use the default bucket. *Ours*: one ``AwsSession``, N ``AwsQuantumJob.create``
  launched at once, each followed by ``await job.result()``, under ``asyncio.gather``;
  its client-side CreateJob rate is set to the emulator's. *Official*: one thread per
  job (``ThreadPoolExecutor(max_workers=N)``), each ``AwsQuantumJob.create(...,
  wait_until_complete=False)`` then ``.result()``, with botocore's default retries. Both
  give jobs unique names and poll every ``--poll-interval`` seconds (5, both SDKs'
  default). A job fails when anything raises or its result is not ``{"ok": 1}``.
- **Counted**: wall time from the first create to the last result; the emulator's
  counters for the side's run alone (``DELETE /_emulator/stats`` before it, ``GET``
  after), i.e. every attempt the service saw, throttled ones included; peak RSS
  (``ru_maxrss``) and the peak of the process's OS threads (``/proc/self/status``),
  sampled every 50 ms without a sampling thread; the client's CPU time; every job's
  createdAt and endedAt (SearchJobs, after the counters were read), which give the jobs'
  run times in the service and the client's lag: its last result minus the service's
  end of the last job; the host CPU the side's jobs cost, by component (utime + stime
  from ``/proc``: moto's process, the emulator's own, and the emulator's ended
  children, i.e. the jobs' processes), per job. Before each side the script waits until
  every rate-limit bucket is full again.
- **Quota floor** = N / CreateJob rate + one job's own run time (the median createdAt to
  endedAt of three jobs created one at a time, after a warm-up job, before the sides) +
  one poll interval: no client can create the jobs faster, and the last one still has
  to run and be seen. Jobs run as processes on this host, so a busy host makes them
  slower than the calibration (compare the "job run time in the service" row).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
from _common import load_average, progress, table
from _remote_emulator import rate_limits
from botocore.config import Config  # type: ignore[import-untyped]

from braket_async.emulator.testing import FAKE_CREDENTIALS, clean_aws_environment

HERE = Path(__file__).resolve().parent
DEVICE = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
ALGO = """\
from braket.jobs import save_job_result

print("hi")
save_job_result({"ok": 1})
"""
SIDES = ("ours", "official", "sweep")
JOB_OPERATIONS = ("CreateJob", "GetJob", "SearchJobs", "GetDevice")
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}

WALL_TARGET = 1.2  # times the quota floor
GETJOB_TARGET = 2.0  # GetJob calls per job
RSS_TARGET_MB = 200.0
THREADS_TARGET = 12  # OS threads of the client, at most one fewer
SERVICE_CPU_TARGET = 0.3  # host CPU seconds per job: moto, the emulator and the job
# Worker threads that only do blocking file I/O for the event loop (to_thread).
FILE_IO_THREADS = {"asyncio", "AnyIO worker thread"}


# -- the service process ---------------------------------------------------------------


def _process_times(pid: int) -> tuple[float, float]:
    """(utime + stime, cutime + cstime) of ``pid`` in seconds, from /proc/<pid>/stat.

    The children's part counts only children that ended and were waited for.
    """
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    ticks = os.sysconf("SC_CLK_TCK")
    return (utime + stime) / ticks, (cutime + cstime) / ticks


@dataclass(frozen=True)
class Services:
    """The running emulator and moto, as seen from here."""

    braket: str
    aws: str
    role: str
    moto_pid: int
    pid: int

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far by component: moto's process, the emulator's own (its HTTP
        server, service and runner) and its ended children (the jobs' processes)."""
        moto = _process_times(self.moto_pid)
        emulator = _process_times(self.pid)
        return {"moto": moto[0], "emulator": emulator[0], "jobs": emulator[1]}

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` plus what points any AWS SDK at these services."""
        environment = dict(base)
        environment["AWS_ENDPOINT_URL"] = self.aws
        environment["AWS_ENDPOINT_URL_BRAKET"] = self.braket
        return environment

    def client(self, service: str) -> Any:
        """A boto3 client for the benchmark's own bookkeeping (never counted)."""
        return boto3.client(
            service,
            endpoint_url=self.braket if service == "braket" else self.aws,
            region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"mode": "standard", "total_max_attempts": 20}),
        )

    def reset_stats(self) -> None:
        request = urllib.request.Request(f"{self.braket}/_emulator/stats", method="DELETE")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def stats(self) -> dict[str, dict[str, int]]:
        """The emulator's counters by operation since the last reset."""
        with urllib.request.urlopen(f"{self.braket}/_emulator/stats", timeout=30) as answer:
            operations: dict[str, dict[str, int]] = json.load(answer)["operations"]
        return operations


@contextlib.contextmanager
def start_services(
    options: argparse.Namespace, log: Path, environment: Mapping[str, str]
) -> Iterator[Services]:
    """Start ``_remote_emulator.py``; stop it (stdin closed, then SIGTERM) on exit."""
    command = [sys.executable, str(HERE / "_remote_emulator.py")]
    command += ["--create-rate", str(options.create_rate)]
    if options.concurrent_jobs_quota is not None:
        command += ["--concurrent-jobs-quota", str(options.concurrent_jobs_quota)]
    if options.job_seconds is not None:
        command += ["--job-seconds", str(options.job_seconds)]
    if options.job_python is not None:
        command += ["--job-python", str(options.job_python)]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            env=dict(environment),
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"the emulator did not start; see {log}")
            yield Services(**json.loads(line), pid=process.pid)
        finally:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(timeout=30)


def settle_seconds(create_rate: float) -> float:
    """How long an idle emulator takes to refill every rate-limit bucket."""
    limits = rate_limits(create_rate)
    buckets = [*limits.operations.values(), *([limits.account] if limits.account else [])]
    return max(rate.burst / rate.per_second for rate in buckets) + 0.5


def bare_python(folder: Path) -> Path:
    """A virtual environment without packages (not even pip) at ``folder``: its python."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(folder)],
        check=True,
        env=clean_aws_environment(),
    )
    return folder / "bin" / "python"


# -- the job's own run time ------------------------------------------------------------


def job_seconds(summary: Mapping[str, Any]) -> float | None:
    """createdAt to endedAt of a GetJob answer or JobSummary, if it ended."""
    if "endedAt" not in summary:
        return None
    return float((summary["endedAt"] - summary["createdAt"]).total_seconds())


def calibrate(services: Services, source: Path, runs: int = 3) -> float:
    """A job's own run time: the median createdAt to endedAt of ``runs`` jobs created
    one at a time through boto3, after one untimed warm-up job."""
    times = [calibration_job(services, source) for _ in range(runs + 1)]
    return statistics.median(times[1:])


def calibration_job(services: Services, source: Path) -> float:
    """One job created alone: its createdAt to endedAt, in seconds."""
    bucket = f"braket-benchmark-{uuid.uuid4().hex[:8]}"
    name = f"calibration-{uuid.uuid4().hex[:8]}"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(source, arcname=source.name)
    s3 = services.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"{name}/source.tar.gz", Body=archive.getvalue())
    braket = services.client("braket")
    arn = braket.create_job(
        jobName=name,
        roleArn=services.role,
        algorithmSpecification={
            "scriptModeConfig": {
                "entryPoint": source.stem,
                "s3Uri": f"s3://{bucket}/{name}/source.tar.gz",
                "compressionType": "GZIP",
            }
        },
        outputDataConfig={"s3Path": f"s3://{bucket}/{name}/data"},
        instanceConfig={"instanceType": "ml.m5.large", "volumeSizeInGb": 30},
        deviceConfig={"device": DEVICE},
    )["jobArn"]
    while True:
        job = braket.get_job(jobArn=arn)
        if job["status"] in TERMINAL:
            break
        time.sleep(0.2)
    if job["status"] != "COMPLETED":
        raise RuntimeError(f"the calibration job ended {job['status']}: {job.get('failureReason')}")
    seconds = job_seconds(job)
    assert seconds is not None
    return seconds


def ended_jobs(services: Services, since: datetime.datetime) -> list[tuple[float, float]]:
    """(createdAt, endedAt) in epoch seconds of every ended job created since ``since``."""
    braket = services.client("braket")
    filters = [{"name": "createdAt", "operator": "GTE", "values": [since.isoformat()]}]
    return [
        (job["createdAt"].timestamp(), job["endedAt"].timestamp())
        for page in braket.get_paginator("search_jobs").paginate(filters=filters)
        for job in page["jobs"]
        if "endedAt" in job
    ]


# -- one side --------------------------------------------------------------------------


@dataclass
class Measured:
    """One side's report, the emulator's counters for its run, and its jobs' times."""

    report: dict[str, Any]
    stats: dict[str, dict[str, int]]
    jobs: list[tuple[float, float]]  # (createdAt, endedAt), epoch seconds
    load: float  # the host's 1-minute load average when the side ended
    service_cpu: dict[str, float]  # CPU seconds during the side by component (moto, ...)

    @property
    def run_times(self) -> list[float]:
        """createdAt to endedAt of each job, in seconds."""
        return [ended - created for created, ended in self.jobs]

    @property
    def last_ended(self) -> float | None:
        """When the service ended the side's last job, in seconds from its first create."""
        start = self.report.get("start_epoch")
        if not start or not self.jobs:
            return None
        return max(ended for _, ended in self.jobs) - float(start)

    def service_cpu_per_job(self) -> float:
        """CPU seconds of moto, the emulator and the jobs together, per job."""
        return sum(self.service_cpu.values()) / max(1, int(self.report["jobs"]))

    def count(self, operation: str, counter: str = "calls") -> int:
        return self.stats.get(operation, {}).get(counter, 0)


def run_side(
    side: str,
    jobs: int,
    options: argparse.Namespace,
    services: Services,
    environment: Mapping[str, str],
    work: Path,
) -> Measured:
    """Run one side in its own interpreter with fresh emulator counters."""
    workdir = work / f"{side}-{jobs}"
    workdir.mkdir()
    out = workdir / "report.json"
    command = [
        sys.executable,
        str(HERE / "_remote_side.py"),
        side,
        "--jobs",
        str(jobs),
        "--source",
        str(work / "algo.py"),
        "--workdir",
        str(workdir),
        "--tag",
        f"{side[0]}{jobs}-{uuid.uuid4().hex[:6]}",
        "--poll-interval",
        str(options.poll_interval),
        "--create-rate",
        str(options.create_rate),
        *(
            ["--concurrent-jobs-quota", str(options.concurrent_jobs_quota)]
            if options.concurrent_jobs_quota is not None
            else []
        ),
        "--out",
        str(out),
    ]
    time.sleep(settle_seconds(options.create_rate))
    services.reset_stats()
    cpu_before = services.cpu_seconds()
    since = datetime.datetime.now(datetime.timezone.utc)
    timeout = 4 * jobs / options.create_rate + 600
    progress(f"{side}: {jobs} jobs (at most {timeout:.0f} s) ...")
    with (workdir / "side.log").open("wb") as log:
        try:
            finished = subprocess.run(
                command,
                env=dict(environment),
                stdout=log,
                stderr=log,
                timeout=timeout,
                check=False,
            )
            problem = None if finished.returncode == 0 else f"exit {finished.returncode}"
        except subprocess.TimeoutExpired:
            problem = f"timed out after {timeout:.0f} s"
    stats = services.stats()
    cpu_after = services.cpu_seconds()
    service_cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    if problem is not None or not out.exists():
        tail = (workdir / "side.log").read_text(errors="replace")[-2000:]
        progress(f"{side} side failed ({problem}); its log ends with:\n{tail}")
        report: dict[str, Any] = {
            "side": side,
            "jobs": jobs,
            "completed": 0,
            "failed": jobs,
            "errors": {f"side process: {problem}": jobs},
        }
    else:
        report = json.loads(out.read_text())
    measured = Measured(
        report=report,
        stats=stats,
        jobs=ended_jobs(services, since),
        load=os.getloadavg()[0],
        service_cpu=service_cpu,
    )
    progress(
        f"{side}: {report.get('completed')} completed, {report.get('failed')} failed, "
        f"{report.get('wall_seconds', 0):.1f} s"
    )
    return measured


# -- the table -------------------------------------------------------------------------


def per_job(measured: Measured, operation: str, jobs: int) -> str:
    calls = measured.count(operation)
    throttled = measured.count(operation, "throttled")
    return f"{calls / jobs:.2f} ({calls} calls, {throttled} throttled)"


def ratio(wall: float, floor: float, report: Mapping[str, Any]) -> str:
    """wall / floor, which only means something when every job completed."""
    if not wall:
        return "-"
    if report["failed"]:
        return f"{wall / floor:.2f} (only {report['completed']} jobs completed)"
    return f"{wall / floor:.2f}"


def side_column(measured: Measured, jobs: int, floor: float) -> list[str]:
    report = measured.report
    wall = float(report.get("wall_seconds", 0.0))
    other = sum(
        counts["calls"] for name, counts in measured.stats.items() if name not in JOB_OPERATIONS
    )
    throttled = sum(counts["throttled"] for counts in measured.stats.values())
    server_errors = sum(counts["server_errors"] for counts in measured.stats.values())
    errors = report.get("errors", {})
    throttling_raised = sum(count for kind, count in errors.items() if "hrottl" in kind)
    times = measured.run_times
    last_ended = measured.last_ended
    kinds = ", ".join(f"{kind} {count}" for kind, count in report.get("thread_kinds", {}).items())
    return [
        f"{report['completed']} / {report['failed']}",
        "; ".join(f"{kind} x{count}" for kind, count in errors.items()) or "-",
        f"{wall:.1f}",
        ratio(wall, floor, report),
        f"{report.get('last_create_seconds', 0.0):.1f}",
        "-" if last_ended is None else f"{last_ended:.1f}",
        "-" if last_ended is None or not wall else f"{wall - last_ended:.1f}",
        per_job(measured, "CreateJob", jobs),
        per_job(measured, "GetJob", jobs),
        per_job(measured, "SearchJobs", jobs),
        per_job(measured, "GetDevice", jobs),
        str(other),
        f"{throttled} (5xx: {server_errors})",
        str(throttling_raised),
        f"{statistics.median(times):.2f} / {max(times):.2f}" if times else "-",
        f"{report.get('peak_rss_mb', 0.0):.0f} ({report.get('rss_before_mb', 0.0):.0f})",
        f"{report.get('cpu_seconds', 0.0):.1f}",
        f"{measured.service_cpu_per_job():.3f} ("
        + ", ".join(f"{name} {cpu / jobs:.3f}" for name, cpu in measured.service_cpu.items())
        + ")",
        f"{measured.load:.1f}",
        f"{report.get('peak_threads', '-')} ({kinds})",
    ]


ROW_NAMES = [
    "jobs completed / failed",
    "failures by error",
    "wall time, s (first create -> last result)",
    "wall time / quota floor",
    "last create returned at, s",
    "last job ended in the service at, s",
    "last result - last job's end (client lag), s",
    "CreateJob per job",
    "GetJob per job",
    "SearchJobs per job",
    "GetDevice per job",
    "other Braket calls (tags, ...)",
    "throttled answers, all operations",
    "throttling errors raised to the caller",
    "job run time in the service, median / max s",
    "peak RSS, MB (before the jobs)",
    "CPU time of the client process, s",
    "host CPU per job: moto + emulator + jobs, s",
    f"host load average at the end ({os.cpu_count()} CPUs)",
    "peak OS threads (by kind)",
]


def print_table(jobs: int, floor: float, results: Mapping[str, Measured]) -> None:
    columns = [side_column(measured, jobs, floor) for measured in results.values()]
    rows = [[name, *cells] for name, *cells in zip(ROW_NAMES, *columns, strict=True)]
    table(f"N = {jobs} jobs, quota floor {floor:.1f} s", ["", *results], rows)


def print_targets(jobs: int, floor: float, poll_interval: float, measured: Measured) -> None:
    report = measured.report
    wall = float(report.get("wall_seconds", 0.0))
    getjob = measured.count("GetJob") / jobs
    searches = measured.count("SearchJobs")
    cycles = math.ceil(wall / poll_interval) + 1  # a poll at the start, then one per interval
    helpers = {
        kind: count
        for kind, count in report.get("thread_kinds", {}).items()
        if kind != "MainThread"
    }
    unexpected = set(helpers) - FILE_IO_THREADS

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    rows = [
        ["zero failures", f"{report['failed']} failed", verdict(report["failed"] == 0)],
        [f"GetJob <= {GETJOB_TARGET:g} per job", f"{getjob:.2f}", verdict(getjob <= GETJOB_TARGET)],
        [
            "SearchJobs batched (<= 1 call per 10 jobs a poll)",
            f"{searches} calls in ~{cycles:.0f} polls = {searches / cycles:.1f} a poll",
            verdict(searches / cycles <= math.ceil(jobs / 10)),
        ],
        [
            f"peak RSS < {RSS_TARGET_MB:g} MB",
            f"{report.get('peak_rss_mb', 0.0):.0f} MB",
            verdict(report.get("peak_rss_mb", RSS_TARGET_MB) < RSS_TARGET_MB),
        ],
        [
            "one thread doing the work (+ file-I/O workers)",
            f"{report.get('peak_threads')} threads; besides the loop: {helpers or 'none'}",
            verdict(not unexpected),
        ],
        [
            f"peak OS threads < {THREADS_TARGET}",
            f"{report.get('peak_threads')}",
            verdict(0 < report.get("peak_threads", THREADS_TARGET) < THREADS_TARGET),
        ],
        [
            f"host CPU per job < {SERVICE_CPU_TARGET:g} s (moto + emulator + job)",
            f"{measured.service_cpu_per_job():.3f} s",
            verdict(measured.service_cpu_per_job() < SERVICE_CPU_TARGET),
        ],
        [
            f"wall <= {WALL_TARGET:g} x floor",
            f"{wall:.1f} s = {wall / floor:.2f} x {floor:.1f} s",
            verdict(0 < wall <= WALL_TARGET * floor),
        ],
    ]
    if measured.last_ended is not None:
        lag = wall - measured.last_ended
        rows.append(
            [
                "last result <= 1 poll after the service ended the last job",
                f"{lag:.1f} s after (poll interval {poll_interval:g} s)",
                verdict(lag <= poll_interval + 1),
            ]
        )
    table(f"ours against the targets, N = {jobs}", ["target", "measured", ""], rows)


# -- main ------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Ours vs the official SDK on N remote jobs.")
    parser.add_argument(
        "--jobs", type=int, action="append", help="number of jobs (repeatable; default 100)"
    )
    parser.add_argument("--side", choices=(*SIDES, "both"), default="both")
    parser.add_argument(
        "--create-rate",
        type=float,
        default=1.0,
        help="the emulator's CreateJob rate per second (quota: 1)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=5.0,
        help="seconds between status polls, both SDKs (default 5)",
    )
    parser.add_argument(
        "--job-seconds",
        type=float,
        help="experiment: jobs take this long and run no code on this host, as on Braket "
        "(default: every job runs for real on the emulator's process runtime)",
    )
    parser.add_argument(
        "--concurrent-jobs-quota",
        type=int,
        help="the emulator's concurrent hybrid jobs quota (Braket's default: 5; default "
        "here: none); the sweep side stays within it, the others meet its refusals",
    )
    parser.add_argument(
        "--job-interpreter",
        choices=("bare", "sdk"),
        default="bare",
        help="what jobs run with: 'bare' (default), a Python of the standard library only, "
        "like a slim image, so `from braket.jobs import ...` is braket_async's in-job API; "
        "'sdk', this interpreter, where it is the official SDK's (whose import alone costs "
        "about 1.5 CPU-seconds a job)",
    )
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    options = parser.parse_args(argv)
    options.jobs = options.jobs or [100]
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    sides = SIDES if options.side == "both" else (options.side,)
    base = clean_aws_environment()
    dump: dict[str, Any] = {"options": {**vars(options), "json": str(options.json)}}
    with tempfile.TemporaryDirectory(prefix="braket-remote-bench-") as temporary:
        work = Path(temporary)
        (work / "algo.py").write_text(ALGO)
        options.job_python = None
        if options.job_interpreter == "bare":
            options.job_python = bare_python(work / "job-python")
        progress("starting moto and the emulator ...")
        with start_services(options, work / "emulator.log", base) as services:
            environment = services.environment(base)
            own_seconds = calibrate(services, work / "algo.py")
            progress(f"one job runs {own_seconds:.2f} s (createdAt -> endedAt)")
            dump["job_seconds"] = own_seconds
            runner = (
                f"run for real (process runtime, {options.job_interpreter} Python)"
                if options.job_seconds is None
                else f"timed ({options.job_seconds:g} s, no code)"
            )
            print(
                f"One job's own run time: {own_seconds:.2f} s (median of 3, alone); "
                f"CreateJob {options.create_rate:g}/s; poll interval "
                f"{options.poll_interval:g} s; jobs {runner}; each side in its own "
                f"process, the emulator and moto in another; {load_average()} at the start."
            )
            for jobs in options.jobs:
                floor = jobs / options.create_rate + own_seconds + options.poll_interval
                if options.concurrent_jobs_quota is not None:
                    # Or: the quota's waves of jobs, one after another.
                    waves = jobs / options.concurrent_jobs_quota * own_seconds
                    floor = max(floor, waves + options.poll_interval)
                results = {
                    side: run_side(side, jobs, options, services, environment, work)
                    for side in sides
                }
                print_table(jobs, floor, results)
                if "ours" in results:
                    print_targets(jobs, floor, options.poll_interval, results["ours"])
                dump[str(jobs)] = {
                    "floor": floor,
                    **{side: vars(measured) for side, measured in results.items()},
                }
    if options.json:
        options.json.write_text(json.dumps(dump, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
