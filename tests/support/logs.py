"""Helpers for the log and metrics tests: CloudWatch Logs events, real jobs, a fault proxy.

:class:`LogsProxy` sits between a session and moto on loopback and forwards every
request, except that it can answer chosen operations with errors first (throttling,
5xx), make Insights queries look still running, and hold them until released. Faults
arrive over real HTTP, so the session's own error translation and retries are what
is tested; nothing in botocore is patched.
"""

from __future__ import annotations

import io
import tarfile
import textwrap
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
from aiohttp import web

from braket_async.aws import AwsSession, Clock
from braket_async.errors import ServiceError

LOG_GROUP = "/aws/braket/jobs"
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
_HOP_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "content-encoding", "connection", "host"}
)


def fake_job_arn() -> str:
    """An ARN of the UUID kind, for a job that exists only through its log streams."""
    return f"arn:aws:braket:us-east-1:123456789012:job/{uuid.uuid4()}"


def job_prefix(job_name: str, job_arn: str) -> str:
    return f"{job_name}/{job_arn.rsplit('/', 1)[-1]}"


def unique_job_name(stem: str = "logs") -> str:
    return f"{stem}-{uuid.uuid4().hex[:10]}"


async def ensure_group(session: AwsSession, group: str = LOG_GROUP) -> None:
    try:
        await session.call("logs", "create_log_group", logGroupName=group)
    except ServiceError as exc:
        if exc.code != "ResourceAlreadyExistsException":
            raise


async def put_events(
    session: AwsSession,
    stream: str,
    events: Iterable[tuple[int, str]],
    *,
    group: str = LOG_GROUP,
) -> None:
    """Append ``(epoch milliseconds, message)`` events to ``stream``, creating it."""
    await ensure_group(session, group)
    try:
        await session.call("logs", "create_log_stream", logGroupName=group, logStreamName=stream)
    except ServiceError as exc:
        if exc.code != "ResourceAlreadyExistsException":
            raise
    batch = [{"timestamp": stamp, "message": message} for stamp, message in events]
    if batch:
        await session.call(
            "logs", "put_log_events", logGroupName=group, logStreamName=stream, logEvents=batch
        )


class RecordingClock(Clock):
    """A clock whose sleeps take no time and are recorded."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        super().__init__(sleep=self._sleep)

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await anyio.lowlevel.checkpoint()


def moto_session(endpoint: str, **options: Any) -> AwsSession:
    """A session whose CloudWatch Logs (and S3) is ``endpoint``."""
    options.setdefault("region", "us-east-1")
    return AwsSession(endpoint_urls={"logs": endpoint, "s3": endpoint}, **options)


class LogsProxy:
    """A loopback HTTP proxy in front of moto's CloudWatch Logs, with injected faults.

    Attributes:
        calls: Requests seen, by operation (``"GetLogEvents"``, ...).
        errors: Per operation, error codes to answer (in order) before forwarding.
        statuses: Insights statuses ``GetQueryResults`` answers (in order) before
            forwarding, e.g. ``["Running", "Failed"]``.
        answers: Per operation, an answer the proxy gives itself.
        hold: While set to an unset event, ``GetQueryResults`` waits for it.
        held: How many ``GetQueryResults`` requests are waiting on ``hold``.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.calls: Counter[str] = Counter()
        self.errors: defaultdict[str, list[str]] = defaultdict(list)
        self.statuses: list[str] = []
        # moto has no StopQuery; answer it here.
        self.answers: dict[str, Any] = {"StopQuery": {"success": True}}
        self.hold: anyio.Event | None = None
        self.held = 0
        self._held_changed = anyio.Event()
        self.endpoint_url = ""
        self._http: aiohttp.ClientSession | None = None

    async def wait_held(self, count: int) -> None:
        """Wait until ``count`` ``GetQueryResults`` requests are held."""
        while self.held < count:
            await self._held_changed.wait()

    def _notify(self) -> None:
        self._held_changed.set()
        self._held_changed = anyio.Event()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        self.calls[operation] += 1
        body = await request.read()
        queued = self.errors.get(operation)
        if queued:
            code = queued.pop(0)
            status = 503 if code == "ServiceUnavailableException" else 400
            return web.json_response(
                {"__type": code, "message": "injected by the test proxy"},
                status=status,
                content_type="application/x-amz-json-1.1",
            )
        if operation in self.answers:
            return web.json_response(
                self.answers[operation], content_type="application/x-amz-json-1.1"
            )
        if operation == "GetQueryResults":
            if self.statuses:
                return web.json_response(
                    {"status": self.statuses.pop(0), "results": []},
                    content_type="application/x-amz-json-1.1",
                )
            if self.hold is not None and not self.hold.is_set():
                self.held += 1
                self._notify()
                try:
                    await self.hold.wait()
                finally:
                    self.held -= 1
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._http.request(
            request.method, self.target + request.path_qs, headers=headers, data=body
        ) as answer:
            payload = await answer.read()
            forwarded = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
            return web.Response(body=payload, status=answer.status, headers=forwarded)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LogsProxy]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        async with aiohttp.ClientSession() as http:
            self._http = http
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.endpoint_url = f"http://{host}:{port}"
            try:
                yield self
            finally:
                if self.hold is not None:
                    self.hold.set()
                await runner.cleanup()


# --- real jobs on the emulator ---------------------------------------------------------


async def start_job(
    session: AwsSession,
    script: str,
    *,
    job_name: str | None = None,
    instance_count: int = 1,
    role_arn: str,
    device: str,
) -> tuple[str, str]:
    """Upload ``script`` as ``algo.py`` and create a job running it; (name, ARN)."""
    name = job_name or unique_job_name("job")
    bucket = await session.default_bucket()
    key = f"jobs/{name}/script/source.tar.gz"
    await session.call(
        "s3", "put_object", Bucket=bucket, Key=key, Body=make_tarball({"algo.py": script})
    )
    created = await session.call(
        "braket",
        "create_job",
        jobName=name,
        roleArn=role_arn,
        algorithmSpecification={
            "scriptModeConfig": {
                "entryPoint": "algo",
                "s3Uri": f"s3://{bucket}/{key}",
                "compressionType": "GZIP",
            }
        },
        outputDataConfig={"s3Path": f"s3://{bucket}/jobs/{name}/data"},
        instanceConfig={
            "instanceType": "ml.m5.large",
            "volumeSizeInGb": 30,
            "instanceCount": instance_count,
        },
        deviceConfig={"device": device},
        clientToken=str(uuid.uuid4()),
    )
    return name, str(created["jobArn"])


def terminal_check(session: AwsSession, arn: str) -> Callable[[], Awaitable[bool]]:
    """``is_terminal`` for a job of the emulator, through GetJob."""

    async def is_terminal() -> bool:
        job = await session.call("braket", "get_job", jobArn=arn)
        return str(job["status"]) in TERMINAL

    return is_terminal


def make_tarball(files: dict[str, str]) -> bytes:
    """A ``source.tar.gz`` of dedented source files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
