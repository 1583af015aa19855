"""What pricing a job costs: API calls and time of ``job_cost`` for a job with N tasks,
cold and with the facts of an earlier breakdown, and parsing the price list.

A job of the in-process emulator (a fake runner: it runs until told) gets N quantum
tasks, half on the QPU-like Emu-9 and half on SV1, created with its token and run to
COMPLETED with Braket's limits off. Then Braket's per-operation rates are turned on in
the emulator (the session paces itself to them too) and ``job_cost`` runs:

- cold: SearchQuantumTasks pages, a GetQuantumTask per QPU task (its reservation), an
  S3 GET per simulator task (its execution time);
- warm: the same with the :class:`TaskFacts` of the cold run: only the pages.

Printed beside each: the floor Braket's rates set (GetQuantumTask 100/s after a burst
of 500, SearchQuantumTasks 5/s after 50). The emulator shares this process and its
event loop, so the times include its work. Then the price list: parsing the
emulator's document and a synthetic one of ``--rows`` rows in AWS's format, and one
search in it.

``.venv/bin/python benchmarks/job_cost.py [--tasks 1000] [--rows 20000]``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import time
import uuid
from typing import Any

import aiohttp
from _common import load_average, ms, progress, table

from braket_async.aws import AwsSession
from braket_async.aws._cost import TaskFacts, job_cost
from braket_async.aws._price_list import parse_price_list
from braket_async.aws._pricing import PriceListCache
from braket_async.emulator import FakeRunner, SimulatorPool
from braket_async.emulator.testing import EmulatorStack, clean_aws_environment, emulator_stack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
EMU9 = "arn:aws:braket:us-east-1::device/qpu/braket-async/Emu-9"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonBraketJobsExecutionRole"
ACTION = (
    '{"braketSchemaHeader": {"name": "braket.ir.openqasm.program", "version": "1"}, '
    '"source": "OPENQASM 3.0;\\nbit[2] b;\\nqubit[2] q;\\nh q[0];\\ncnot q[0], q[1];\\n'
    'b = measure q;", "inputs": {}}'
)


def floor_seconds(calls: int, rate: float, burst: float) -> float:
    return max(0.0, (calls - burst) / rate)


async def make_job(stack: EmulatorStack, tasks: int) -> str:
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    async with stack.client("s3") as s3, stack.client("braket") as braket:
        await s3.create_bucket(Bucket=bucket)
        job = (
            await braket.create_job(
                jobName="cost-bench",
                roleArn=ROLE,
                algorithmSpecification={
                    "scriptModeConfig": {
                        "entryPoint": "algo",
                        "s3Uri": f"s3://{bucket}/source.tar.gz",
                        "compressionType": "GZIP",
                    }
                },
                outputDataConfig={"s3Path": f"s3://{bucket}/out"},
                instanceConfig={"instanceType": "ml.m5.large", "volumeSizeInGb": 30},
                deviceConfig={"device": SV1},
            )
        )["jobArn"]
        token = stack.emulator.service.job(job).job_token
        limit = asyncio.Semaphore(20)

        async def create(index: int) -> str:
            async with limit:
                answer = await braket.create_quantum_task(
                    deviceArn=EMU9 if index % 2 else SV1,
                    action=ACTION,
                    shots=10,
                    outputS3Bucket=bucket,
                    outputS3KeyPrefix="tasks",
                    jobToken=token,
                )
            return str(answer["quantumTaskArn"])

        arns = await asyncio.gather(*(create(index) for index in range(tasks)))
    for arn in arns:
        await stack.emulator.service.quantum_tasks.wait_for_task(arn)
    return str(job)


async def measure(stack: EmulatorStack, session: AwsSession, job: str, tasks: int) -> None:
    async with stack.client("braket") as braket:
        metadata = await braket.get_job(jobArn=job)
    prices = await PriceListCache(None).get(stack.environment()["BRAKET_PRICE_OFFERS_URL"])
    stack.emulator.update_settings({"rate_limits": True})
    facts = TaskFacts()
    rows = []
    for label in ("cold", "warm (same TaskFacts)"):
        stack.emulator.stats.reset()
        known = len(facts.execution_ms)  # each duration learnt is one S3 GET
        started = time.perf_counter()
        breakdown = await job_cost(session, metadata, prices, facts=facts)
        took = time.perf_counter() - started
        stats = stack.emulator.stats
        searches = stats.get("SearchQuantumTasks")
        gets = stats.get("GetQuantumTask")
        reads = len(facts.execution_ms) - known
        floor = max(floor_seconds(searches, 5, 50), floor_seconds(gets, 100, 500))
        throttled = stats.get("SearchQuantumTasks", "throttled") + stats.get(
            "GetQuantumTask", "throttled"
        )
        rows.append(
            [
                label,
                str(len(breakdown.tasks)),
                str(searches),
                str(gets),
                str(reads),
                str(throttled),
                f"{took:.2f}",
                f"{floor:.2f}",
                str(breakdown.total),
            ]
        )
    table(
        f"job_cost of a job with {tasks} tasks (half Emu-9, half SV1), Braket's rates on",
        [
            "run",
            "tasks",
            "SearchQuantumTasks",
            "GetQuantumTask",
            "S3 GETs",
            "throttled",
            "seconds",
            "rate floor s",
            "total USD",
        ],
        rows,
    )


def synthetic_price_list(document: bytes, rows: int) -> bytes:
    """The emulator's metadata and header, then ``rows`` rows of its first price row
    with distinct SKUs and device names."""
    lines = document.decode().splitlines(keepends=True)
    head, sample = lines[:6], lines[6]
    body = [sample.replace('"Emu-9"', f'"Device-{index}"', 2) for index in range(rows)]
    return "".join(head + body).encode()


async def measure_parsing(stack: EmulatorStack, rows: int) -> None:
    url = stack.environment()["BRAKET_PRICE_OFFERS_URL"]
    cache = PriceListCache(None)
    started = time.perf_counter()
    prices = await cache.get(url)
    fetched = time.perf_counter() - started
    document = synthetic_price_list(await _body(url), rows)
    timings = [["emulator's list, fetched and parsed", str(len(prices)), ms(fetched)]]
    started = time.perf_counter()
    parsed = parse_price_list(document, url)
    timings.append(["synthetic list, parsed", str(len(parsed)), ms(time.perf_counter() - started)])
    wanted = {"Device Name": f"Device-{rows // 2}", "Region Code": "us-east-1"}
    for label in ("one search in it", "the same search again (cached)"):
        started = time.perf_counter()
        parsed.search(**wanted)
        timings.append([label, str(len(parsed)), ms(time.perf_counter() - started)])
    table("The price list", ["what", "rows", "ms"], timings)
    print(f"\nsynthetic list: {len(document) / 1e6:.1f} MB for {rows} rows")


async def _body(url: str) -> bytes:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return await response.read()


async def main(arguments: Any) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request lines
    os.environ.clear()
    os.environ.update(clean_aws_environment())  # the emulator's test credentials only
    progress(f"creating and running {arguments.tasks} tasks ...")
    pool = SimulatorPool(workers=2)
    try:
        async with emulator_stack(runner=FakeRunner(auto_finish=False), simulators=pool) as stack:
            job = await make_job(stack, arguments.tasks)
            moto = stack.aws.endpoint_url
            endpoints = {"s3": moto, "sts": moto, "braket": stack.emulator.endpoint_url}
            async with AwsSession(region=stack.aws.region, endpoint_urls=endpoints) as session:
                progress("measuring job_cost ...")
                await measure(stack, session, job, arguments.tasks)
            await measure_parsing(stack, arguments.rows)
    finally:
        pool.close()
    print(f"\n{load_average()}")
    print(
        f"rate floors: ceil({arguments.tasks}/100) = {math.ceil(arguments.tasks / 100)} "
        "SearchQuantumTasks pages; one GetQuantumTask per QPU task"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=20000)
    asyncio.run(main(parser.parse_args()))
