"""The emulator's HTTP side: an aiohttp server speaking Braket's REST-JSON protocol.

Every request to a Braket route goes through the same steps, in this order: count the
call, add injected latency, apply the rate limits (``ThrottlingException``), inject a
500, parse and validate the input against botocore's model, run the operation, and
maybe drop the connection instead of answering. ``/_emulator/...`` is the admin side,
neither counted nor limited.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .._shield import finish
from ..errors import ClosedError
from ._errors import ApiError, internal_error, throttled
from ._faults import FaultInjector, Faults
from ._limits import RateLimiter, RateLimits
from ._runner import JobRunner
from ._service import BraketService
from ._stats import CallStats
from ._wire import find_route, parse_request, to_json

__all__ = ["BraketEmulator"]

_LOGGER = logging.getLogger(__name__)
ADMIN_PREFIX = "/_emulator/"


class BraketEmulator:
    """A local Braket service on a loopback port; an async context manager.

    ``async with BraketEmulator(runner=...) as emulator:`` starts it; point any Braket
    client at :attr:`endpoint_url`. Leaving the block cancels unfinished jobs, closes
    the runner and stops the server.

    Args:
        runner: What runs the jobs: a :class:`RuntimeJobRunner` to run them for real,
            a :class:`FakeRunner` to run no code.
        host: The address to listen on (default loopback only).
        port: The port; 0 picks a free one.
        region: The region in job ARNs.
        account_id: The account in job ARNs.
        rate_limits: Per-operation limits (default: shaped like Braket's quotas);
            :meth:`RateLimits.disabled` turns them off.
        faults: Injected faults (default: none).
        clock: Monotonic seconds for the rate limits; tests inject one.
        concurrent_jobs_quota: Jobs that may be unfinished at once (Braket's concurrent
            hybrid jobs quota); past it CreateJob answers ``ServiceQuotaExceededException``
            as the service does. Default ``None``: no limit.
    """

    def __init__(
        self,
        *,
        runner: JobRunner,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        rate_limits: RateLimits | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
        concurrent_jobs_quota: int | None = None,
    ) -> None:
        self.host = host
        self._concurrent_jobs_quota = concurrent_jobs_quota
        self.port = port
        self.stats = CallStats()
        self._clock = clock
        self.limiter = RateLimiter(rate_limits or RateLimits(), clock=clock)
        self.faults = FaultInjector(faults or Faults())
        self._runner = runner
        self._region = region
        self._account_id = account_id
        self._service: BraketService | None = None
        self._web_runner: web.ServerRunner | None = None
        self._state = "new"

    @property
    def endpoint_url(self) -> str:
        """``http://<host>:<port>``, once started."""
        if self._state != "running":
            raise ClosedError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def service(self) -> BraketService:
        """The service behind the server: its jobs, and waiting for their states."""
        if self._service is None:
            raise ClosedError("the emulator was not started")
        return self._service

    def set_faults(self, faults: Faults) -> None:
        """Replace the injected faults (and restart their random sequence)."""
        self.faults = FaultInjector(faults)

    def set_concurrent_jobs_quota(self, quota: int | None) -> None:
        """How many jobs may be unfinished at once before CreateJob answers
        ``ServiceQuotaExceededException``; ``None`` for no limit (the default)."""
        self._concurrent_jobs_quota = quota
        if self._service is not None:
            self._service.concurrent_jobs_quota = quota

    def set_rate_limits(self, limits: RateLimits) -> None:
        """Replace the rate limits (buckets start full)."""
        self.limiter = RateLimiter(limits, clock=self._clock)

    async def start(self) -> None:
        """Bind the port and start serving. Refused once closed."""
        if self._state != "new":
            raise ClosedError(f"the emulator cannot start: it is {self._state}")
        self._state = "starting"
        self._service = BraketService(
            self._runner,
            region=self._region,
            account_id=self._account_id,
            concurrent_jobs_quota=self._concurrent_jobs_quota,
        )
        server = web.Server(self._dispatch, access_log=None)
        self._web_runner = web.ServerRunner(server, handle_signals=False)
        try:
            await self._web_runner.setup()
            site = web.TCPSite(self._web_runner, self.host, self.port)
            await site.start()
            self.port = int(self._web_runner.addresses[0][1])
        except BaseException:
            self._state = "closed"
            await finish(self._close())
            raise
        self._service.service_url = f"http://{self.host}:{self.port}"
        self._state = "running"

    async def aclose(self) -> None:
        """Stop jobs, the runner and the server. Idempotent."""
        if self._state == "closed":
            return
        self._state = "closed"
        await finish(self._close())

    async def _close(self) -> None:
        try:
            if self._service is not None:
                await self._service.aclose()
        finally:
            if self._web_runner is not None:
                await self._web_runner.cleanup()

    async def __aenter__(self) -> BraketEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if getattr(self, "_state", "closed") == "running":
            _warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=1)

    # -- requests ------------------------------------------------------------------

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await self._admin(request)
        route = find_route(request.method, request.raw_path)
        if route is None:
            return _error_response(
                404, "UnknownOperationException", f"No operation at {request.method} {request.path}"
            )
        operation = route.name
        self.stats.add(operation, "calls")
        decision = self.faults.decide(operation)
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if not self.limiter.try_acquire(operation):
            self.stats.add(operation, "throttled")
            return self._answer_error(operation, throttled(operation))
        if decision.error:
            self.stats.add(operation, "injected_errors")
            return self._answer_error(operation, internal_error("Injected fault"))
        try:
            params = parse_request(
                route,
                request.raw_path,
                {name: request.query.getall(name) for name in request.query},
                request.headers,
                await request.read(),
            )
            result = await self.service.handle(operation, params)
        except ApiError as exc:
            return self._answer_error(operation, exc)
        except Exception:
            _LOGGER.exception("%s failed", operation)
            return self._answer_error(operation, internal_error())
        if decision.drop:
            self.stats.add(operation, "dropped")
            return _drop(request)
        self.stats.add(operation, "succeeded")
        return web.Response(
            status=route.status,
            body=to_json(result),
            content_type="application/json",
            headers={"x-amzn-RequestId": str(uuid.uuid4())},
        )

    def _answer_error(self, operation: str, error: ApiError) -> web.Response:
        self.stats.add(operation, "server_errors" if error.status >= 500 else "client_errors")
        return _error_response(error.status, error.code, error.message)

    async def _admin(self, request: web.BaseRequest) -> web.StreamResponse:
        action = request.path[len(ADMIN_PREFIX) :].rstrip("/")
        if action == "stats" and request.method == "GET":
            return web.Response(body=to_json(self.admin_stats()), content_type="application/json")
        if action == "stats" and request.method == "DELETE":
            self.stats.reset()
            return web.Response(status=204)
        return web.Response(status=404, text=f"no admin action {request.method} {action}\n")

    def admin_stats(self) -> dict[str, Any]:
        """What ``GET /_emulator/stats`` answers: calls per operation and jobs per state."""
        states: dict[str, int] = {}
        for job in self.service.jobs:
            states[job.status.value] = states.get(job.status.value, 0) + 1
        return {"operations": self.stats.snapshot(), "jobs": states}


def _error_response(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=to_json({"message": message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())},
    )


def _drop(request: web.BaseRequest) -> web.StreamResponse:
    """Close the connection without an answer."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    # aiohttp still wants a response object; it cannot be written to a closed transport.
    return web.Response(status=500)
