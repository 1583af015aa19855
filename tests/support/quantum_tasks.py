"""Shared by the tests of a job's quantum tasks and cost: jobs and tasks made on the
emulator with raw Braket calls, and a loopback HTTP server for price lists."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from aiohttp import web

from braket_async.aws import AwsQuantumJob, AwsSession, InstanceConfig
from braket_async.emulator.testing import EmulatorStack
from support.aws import SV1
from support.jobs import unique_name, write_module

EMU9 = "arn:aws:braket:us-east-1::device/qpu/braket-async/Emu-9"
RESERVATION = (
    "arn:aws:braket:us-east-1:123456789012:reservation/7f0bb4e8-7e9a-4b8a-9c1e-3a2d1f0e5b6c"
)
BELL = (
    "OPENQASM 3.0;\nbit[2] b;\nqubit[2] q;\nh q[0];\ncnot q[0], q[1];\n"
    "b[0] = measure q[0];\nb[1] = measure q[1];"
)


def program(source: str = BELL) -> str:
    """An OpenQASM action as the official SDK sends it."""
    header = {"name": "braket.ir.openqasm.program", "version": "1"}
    return json.dumps({"braketSchemaHeader": header, "source": source, "inputs": {}})


async def create_job(
    session: AwsSession,
    folder: Path,
    *,
    instance_type: str = "ml.m5.large",
    instance_count: int = 1,
) -> str:
    """A job on SV1 made with ``AwsQuantumJob.create``; its code runs only on a stack
    whose runner runs code."""
    job = await AwsQuantumJob.create(
        SV1,
        str(write_module(folder, "algo")),
        job_name=unique_name("cost"),
        aws_session=session,
        instance_config=InstanceConfig(instance_type=instance_type, instance_count=instance_count),
    )
    return job.arn


async def create_task(
    stack: EmulatorStack,
    braket: Any,
    bucket: str,
    *,
    job_arn: str | None = None,
    device: str = SV1,
    shots: int = 100,
    source: str = BELL,
    **request: Any,
) -> str:
    """A quantum task; of the job ``job_arn`` (created with its token) when given."""
    if job_arn is not None:
        request["jobToken"] = stack.emulator.service.job(job_arn).job_token
    created = await braket.create_quantum_task(
        deviceArn=device,
        action=program(source),
        shots=shots,
        outputS3Bucket=bucket,
        outputS3KeyPrefix="tasks",
        **request,
    )
    return str(created["quantumTaskArn"])


async def read_price_list(stack: EmulatorStack) -> bytes:
    """The emulator's price list document, as it serves it."""
    url = stack.environment()["BRAKET_PRICE_OFFERS_URL"]
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        response.raise_for_status()
        return await response.read()


@attrs.define
class PriceServer:
    """A loopback HTTP server of documents: ``url(name)`` serves ``documents[name]``
    (bytes, or an HTTP status), counting requests by name; ``url("hang")`` never answers
    (until the server stops)."""

    base: str
    documents: dict[str, bytes | int] = attrs.field(factory=dict)
    requests: dict[str, int] = attrs.field(factory=dict)
    release: asyncio.Event = attrs.field(factory=asyncio.Event)

    def url(self, name: str) -> str:
        return f"{self.base}/offers/{name}/index.csv"


@contextlib.asynccontextmanager
async def price_server() -> AsyncIterator[PriceServer]:
    """Serve a :class:`PriceServer` on 127.0.0.1 until the block ends."""
    server = PriceServer(base="")

    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        server.requests[name] = server.requests.get(name, 0) + 1
        if name == "hang":
            await server.release.wait()
        document = server.documents.get(name, 404)
        if isinstance(document, int):
            return web.Response(status=document, text="no price list here")
        return web.Response(body=document, content_type="text/csv")

    app = web.Application()
    app.router.add_get("/offers/{name}/index.csv", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (a port bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/offers/v1.0/aws/AmazonBraket/current/index.csv"
