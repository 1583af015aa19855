"""A submission whose answer is lost makes one Ray job, not two: a loopback proxy in
front of the dashboard passes the job's submission on, then drops the connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from support.ray_cluster import RayCluster, free_port

from braket_async import LocalQuantumJob
from braket_async.runtimes import RayRuntime

pytestmark = pytest.mark.anyio


class DroppingProxy:
    """Forwards every request to the dashboard; the first ``POST /api/jobs/`` reaches it,
    and its answer is dropped with the connection."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.submissions = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        url = f"{self.target}{request.rel_url}"
        async with aiohttp.ClientSession() as session:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                server = web.WebSocketResponse()
                await server.prepare(request)
                async with session.ws_connect(url) as client:
                    async for message in client:
                        await server.send_str(message.data)
                await server.close()
                return server
            body = await request.read()
            async with session.request(request.method, url, data=body) as answer:
                data = await answer.read()
                status = answer.status
        if request.method == "POST" and request.path == "/api/jobs/":
            self.submissions += 1
            if self.submissions == 1:
                assert request.transport is not None
                request.transport.close()  # the job was made; its answer never arrives
        return web.Response(body=data, status=status, content_type="application/json")


@pytest.fixture
async def proxy(cluster: RayCluster) -> AsyncIterator[tuple[str, DroppingProxy]]:
    forwarder = DroppingProxy(cluster.address)
    app = web.Application(client_max_size=200 << 20)
    app.router.add_route("*", "/{tail:.*}", forwarder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", forwarder
    finally:
        await runner.cleanup()


async def test_a_lost_answer_to_a_submission_makes_one_job(
    cluster: RayCluster, proxy: tuple[str, DroppingProxy], tmp_path: Path
) -> None:
    address, forwarder = proxy
    (tmp_path / "algo.py").write_text("from braket_async.jobs import save_job_result\n"
                                      "save_job_result({'once': True})\n")  # fmt: skip
    async with RayRuntime(address, python=cluster.python) as runtime:
        job = await LocalQuantumJob.create(
            "local:none/none", str(tmp_path / "algo.py"), root=tmp_path, runtime=runtime
        )
        assert await job.result() == {"once": True}
    # The open outcome was settled by looking the submission id up: no second POST.
    assert forwarder.submissions == 1
    jobs = await asyncio.to_thread(cluster.jobs)
    ours = [
        info for info in jobs if (info.get("metadata") or {}).get("braket_async_job") == job.name
    ]
    assert len(ours) == 1, json.dumps(ours)[:2000]
