"""Helpers for the poller's tests: virtual time, and jobs made directly in the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from aiohttp import web

from braket_async.aws import AwsSession, Clock
from support.aws import ROLE, SV1

#: Sleeps at least this long are the poller's pauses between cycles (rate-limiter and
#: retry sleeps of the tests that count cycles are shorter).
NAP = 1.0


class VirtualTime:
    """Monotonic time that only sleeping moves: a sleep yields once, then sets the time
    to at least its end. Concurrent sleepers move it to the latest end, not the sum, and
    no wall time passes."""

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start
        self.sleeps: list[float] = []
        self._moved: asyncio.Event | None = None

    def now(self) -> float:
        return self.time

    async def sleep(self, delay: float) -> None:
        end = self.time + max(delay, 0.0)
        await asyncio.sleep(0)
        self.time = max(self.time, end)
        self.sleeps.append(delay)  # only sleeps that were not cancelled
        if self._moved is not None:
            self._moved.set()
            self._moved = None

    def clock(self) -> Clock:
        return Clock(now=self.now, sleep=self.sleep)

    @property
    def naps(self) -> int:
        """How many pauses between polling cycles there were (an upper bound where
        the rate limiter waited a second or more)."""
        return sum(1 for delay in self.sleeps if delay >= NAP)

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds, checking it whenever time moves."""
        while not predicate():
            if self._moved is None:
                self._moved = asyncio.Event()
            await self._moved.wait()


def job_request(name: str = "poller-job") -> dict[str, Any]:
    """CreateJob parameters (the fake runner reads none of the S3 locations)."""
    bucket = "poller-test-bucket"
    return {
        "clientToken": str(uuid.uuid4()),
        "jobName": name,
        "roleArn": ROLE,
        "algorithmSpecification": {
            "scriptModeConfig": {
                "entryPoint": "algo",
                "s3Uri": f"s3://{bucket}/jobs/{name}/script/source.tar.gz",
                "compressionType": "GZIP",
            }
        },
        "outputDataConfig": {"s3Path": f"s3://{bucket}/jobs/{name}/data"},
        "instanceConfig": {"instanceType": "ml.m5.large", "volumeSizeInGb": 30},
        "deviceConfig": {"device": SV1},
    }


async def create_jobs(session: AwsSession, count: int, name: str = "poller-job") -> list[str]:
    """Create ``count`` jobs at once through the emulator's API; their ARNs."""
    created = await asyncio.gather(
        *(
            session.call("braket", "create_job", **job_request(f"{name}-{index}"))
            for index in range(count)
        )
    )
    return [str(answer["jobArn"]) for answer in created]


@contextlib.asynccontextmanager
async def denying_proxy(
    target: str,
    denied: Callable[[str, str], bool],
    rewrite: Callable[[str, str, bytes], bytes] | None = None,
) -> AsyncIterator[DenyingProxy]:
    """An HTTP proxy in front of ``target`` that answers ``AccessDeniedException`` (403)
    to the requests for which ``denied(method, path)`` holds, as IAM would; with
    ``rewrite``, the body of every successful answer it forwards is
    ``rewrite(method, path, body)`` (a service that lags, say)."""
    proxy = DenyingProxy()
    async with aiohttp.ClientSession() as client:

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            if denied(request.method, request.path):
                proxy.denied += 1
                return web.Response(
                    status=403,
                    body=json.dumps({"message": "not authorized"}).encode(),
                    content_type="application/json",
                    headers={"x-amzn-ErrorType": "AccessDeniedException"},
                )
            headers = {
                name: value
                for name, value in request.headers.items()
                if name.lower() not in ("host", "content-length")
            }
            async with client.request(
                request.method,
                target + request.raw_path,
                data=await request.read(),
                headers=headers,
            ) as answer:
                body = await answer.read()
                if rewrite is not None and answer.status < 300:
                    body = rewrite(request.method, request.path, body)
                kept = {
                    name: value
                    for name, value in answer.headers.items()
                    if name.lower() in ("x-amzn-errortype", "x-amzn-requestid")
                }
                return web.Response(
                    status=answer.status,
                    body=body,
                    headers=kept,
                    content_type=answer.content_type,
                )

        runner = web.ServerRunner(web.Server(handle), handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            proxy.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            yield proxy
        finally:
            await runner.cleanup()


class DenyingProxy:
    """Where the proxy listens, and how many requests it refused."""

    def __init__(self) -> None:
        self.url = ""
        self.denied = 0
