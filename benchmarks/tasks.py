"""Quantum tasks through the emulator: N tasks created by J concurrent hybrid jobs.

Each job (a real process job of the emulator) creates its share of the tasks with the
official SDK (``AwsDevice(SV1).run(bell, shots=S)`` one after the other), then waits
for every result and checks it. Printed, per setting of the rate limits (Braket's
quotas, then none):

- creation: tasks per second from the first CreateQuantumTask to the last, beside the
  floor Braket's quota sets (a burst of 40, then 20 a second: N tasks take at least
  (N - 40) / 20 seconds), and ThrottlingExceptions answered;
- completion: from the first creation until every task is COMPLETED;
- host CPU per task: this process (the emulator, moto's threads), the simulator
  workers and the jobs' processes, beside the floor of the simulator alone (the same
  Bell program run in this process, no service around it);
- the emulator's responsiveness meanwhile: ``GET /_emulator/stats`` every 100 ms.

``.venv/bin/python benchmarks/tasks.py [--tasks 1000] [--jobs 10] [--shots 100]
[--workers 2] [--limits braket|none|both]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import resource
import statistics
import sys
import tarfile
import textwrap
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from _common import load_average, progress, table

from braket_async.emulator import RateLimits, SimulatorPool
from braket_async.emulator._simulator_pool import SimulationRequest
from braket_async.emulator.testing import EmulatorStack, emulator_stack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonBraketJobsExecutionRole"
CREATE_RATE, CREATE_BURST = 20.0, 40.0  # Braket's CreateQuantumTask quota
BELL = "OPENQASM 3.0;\nbit[2] b;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\nb = measure q;"

JOB = """
    import json
    import os
    import resource

    # Many tasks against a quota: let boto3 retry throttled calls patiently.
    os.environ["AWS_RETRY_MODE"] = "standard"
    os.environ["AWS_MAX_ATTEMPTS"] = "40"

    from braket.aws import AwsDevice
    from braket.circuits import Circuit
    from braket.jobs import save_job_result

    with open(os.environ["AMZN_BRAKET_HP_FILE"]) as file:
        hyperparameters = json.load(file)
    count, shots = int(hyperparameters["tasks"]), int(hyperparameters["shots"])
    device = AwsDevice(os.environ["AMZN_BRAKET_DEVICE_ARN"])
    bell = Circuit().h(0).cnot(0, 1)
    tasks = [device.run(bell, shots=shots) for _ in range(count)]
    wrong = 0
    for task in tasks:
        counts = task.result().measurement_counts
        wrong += sum(counts.values()) != shots or not set(counts) <= {"00", "11"}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    save_job_result({"wrong": wrong, "cpu": usage.ru_utime + usage.ru_stime})
"""


def source_tarball(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def cpu_of_self_and_children() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def worker_cpu() -> float:
    """CPU seconds of this process's simulator workers, read from /proc while they live."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"braket_async.emulator._simulation" in command and int(fields[1]) == os.getpid():
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def simulator_floor(shots: int, repeat: int = 200) -> float:
    """CPU seconds per Bell program of the local simulator, in this process: the program
    the jobs' ``AwsDevice.run(bell)`` sends."""
    from braket.circuits import Circuit
    from braket.default_simulator import StateVectorSimulator

    simulator = StateVectorSimulator()
    program = Circuit().h(0).cnot(0, 1).to_ir("OPENQASM")
    simulator.run(program, shots=shots)  # warm up
    began = time.process_time()
    for _ in range(repeat):
        simulator.run(program, shots=shots)
    return (time.process_time() - began) / repeat


async def warm_up(pool: SimulatorPool) -> None:
    """Start every worker (importing the simulator takes seconds of CPU each), so that
    the runs count what tasks cost, not what starting the workers does."""
    request = SimulationRequest(
        task_arn="arn:aws:braket:us-east-1:123456789012:quantum-task/warm-up",
        device_arn=SV1,
        simulator="braket_sv",
        device_qubits=34,
        action=json.dumps(
            {
                "braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"},
                "source": BELL,
            }
        ),
        shots=1,
        created_at="2024-01-01T00:00:00.000Z",
        simulator_metadata=True,
    )
    await asyncio.gather(*(pool.run(request) for _ in range(pool.workers)))


async def watch(url: str, stop: asyncio.Event, latencies: list[float]) -> None:
    """The admin endpoint's answer time every 100 ms until ``stop``."""
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            began = time.perf_counter()
            async with http.get(url) as response:
                await response.read()
            latencies.append(time.perf_counter() - began)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)


