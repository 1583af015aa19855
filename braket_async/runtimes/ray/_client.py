"""The Ray dashboard's job REST API, over aiohttp: no Ray in the client.

The calls the runtime makes (Ray's job SDK makes the same ones): ``GET /api/version``,
the package API (``GET`` pins and tells whether a package exists, ``PUT`` uploads it),
``POST /api/jobs/`` (submit), ``GET /api/jobs/{id}``, ``POST /api/jobs/{id}/stop`` and
the log tail websocket ``/api/jobs/{id}/logs/tail``. This module is the one boundary
where aiohttp's errors become ours: an address that does not answer is a
:class:`DashboardUnreachableError`, an answer that refuses a :class:`DashboardError`.
"""

from __future__ import annotations

import asyncio
import json
import os
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from ..._shield import finish
from ...errors import ClosedError, ContainerError, RuntimeUnavailableError

__all__ = ["DashboardError", "DashboardUnreachableError", "RayDashboard"]

_CONNECT_SECONDS = 10.0
_READ_SECONDS = 60.0
#: Ping the tail websocket this often: a connection that silently died is noticed.
_HEARTBEAT_SECONDS = 10.0


class DashboardUnreachableError(RuntimeUnavailableError):
    """The Ray dashboard did not answer (refused, timed out, dropped the connection)."""


class DashboardError(ContainerError):
    """The Ray dashboard answered with an error.

    Attributes:
        status: The HTTP status.
        text: The body's text (Ray sends a traceback for 500s).
    """

    def __init__(self, message: str, status: int, text: str) -> None:
        super().__init__(message)
        self.status = status
        self.text = text

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.status, self.text))


class RayDashboard:
    """A client of one Ray cluster's dashboard at ``address`` (``http://host:port``).

    Its aiohttp session is made on first use and closed by :meth:`aclose`.
    """

    def __init__(self, address: str) -> None:
        self.address = address.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClosedError("this Ray dashboard client was closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=_CONNECT_SECONDS, sock_read=_READ_SECONDS
                )
            )
        return self._session

    async def _request(
        self, method: str, path: str, *, data: Any = None, json_body: Any = None
    ) -> tuple[int, str]:
        url = f"{self.address}{path}"
        try:
            async with self._http().request(method, url, data=data, json=json_body) as response:
                return response.status, await response.text(errors="replace")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: BaseException) -> DashboardUnreachableError:
        why = str(exc) or type(exc).__name__
        return DashboardUnreachableError(f"Cannot reach the Ray dashboard at {self.address}: {why}")

    def _refused(self, what: str, status: int, text: str) -> DashboardError:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        # Ray answers 500 with a traceback: its last line is the error.
        detail = lines[-1].strip() if lines else f"HTTP {status}"
        return DashboardError(
            f"The Ray dashboard at {self.address} refused {what} (HTTP {status}): {detail}",
            status,
            text,
        )

    async def version(self) -> dict[str, Any]:
        """``GET /api/version``: Ray's version and the session's name."""
        status, text = await self._request("GET", "/api/version")
        if status != 200:
            raise self._refused("a version request", status, text)
        return _json_object(text)

    async def package_exists(self, name: str) -> bool:
        """Whether the package ``gcs://<name>`` is in the cluster; the look pins it for
        a while (Ray keeps it from being collected before a job names it)."""
        status, text = await self._request("GET", f"/api/packages/gcs/{name}")
        if status == 404:
            return False
        if status != 200:
            raise self._refused(f"a look for package {name}", status, text)
        return True

    async def upload_package(self, name: str, source: Path | bytes) -> None:
        """``PUT`` the package ``gcs://<name>`` from a file or bytes (a file is streamed)."""
        if isinstance(source, bytes):
            status, text = await self._request("PUT", f"/api/packages/gcs/{name}", data=source)
        else:
            file = await asyncio.to_thread(open, source, "rb")
            try:
                status, text = await self._request("PUT", f"/api/packages/gcs/{name}", data=file)
            finally:
                await asyncio.to_thread(file.close)
        if status != 200:
            raise self._refused(f"the upload of package {name}", status, text)

    async def submit(self, request: dict[str, Any]) -> None:
        """``POST /api/jobs/``: submit ``request`` (it names its ``submission_id``)."""
        status, text = await self._request("POST", "/api/jobs/", json_body=request)
        if status != 200:
            raise self._refused(f"job {request.get('submission_id')}", status, text)

    async def job(self, submission_id: str) -> dict[str, Any] | None:
        """``GET /api/jobs/{id}``: the job's details, ``None`` if the cluster has no such
        job."""
        status, text = await self._request("GET", f"/api/jobs/{submission_id}")
        if status == 404:
            return None
        if status != 200:
            raise self._refused(f"a look at job {submission_id}", status, text)
        return _json_object(text)

    async def stop(self, submission_id: str) -> bool:
        """``POST /api/jobs/{id}/stop``: whether the job was still running."""
        status, text = await self._request("POST", f"/api/jobs/{submission_id}/stop")
        if status == 404:
            return False
        if status != 200:
            raise self._refused(f"stopping job {submission_id}", status, text)
        return bool(_json_object(text).get("stopped"))

    async def tail(self, submission_id: str) -> AsyncIterator[str]:
        """The job's log from its start, as the tail websocket sends it, until Ray closes
        the socket (the job ended and its log was read to the end, or the dashboard
        lost its way to the job's node)."""
        url = f"{self.address}/api/jobs/{submission_id}/logs/tail"
        try:
            async with self._http().ws_connect(
                url, heartbeat=_HEARTBEAT_SECONDS, max_msg_size=0
            ) as socket:
                async for message in socket:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        yield str(message.data)
                    elif message.type == aiohttp.WSMsgType.ERROR:
                        raise self._unreachable(socket.exception() or ConnectionError())
                if socket.close_code not in (None, aiohttp.WSCloseCode.OK):
                    # The dashboard's handler failed (it lost its way to the node).
                    raise self._refused(
                        f"the log of job {submission_id}", 500, f"closed {socket.close_code}"
                    )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 404:
                return
            raise self._refused(f"the log of job {submission_id}", exc.status, exc.message) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._unreachable(exc) from exc

    async def aclose(self) -> None:
        """Close the HTTP session. Idempotent."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await finish(session.close())

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if getattr(self, "_session", None) is not None:
            _warn(f"unclosed Ray dashboard client of {self.address}", ResourceWarning, stacklevel=2)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ContainerError(
            f"The Ray dashboard answered what is not JSON: {text[:200]!r}"
        ) from exc
    if not isinstance(value, dict):
        raise ContainerError(f"The Ray dashboard answered {type(value).__name__}, not an object")
    return value


def default_address() -> str:
    """``RAY_ADDRESS`` when it is the dashboard's HTTP address, else Ray's default."""
    address = os.environ.get("RAY_ADDRESS", "").strip()
    return address or "http://127.0.0.1:8265"
