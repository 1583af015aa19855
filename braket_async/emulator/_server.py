"""The emulator's HTTP side: an aiohttp server speaking Braket's REST-JSON protocol.

Every request to a Braket route goes through the same steps, in this order: count the
call, add injected latency, apply the rate limits (``ThrottlingException``), inject a
500, parse and validate the input against botocore's model, run the operation, and
maybe drop the connection instead of answering. ``/_emulator/...`` is the admin side,
neither counted nor limited: ``stats`` (``GET``, ``DELETE`` to reset) and ``settings``
(``GET``; ``PATCH`` or ``POST`` a JSON object of the keys to change, see
:mod:`._settings`). The price list (:mod:`._prices`) is served at the path of AWS's,
neither counted nor limited either.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from .._shield import finish
from ..errors import ClosedError
from ._endpoint import AwsEndpoint
from ._errors import ApiError, internal_error, throttled
from ._faults import FaultInjector, Faults
from ._limits import RateLimiter, RateLimits
from ._prices import PRICE_LIST_PATH, price_list_csv
from ._runner import BoundedRunner, JobRunner
from ._service import BraketService
from ._settings import EmulatorSettings, SettingsError, apply_changes
from ._simulator_pool import SimulatorPool
from ._stats import CallStats
from ._task_results import TaskResults
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
        aws: The S3 that quantum task results are written to (the moto server of
            :class:`RuntimeJobRunner`); without it CreateQuantumTask is refused.
        simulators: The worker processes that run quantum tasks' programs, which the
            caller closes (default: a :class:`SimulatorPool` of the emulator's own, one
            worker per CPU, at most four).
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
        aws: AwsEndpoint | None = None,
        simulators: SimulatorPool | None = None,
    ) -> None:
        self.host = host
        self._aws = aws
        self._simulators = simulators
        self._concurrent_jobs_quota = concurrent_jobs_quota
        self.port = port
        self.stats = CallStats()
        self._clock = clock
        self._rate_base = RateLimits()  # what the rate settings scale and switch
        self._rate_scale = 1.0
        self.set_rate_limits(rate_limits or RateLimits())
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
        """Replace the rate limits (buckets start full).

        They become the base that the ``rate_limits`` and ``rate_scale`` settings turn
        on and off and scale; limits without any rate (:meth:`RateLimits.disabled`)
        leave Braket's quotas as that base.
        """
        if limits.operations or limits.account is not None:
            self._rate_base = attrs.evolve(limits, enabled=True)
        self._rate_scale = 1.0
        self.limiter = RateLimiter(limits, clock=self._clock)

    @property
    def settings(self) -> EmulatorSettings:
        """The faults, limits and quotas in force (what ``GET /_emulator/settings`` shows)."""
        bounded = self._runner if isinstance(self._runner, BoundedRunner) else None
        return EmulatorSettings(
            faults=self.faults.faults,
            rate_limits=self.limiter.limits.enabled,
            rate_scale=self._rate_scale,
            concurrent_jobs_quota=self._concurrent_jobs_quota,
            max_concurrent_jobs=bounded.max_concurrent_jobs if bounded is not None else None,
            bounded_runner=bounded is not None,
        )

    def update_settings(self, changes: Mapping[str, object]) -> EmulatorSettings:
        """Change some settings at once, by the names of the settings document (see
        :mod:`braket_async.emulator._settings`); return the settings now in force.

        Every value is checked before any applies. New faults restart their random
        sequence; new rate limits start with full buckets; what did not change is kept.

        Raises:
            SettingsError: An unknown name or a bad value; nothing changed.
        """
        before = self.settings
        after = apply_changes(before, changes)
        if after.faults != before.faults:
            self.set_faults(after.faults)
        if (after.rate_limits, after.rate_scale) != (before.rate_limits, before.rate_scale):
            limits = self._rate_base.scaled(after.rate_scale)
            self.limiter = RateLimiter(
                attrs.evolve(limits, enabled=after.rate_limits), clock=self._clock
            )
            self._rate_scale = after.rate_scale
        if after.concurrent_jobs_quota != before.concurrent_jobs_quota:
            self.set_concurrent_jobs_quota(after.concurrent_jobs_quota)
        if after.max_concurrent_jobs != before.max_concurrent_jobs and isinstance(
            self._runner, BoundedRunner
        ):
            self._runner.set_max_concurrent_jobs(after.max_concurrent_jobs)
        return self.settings

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
            task_results=TaskResults(self._aws) if self._aws is not None else None,
            simulators=self._simulators,
        )
        self._price_list = price_list_csv(self._service.devices.values(), self._region)
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
        if request.path == PRICE_LIST_PATH and request.method == "GET":
            return web.Response(body=self._price_list, content_type="text/csv")
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
        methods = _ADMIN_METHODS.get(action)
        if methods is None:
            return _admin_error(404, f"no admin resource {action!r}; there are {_ADMIN_NAMES}")
        if request.method not in methods:
            return _admin_error(
                405, f"{action} takes {', '.join(methods)}", {"Allow": ", ".join(methods)}
            )
        if action == "stats":
            if request.method == "DELETE":
                self.stats.reset()
                return web.Response(status=204)
            return _admin_answer(self.admin_stats())
        if request.method == "GET":
            return _admin_answer(self.settings.to_document())
        try:
            changes = json.loads(await request.read())
        except ValueError:
            return _admin_error(400, "the body must be a JSON object of settings to change")
        try:
            return _admin_answer(self.update_settings(changes).to_document())
        except SettingsError as exc:
            return _admin_error(400, str(exc))

    def admin_stats(self) -> dict[str, Any]:
        """What ``GET /_emulator/stats`` answers: calls per operation, jobs and quantum
        tasks per state."""
        states: dict[str, int] = {}
        for job in self.service.jobs:
            states[job.status.value] = states.get(job.status.value, 0) + 1
        return {
            "operations": self.stats.snapshot(),
            "jobs": states,
            "quantum_tasks": self.service.quantum_tasks.states(),
        }


_ADMIN_METHODS = {"stats": ("GET", "DELETE"), "settings": ("GET", "PATCH", "POST")}
_ADMIN_NAMES = ", ".join(ADMIN_PREFIX + name for name in _ADMIN_METHODS)


def _admin_answer(document: Mapping[str, Any]) -> web.Response:
    return web.Response(body=to_json(dict(document)), content_type="application/json")


def _admin_error(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=to_json({"message": message}),
        content_type="application/json",
        headers=headers,
    )


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
