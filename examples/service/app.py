"""An async orchestration service on braket_async: submit jobs, list them, watch a job's
log stream into the browser as it is printed, see results and metrics, cancel.

python examples/service/app.py [--port 8080] [--root jobs/] [--remote]

The page is served at the printed URL (loopback only by default). Jobs run as local
processes, or on Braket (``--remote``: the AWS configuration, e.g. the lines
``braket-async emulator`` prints). Submissions choose one of the algorithms in
``--algorithms`` (default: ``algorithms/`` next to this file): the service never runs
code a browser sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from braket_async import AwsQuantumJob, AwsSession, JobState, LocalQuantumJob, QuantumJob

HERE = Path(__file__).resolve().parent
LOCAL_DEVICE = "local:braket/braket.local.qubit"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_MAX_HYPERPARAMETERS = 20
_MAX_VALUE = 1000
_MAX_BODY = 64 * 1024


class BadRequest(Exception):
    """A submission the service refuses (400)."""


class Service:
    """The jobs this service created, and what it does with them.

    Args:
        target: ``"process"`` or an :class:`AwsSession`.
        root: Where local jobs' folders go.
        algorithms: The folder of the algorithms one may submit (``<name>.py``).
    """

    def __init__(self, target: AwsSession | str, root: Path, algorithms: Path) -> None:
        self.target = target
        self.root = root
        self.algorithms = {path.stem: path for path in sorted(algorithms.glob("*.py"))}
        self.jobs: dict[str, QuantumJob] = {}

    async def submit(self, document: object) -> QuantumJob:
        """Create the job a submission describes."""
        if not isinstance(document, dict):
            raise BadRequest("the body must be a JSON object")
        algorithm = document.get("algorithm")
        if algorithm not in self.algorithms:
            raise BadRequest(f"algorithm must be one of {sorted(self.algorithms)}")
        hyperparameters = _hyperparameters(document.get("hyperparameters", {}))
        name = document.get("name") or None
        if name is not None and not isinstance(name, str):
            raise BadRequest("name must be a string")
        source = self.algorithms[algorithm]
        job: QuantumJob
        try:
            if isinstance(self.target, AwsSession):
                job = await AwsQuantumJob.create(
                    SV1, source, job_name=name, hyperparameters=hyperparameters,
                    aws_session=self.target,
                )  # fmt: skip
            else:
                job = await LocalQuantumJob.create(
                    LOCAL_DEVICE, source, job_name=name, hyperparameters=hyperparameters,
                    root=self.root,
                )  # fmt: skip
        except ValueError as error:  # ConfigurationError: a bad name, a name in use
            raise BadRequest(str(error)) from error
        self.jobs[job.name] = job
        return job

    def job(self, name: str) -> QuantumJob:
        """A job of this service, or 404."""
        job = self.jobs.get(name)
        if job is None:
            raise web.HTTPNotFound(text=_error(f"no job {name!r}"), content_type=_JSON)
        return job

    async def describe(self, job: QuantumJob) -> dict[str, Any]:
        """What the page shows of a job."""
        metadata = await job.metadata()
        state = JobState(metadata["status"])
        described: dict[str, Any] = {
            "name": job.name,
            "arn": job.arn,
            "state": state.value,
            "failureReason": metadata.get("failureReason"),
            "result": None,
            "metrics": {},
        }
        if state is JobState.COMPLETED:
            described["result"] = await job.result()
        if state.is_terminal:
            described["metrics"] = await job.metrics()
        return described

    async def close(self) -> None:
        """Cancel the local jobs that still run (their processes gone), close the rest."""
        for job in self.jobs.values():
            if not isinstance(self.target, AwsSession) and not (await job.state()).is_terminal:
                await job.cancel(wait=True)
            await job.aclose()


def _hyperparameters(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise BadRequest("hyperparameters must be an object of names to strings")
    if len(value) > _MAX_HYPERPARAMETERS:
        raise BadRequest(f"at most {_MAX_HYPERPARAMETERS} hyperparameters")
    checked = {}
    for name, text in value.items():
        if not _NAME.fullmatch(name):
            raise BadRequest(f"hyperparameter name {name[:80]!r} is not an identifier")
        if not isinstance(text, (str, int, float)) or len(str(text)) > _MAX_VALUE:
            raise BadRequest(f"hyperparameter {name}: a string of at most {_MAX_VALUE} characters")
        checked[name] = str(text)
    return checked


_JSON = "application/json"


def _error(message: str) -> str:
    return json.dumps({"error": message})


def make_app(service: Service) -> web.Application:
    """The web application: the page and its JSON and event-stream API."""
    app = web.Application(client_max_size=_MAX_BODY)
    routes = web.RouteTableDef()

    @routes.get("/")
    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(HERE / "index.html")

    @routes.get("/api/algorithms")
    async def algorithms(request: web.Request) -> web.Response:
        return web.json_response(sorted(service.algorithms))

    @routes.post("/api/jobs")
    async def submit(request: web.Request) -> web.Response:
        try:
            document = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": "the body is not JSON"}, status=400)
        try:
            job = await service.submit(document)
        except BadRequest as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response({"name": job.name, "arn": job.arn}, status=201)

    @routes.get("/api/jobs")
    async def listing(request: web.Request) -> web.Response:
        states = await asyncio.gather(*(job.state() for job in service.jobs.values()))
        return web.json_response(
            [
                {"name": name, "state": state.value}
                for name, state in zip(service.jobs, states, strict=True)
            ]
        )

    @routes.get("/api/jobs/{name}")
    async def describe(request: web.Request) -> web.Response:
        job = service.job(request.match_info["name"])
        return web.json_response(await service.describe(job))

    @routes.post("/api/jobs/{name}/cancel")
    async def cancel(request: web.Request) -> web.Response:
        job = service.job(request.match_info["name"])
        state = await job.state()
        if state.is_terminal:
            return web.json_response({"error": f"job {job.name} has ended: {state}"}, status=409)
        return web.json_response({"state": (await job.cancel(wait=True)).value})

    @routes.get("/api/jobs/{name}/log")
    async def log(request: web.Request) -> web.StreamResponse:
        job = service.job(request.match_info["name"])
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        # Each write waits until the client has taken the bytes (aiohttp drains the
        # transport): a slow reader slows this loop, never grows a buffer without end.
        with contextlib.suppress(ConnectionResetError):
            async for event in job.logs(wait=True, poll_interval_seconds=1):
                await response.write(_event("line", event.message))
            await response.write(_event("end", (await job.wait(poll_interval_seconds=1)).value))
        return response

    app.add_routes(routes)

    async def close_service(app: web.Application) -> None:
        await service.close()

    app.on_cleanup.append(close_service)
    return app


def _event(kind: str, text: str) -> bytes:
    data = "".join(f"data: {line}\n" for line in text.split("\n"))
    return f"event: {kind}\n{data}\n".encode()


@contextlib.asynccontextmanager
async def _target(remote: bool) -> AsyncIterator[AwsSession | str]:
    if not remote:
        yield "process"
        return
    async with AwsSession() as session:
        yield session


async def serve(options: argparse.Namespace) -> None:
    """Serve until interrupted; local jobs still running are cancelled on the way out."""
    async with _target(options.remote) as target:
        service = Service(target, options.root, options.algorithms)
        runner = web.AppRunner(make_app(service))
        await runner.setup()
        try:
            site = web.TCPSite(runner, options.host, options.port)
            await site.start()
            host, port = runner.addresses[0][:2]
            print(f"serving on http://{host}:{port}/", flush=True)
            stop = asyncio.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
            await stop.wait()
        finally:
            await runner.cleanup()  # cancels the local jobs still running


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free one)")
    parser.add_argument("--root", type=Path, default=None, help="folder of local jobs")
    parser.add_argument("--algorithms", type=Path, default=HERE / "algorithms")
    parser.add_argument("--remote", action="store_true", help="run jobs on Braket")
    options = parser.parse_args()
    if options.root is None:
        options.root = Path(tempfile.mkdtemp(prefix="braket-async-service-"))
    options.root.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(options))


if __name__ == "__main__":
    main()