async def run_once(options: argparse.Namespace, limits: str, pool: SimulatorPool) -> list[str]:
    rate_limits = RateLimits() if limits == "braket" else RateLimits.disabled()
    per_job = options.tasks // options.jobs
    before = cpu_of_self_and_children()
    workers_before = worker_cpu()
    async with emulator_stack(simulators=pool, rate_limits=rate_limits) as stack:
        bucket = f"tasks-benchmark-{uuid.uuid4().hex[:8]}"
        async with stack.client("s3") as s3:
            await s3.create_bucket(Bucket=bucket)
            key = "jobs/bench/script/source.tar.gz"
            await s3.put_object(Bucket=bucket, Key=key, Body=source_tarball({"job.py": JOB}))
        latencies: list[float] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(
            watch(f"{stack.emulator.endpoint_url}/_emulator/stats", stop, latencies)
        )
        service = stack.emulator.service
        async with stack.client("braket", retries=30) as braket:
            arns = []
            for index in range(options.jobs):
                created = await braket.create_job(
                    **job_request(bucket, key, index, per_job, options)
                )
                arns.append(created["jobArn"])
        jobs = [await service.wait_for_job(arn) for arn in arns]
        stop.set()
        await watcher
        workers = worker_cpu() - workers_before
        tasks = service.quantum_tasks.records
        stats = stack.emulator.admin_stats()
        results = [await job_result(stack, job.request) for job in jobs]
    total = cpu_of_self_and_children() - before
    failed = [job for job in jobs if job.status != "COMPLETED"]
    if failed:
        return [f"{len(failed)} jobs did not complete: {failed[0].failure_reason}"]
    created = sorted(task.created_at for task in tasks)
    ended = max(task.ended_at for task in tasks if task.ended_at)
    span = (created[-1] - created[0]).total_seconds()
    floor_span = max(0.0, (len(tasks) - CREATE_BURST) / CREATE_RATE)
    jobs_cpu = sum(result["cpu"] for result in results)
    emulator_cpu = total - workers - jobs_cpu
    create = stats["operations"]["CreateQuantumTask"]
    latencies.sort()
    return [
        limits,
        f"{len(tasks)}",
        f"{len(tasks) / span:.1f}" if span else "-",
        f"{len(tasks) / floor_span:.1f}" if limits == "braket" else "-",
        f"{create['throttled']}",
        f"{(ended - created[0]).total_seconds():.1f}",
        f"{sum(result['wrong'] for result in results)}",
        f"{total / len(tasks) * 1000:.1f}",
        f"{emulator_cpu / len(tasks) * 1000:.1f}",
        f"{workers / len(tasks) * 1000:.1f}",
        f"{jobs_cpu / len(tasks) * 1000:.1f}",
        f"{statistics.median(latencies) * 1000:.1f} / {latencies[-1] * 1000:.1f}",
    ]


def job_request(
    bucket: str, key: str, index: int, per_job: int, options: argparse.Namespace
) -> dict[str, Any]:
    return {
        "jobName": f"tasks-{index}",
        "roleArn": ROLE,
        "algorithmSpecification": {
            "scriptModeConfig": {
                "entryPoint": "job",
                "s3Uri": f"s3://{bucket}/{key}",
                "compressionType": "GZIP",
            }
        },
        "outputDataConfig": {"s3Path": f"s3://{bucket}/jobs/tasks-{index}/data"},
        "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 30},
        "deviceConfig": {"device": SV1},
        "hyperParameters": {"tasks": str(per_job), "shots": str(options.shots)},
    }


async def job_result(stack: EmulatorStack, request: dict[str, Any]) -> dict[str, Any]:
    bucket, _, prefix = request["outputDataConfig"]["s3Path"].removeprefix("s3://").partition("/")
    async with stack.client("s3") as s3:
        response = await s3.get_object(Bucket=bucket, Key=f"{prefix}/output/model.tar.gz")
        async with response["Body"] as body:
            data = await body.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.extractfile("results.json")
        assert member is not None
        document = json.loads(member.read())
    result: dict[str, Any] = document["dataDictionary"]
    return result


async def main(options: argparse.Namespace) -> None:
    print(
        f"# {options.tasks} tasks by {options.jobs} jobs, {options.shots} shots each, "
        f"{options.workers} simulator workers; {load_average()}"
    )
    floor = simulator_floor(options.shots)
    rows = []
    async with SimulatorPool(workers=options.workers) as pool:
        await warm_up(pool)
        for limits in ("braket", "none") if options.limits == "both" else (options.limits,):
            progress(f"running with rate limits: {limits}")
            rows.append(await run_once(options, limits, pool))
    table(
        "Quantum tasks created by concurrent jobs (ms of host CPU per task)",
        [
            "limits",
            "tasks",
            "created/s",
            "quota floor/s",
            "throttled",
            "all done s",
            "wrong",
            "CPU/task",
            "emulator+moto",
            "workers",
            "jobs",
            "stats p50/max ms",
        ],
        rows,
    )
    print(f"\nfloor: the simulator alone, {floor * 1000:.1f} ms CPU per Bell program")
    print(f"# after: {load_average()}")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limits", choices=("braket", "none", "both"), default="both")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
