"""The benchmark's service process: moto and the Braket emulator, until stdin closes.

Run by ``remote_jobs.py`` as ``python benchmarks/_remote_emulator.py --create-rate R
[--job-python PYTHON]``; it prints one JSON line once both listen (``{"braket": url,
"aws": url, "role": arn, "moto_pid": pid}``) and serves until its standard input is
closed or it gets SIGTERM/SIGINT. moto runs in a child process of its own (this script
with ``--moto``), so that each one's CPU time can be read apart and they share no GIL.
Rate limits are the emulator's quota-shaped defaults, with CreateJob's sustained rate set
to ``R``; jobs run for real on the process runtime (with ``PYTHON``, default this
interpreter), or, with ``--job-seconds S``, take S seconds each without running code
(:class:`TimedRunner`). It lives in its own process so that neither benchmarked client
shares an interpreter (RSS, threads, CPU) with the service.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiobotocore.session  # type: ignore[import-untyped]
import boto3  # type: ignore[import-untyped]

from braket_async.emulator import (
    AwsEndpoint,
    BraketEmulator,
    JobControl,
    JobRunner,
    Rate,
    RateLimits,
    RuntimeJobRunner,
)
from braket_async.emulator._s3 import parse_s3_uri
from braket_async.emulator.testing import FAKE_CREDENTIALS, moto_server
from braket_async.jobs import save_job_result
from braket_async.runtimes import ProcessRuntime

ROLE_NAME = "AmazonBraketJobsExecutionRole-benchmark"
REGION = FAKE_CREDENTIALS["AWS_DEFAULT_REGION"]
RESULT = {"ok": 1}


class TimedRunner:
    """Jobs that take ``seconds`` each and cost this host nothing, as on Braket.

    Each job is RUNNING for ``seconds``, then its ``model.tar.gz`` (a ``results.json``
    of ``{"ok": 1}`` written by the in-job ``save_job_result``) is put in S3, and it
    COMPLETES. No code runs, so the service's pace does not depend on this host's CPUs.
    """

    def __init__(self, aws: AwsEndpoint, seconds: float) -> None:
        self.seconds = seconds
        self._aws = aws
        self._archive = _results_archive()
        self._stack = contextlib.AsyncExitStack()
        self._s3: Any = None
        self._lock = asyncio.Lock()

    async def run(self, job: JobControl) -> str | None:
        job.started()
        job.event("RUNNING")
        await asyncio.sleep(self.seconds)
        async with self._lock:  # one S3 client, made by the first job that ends
            if self._s3 is None:
                session = aiobotocore.session.get_session()
                client = session.create_client("s3", **self._aws.client_kwargs())
                self._s3 = await self._stack.enter_async_context(client)
        bucket, key = parse_s3_uri(job.request["outputDataConfig"]["s3Path"])
        job.event("UPLOADING_RESULTS")
        await self._s3.put_object(
            Bucket=bucket, Key=f"{key.strip('/')}/output/model.tar.gz", Body=self._archive
        )
        return None

    async def aclose(self) -> None:
        await self._stack.aclose()


def _results_archive() -> bytes:
    """``model.tar.gz`` holding the ``results.json`` the job's ``save_job_result`` writes."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"] = folder
        try:
            save_job_result(RESULT)
        finally:
            del os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"]
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            archive.add(Path(folder, "results.json"), arcname="results.json")
    return buffer.getvalue()


def rate_limits(create_rate: float) -> RateLimits:
    """The default (quota-shaped) limits with CreateJob's sustained rate replaced."""
    defaults = RateLimits()
    burst = defaults.operations["CreateJob"].burst
    return RateLimits(operations={**defaults.operations, "CreateJob": Rate(create_rate, burst)})


def create_jobs_role(moto_url: str) -> str:
    """The service role both SDKs discover through IAM (``/service-role/`` path)."""
    iam = boto3.client(
        "iam",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    role = iam.create_role(
        RoleName=ROLE_NAME,
        Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    return str(role["Role"]["Arn"])


@contextlib.contextmanager
def moto_process() -> Iterator[tuple[str, int]]:
    """A moto server in a process of its own (this script with ``--moto``): its URL and
    pid, so that its CPU time is its own and it does not share a GIL with the emulator."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--moto"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        if not url:
            raise RuntimeError("the moto server did not start")
        yield url, process.pid
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=30)


def serve_moto() -> None:
    """``--moto``: serve moto until standard input closes."""
    # moto's web server logs every request to stderr: a cost per call, and noise.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with moto_server() as moto_url:
        print(moto_url, flush=True)
        sys.stdin.read()


async def serve(moto_url: str, moto_pid: int, role: str, options: argparse.Namespace) -> None:
    aws = AwsEndpoint(endpoint_url=moto_url, region=REGION)
    runtime = ProcessRuntime(python=options.job_python, inherit_environment=False)
    runner: JobRunner = (
        RuntimeJobRunner(aws, runtime=runtime)
        if options.job_seconds is None
        else TimedRunner(aws, options.job_seconds)
    )
    async with BraketEmulator(
        runner=runner,
        region=REGION,
        rate_limits=rate_limits(options.create_rate),
        concurrent_jobs_quota=options.concurrent_jobs_quota,
    ) as emulator:
        print(
            json.dumps(
                {
                    "braket": emulator.endpoint_url,
                    "aws": moto_url,
                    "role": role,
                    "moto_pid": moto_pid,
                }
            ),
            flush=True,
        )
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        # The parent holds our stdin open; EOF means it is gone. A daemon thread reads
        # it so that nothing waits for that thread at exit.
        threading.Thread(
            target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)),
            name="stdin-watch",
            daemon=True,
        ).start()
        await stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--create-rate",
        type=float,
        default=1.0,
        help="CreateJob requests per second the emulator allows",
    )
    parser.add_argument(
        "--job-seconds",
        type=float,
        help="run no job code: each job takes this long (default: run jobs for real)",
    )
    parser.add_argument(
        "--concurrent-jobs-quota", type=int, help="unfinished jobs allowed (default: no limit)"
    )
    parser.add_argument(
        "--job-python",
        help="the interpreter jobs run with (default: this one, with its packages)",
    )
    parser.add_argument("--moto", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.moto:
        serve_moto()
        return 0
    with moto_process() as (moto_url, moto_pid):
        role = create_jobs_role(moto_url)
        asyncio.run(serve(moto_url, moto_pid, role, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
