"""The orchestration service example end to end: a real process, a real HTTP client,
and a real headless Chromium that submits a job and watches its log arrive."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anyio
import pytest
from support.browser import chromium_page
from support.owning import alive

from braket_async.local._folder import read_metadata

pytestmark = pytest.mark.anyio

REPOSITORY = Path(__file__).resolve().parents[2]
APP = REPOSITORY / "examples" / "service" / "app.py"
SCREENSHOT = REPOSITORY / "artifacts" / "service-page.png"

# Prints a line, then waits until the file its ``gate`` names exists.
GATED = """
import os, time
from braket_async.jobs import get_hyperparameters, log_metric, save_job_result
gate = get_hyperparameters()["gate"]
print("waiting at the gate", flush=True)
while not os.path.exists(gate):
    time.sleep(0.02)
log_metric("energy", -1.5, iteration_number=0)
print("through the gate", flush=True)
save_job_result({"passed": True})
"""


class Service:
    def __init__(self, url: str, root: Path, gate: Path) -> None:
        self.url, self.root, self.gate = url, root, gate


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    algorithms = tmp_path / "algorithms"
    shutil.copytree(APP.parent / "algorithms", algorithms)
    (algorithms / "gated.py").write_text(GATED)
    root = tmp_path / "jobs"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(APP), "--port", "0", "--root", str(root),
        "--algorithms", str(algorithms),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        with anyio.fail_after(60):
            line = (await process.stdout.readline()).decode()
        assert line.startswith("serving on http://127.0.0.1:"), line
        yield Service(line.split()[-1], root, tmp_path / "gate")
    finally:
        if process.returncode is None:
            process.terminate()
            with anyio.fail_after(60):
                await process.wait()


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, str]]:
    """The (event, data) pairs of a text/event-stream."""
    kind, data = "message", []
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if not line:
            yield kind, "\n".join(data)
            kind, data = "message", []
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])


async def test_submit_stream_result_metrics(service: Service) -> None:
    async with aiohttp.ClientSession(service.url) as http:
        async with http.get("/api/algorithms") as response:
            assert await response.json() == ["fail", "gated", "optimise"]
        body = {"algorithm": "gated", "hyperparameters": {"gate": str(service.gate)}, "name": "g1"}
        async with http.post("/api/jobs", json=body) as response:
            assert response.status == 201
            assert await response.json() == {"name": "g1", "arn": "local:job/g1"}
        async with http.get("/api/jobs") as response:
            assert await response.json() == [{"name": "g1", "state": "RUNNING"}]
        async with http.get("/api/jobs/g1/log") as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            stream = events(response)
            assert await anext(stream) == ("line", "waiting at the gate")
            # The line arrived while the job runs: it is held at the gate.
            async with http.get("/api/jobs/g1") as described:
                assert (await described.json())["state"] == "RUNNING"
            service.gate.touch()
            rest = [event async for event in stream]
        assert ("line", "through the gate") in rest
        assert rest[-1] == ("end", "COMPLETED")
        async with http.get("/api/jobs/g1") as response:
            described = await response.json()
        assert described["result"] == {"passed": True}
        assert described["metrics"]["energy"] == [-1.5]

        async with http.post("/api/jobs", json={"algorithm": "fail"}) as response:
            name = (await response.json())["name"]
        async with http.get(f"/api/jobs/{name}/log") as response:
            assert [event async for event in events(response)][-1] == ("end", "FAILED")
        async with http.get(f"/api/jobs/{name}") as response:
            assert "this algorithm always fails" in (await response.json())["failureReason"]


async def test_cancel_and_errors(service: Service) -> None:
    async with aiohttp.ClientSession(service.url) as http:
        body = {"algorithm": "gated", "hyperparameters": {"gate": str(service.gate)}, "name": "c1"}
        async with http.post("/api/jobs", json=body) as response:
            assert response.status == 201
        pid = read_metadata(service.root / "c1")["supervisor"]["pid"]
        async with http.post("/api/jobs/c1/cancel") as response:
            assert (response.status, await response.json()) == (200, {"state": "CANCELLED"})
        assert not alive(pid)
        async with http.post("/api/jobs/c1/cancel") as response:
            assert response.status == 409
            assert "has ended: CANCELLED" in (await response.json())["error"]
        async with http.get("/api/jobs/nope") as response:
            assert response.status == 404
        async with http.get("/api/jobs/nope/log") as response:
            assert response.status == 404
        bad = [
            {"algorithm": "../../etc/passwd"},
            {"algorithm": "optimise", "name": "../escape"},
            {"algorithm": "optimise", "name": "c1"},  # in use
            {"algorithm": "optimise", "hyperparameters": {"x": "y" * 5000}},
            {"algorithm": "optimise", "hyperparameters": {f"h{i}": "1" for i in range(50)}},
            {"algorithm": "optimise", "hyperparameters": {"no spaces": "1"}},
            {"algorithm": "optimise", "hyperparameters": ["x"]},
            ["not", "an", "object"],
        ]
        for document in bad:
            async with http.post("/api/jobs", json=document) as response:
                assert response.status == 400, document
                assert (await response.json())["error"]
        async with http.post("/api/jobs", data=b"{not json") as response:
            assert response.status == 400
        async with http.post("/api/jobs", data=b"x" * (1024 * 1024)) as response:
            assert response.status == 413
        assert sorted(path.name for path in service.root.iterdir()) == ["c1"]


async def test_a_client_that_leaves_mid_stream(service: Service) -> None:
    async with aiohttp.ClientSession(service.url) as http:
        body = {"algorithm": "gated", "hyperparameters": {"gate": str(service.gate)}, "name": "l1"}
        await (await http.post("/api/jobs", json=body)).release()
        response = await http.get("/api/jobs/l1/log")
        assert await anext(events(response)) == ("line", "waiting at the gate")
        response.close()  # the browser tab was closed
        service.gate.touch()
        async with http.get("/api/jobs/l1/log") as again:  # the service still serves
            assert [e async for e in events(again)][-1] == ("end", "COMPLETED")


async def test_the_page_in_a_real_browser(service: Service) -> None:
    async with chromium_page() as page:
        await page.goto(service.url)
        await page.wait_for("document.querySelectorAll('#algorithm option').length === 3")
        gate = json.dumps(f"gate={service.gate}")
        await page.evaluate(
            f"""
            document.getElementById('algorithm').value = 'gated';
            document.getElementById('hyperparameters').value = {gate};
            document.getElementById('name').value = 'from-the-page';
            document.getElementById('create').click();
            true
            """
        )
        await page.wait_for("document.getElementById('log').textContent.includes('waiting at')")
        # Seen in the page while the job runs (it waits at the gate).
        assert await page.wait_for("document.getElementById('state').textContent === 'RUNNING'")
        assert "from-the-page" in await page.evaluate("document.getElementById('jobs').innerText")
        service.gate.touch()
        await page.wait_for("document.getElementById('state').textContent === 'COMPLETED'")
        await page.wait_for("document.getElementById('result').textContent.includes('passed')")
        log = await page.evaluate("document.getElementById('log').textContent")
        lines = log.splitlines()
        assert lines[0] == "waiting at the gate"
        assert lines[-1] == "through the gate"
        assert "energy" in await page.evaluate("document.getElementById('metrics').textContent")
        shot = await page.screenshot(SCREENSHOT)
    assert shot.read_bytes().startswith(b"\x89PNG")
    print(f"screenshot: {shot}")
