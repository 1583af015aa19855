"""RayRuntime: jobs on a Ray cluster, submitted through its dashboard's job API.

Each job is one Ray job whose ``working_dir`` package carries the keeper, its
configuration and the job's tree (``_package.py``); the keeper runs the same bootstrap
as the other runtimes in a private workspace on the node (``_keeper.py``), and the job's
output and outputs come back through the job's log (``_frames.py``), or through an
object store the user names (``_storage.py``). Ray is not needed on this side.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..._shield import finish
from ...errors import ConfigurationError, ContainerError, RuntimeUnavailableError
from .._base import CHECKPOINTS_FOLDER, MODEL_FOLDER, JobRuntime, JobSpec
from .._staging import job_tree
from ._client import DashboardError, DashboardUnreachableError, RayDashboard, default_address
from ._execution import LeaseRenewer, RayExecution, Timeouts
from ._keeper import KEEPER_FILE, KEY_VARIABLE, SUBMISSION_VARIABLE, TREE_FILE
from ._package import MAX_PACKAGE_BYTES, Package, build_package, fits, seal, too_big
from ._storage import ObjectStore

__all__ = ["LOG_OUTPUT_LIMIT", "RayRuntime"]

#: Outputs up to this size come back framed in the job's log; larger ones need storage.
LOG_OUTPUT_LIMIT = 100 * 1024 * 1024
_SUBMIT_ATTEMPTS = 5
_SUBMIT_RETRY_SECONDS = 1.0


class RayRuntime(JobRuntime):
    """Runs each job as a Ray job on the cluster whose dashboard is at ``address``.

    Args:
        address: The dashboard's HTTP address (``http://head:8265``); default:
            ``RAY_ADDRESS``, else ``http://127.0.0.1:8265`` (Ray's own convention).
        python: The interpreter on the cluster's nodes that runs the job (its bootstrap
            needs only the standard library; a ``requirements.txt`` in the code is
            installed into a cached environment of the job's own, layered on it).
        num_cpus: CPUs a job takes (Ray's ``entrypoint_num_cpus``); with ``None`` and
            no ``resources`` Ray runs every job on its head node.
        resources: Custom resources a job takes (``entrypoint_resources``).
        storage: ``s3://bucket/prefix``: where jobs larger than a Ray package (code and
            input over 100 MiB) put their tree, and where outputs over 100 MiB come
            back through. The creator's AWS configuration is used; jobs only get
            presigned URLs.
        start_timeout: Seconds a job may stay ``PENDING`` (waiting for resources or
            its runtime environment) before it is stopped and recorded FAILED.
        unreachable_timeout: Seconds the dashboard may not answer before the job is
            recorded FAILED.
        lease_seconds: Seconds a job runs on without word from its creator's side (its
            supervisor renews a lease through the dashboard) before the job ends itself
            on its node; ``None``: no lease.
        poll_interval: Seconds between looks at a job that has not started yet.
        environment_cache: Where, on each node, the environments built for
            ``requirements.txt`` are kept (``~`` is the node's home).
        max_concurrent_jobs: How many jobs may run at once; ``None`` for no limit.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        python: str = "python3",
        num_cpus: float | None = None,
        resources: Mapping[str, float] | None = None,
        storage: str | None = None,
        start_timeout: float = 600.0,
        unreachable_timeout: float = 60.0,
        lease_seconds: float | None = 60.0,
        poll_interval: float = 1.0,
        environment_cache: str = "~/.cache/braket-async/job-environments",
        max_concurrent_jobs: int | None = None,
    ) -> None:
        super().__init__(max_concurrent_jobs=max_concurrent_jobs)
        self.address = _check_address(address if address is not None else default_address())
        if not python or any(character.isspace() for character in python):
            raise ConfigurationError(f"python must name one interpreter, got {python!r}")
        self.python = python
        self.num_cpus = num_cpus
        self.resources = dict(resources or {})
        self.store = ObjectStore(storage) if storage is not None else None
        self.storage = storage
        for name, value in (
            ("start_timeout", start_timeout),
            ("unreachable_timeout", unreachable_timeout),
            ("poll_interval", poll_interval),
            ("lease_seconds", lease_seconds if lease_seconds is not None else 1.0),
        ):
            if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
                raise ConfigurationError(f"{name} must be a number of seconds above 0")
        self.start_timeout = float(start_timeout)
        self.unreachable_timeout = float(unreachable_timeout)
        self.lease_seconds = float(lease_seconds) if lease_seconds is not None else None
        self.poll_interval = float(poll_interval)
        self.environment_cache = environment_cache
        self._dashboard = RayDashboard(self.address)
        self._executions: set[RayExecution] = set()

    def _timeouts(self) -> Timeouts:
        return Timeouts(
            poll=self.poll_interval, start=self.start_timeout, unreachable=self.unreachable_timeout
        )

    async def prepare(self, spec: JobSpec) -> None:
        """Check that the dashboard answers and that the job fits (or storage is set).

        Raises:
            RuntimeUnavailableError: The dashboard does not answer.
            ConfigurationError: The job's code and input are too big for a Ray package
                and no ``storage`` was given.
        """
        try:
            await self._dashboard.version()
        except (DashboardUnreachableError, DashboardError) as exc:
            raise RuntimeUnavailableError(
                f"{exc}: start the cluster (ray start --head) or pass RayRuntime(address="
                "'http://<head>:8265'), the dashboard's address"
            ) from exc
        if self.store is None and not await asyncio.to_thread(fits, spec):
            raise ConfigurationError(
                too_big(spec, await asyncio.to_thread(_size, spec), MAX_PACKAGE_BYTES)
            )

    async def start(self, spec: JobSpec) -> RayExecution:
        """Upload the job's package (and, if too big for one, its tree to storage),
        submit it exactly once and return its execution."""
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="braket-async-ray-"))
        package: Package | None = None
        lease: LeaseRenewer | None = None
        stored: dict[str, str] = {}
        try:
            nonce = secrets.token_hex(16)
            sealed, key = seal(spec.environment)
            inline = self.store is None or await asyncio.to_thread(fits, spec)
            config: dict[str, Any] = {
                "nonce": nonce,
                "sealed": sealed,
                "environment_cache": self.environment_cache,
                "log_output_limit": LOG_OUTPUT_LIMIT,
            }
            if self.store is not None:
                config.update(await self._storage_config(spec, nonce, folder, inline, stored))
            if self.lease_seconds is not None:
                lease = LeaseRenewer(
                    self._dashboard, f"_ray_pkg_lease_{nonce}_", self.lease_seconds / 4
                )
                config["lease"] = lease.config(self.lease_seconds, self.address)
                await lease.renew()
            package = await asyncio.to_thread(build_package, spec, config, with_tree=inline)
            submission_id = f"braket-async-{spec.job_name}-{package.name[9:21]}"
            if not await self._dashboard.package_exists(package.name):
                await self._dashboard.upload_package(package.name, package.path)
            await self._submit(spec, submission_id, package, key)
        except BaseException as exc:
            if lease is not None:
                await finish(lease.aclose())
            if self.store is not None and stored:
                with contextlib.suppress(Exception):
                    await finish(self.store.delete(list(stored.values())))
            await finish(asyncio.to_thread(shutil.rmtree, folder, True))
            if isinstance(exc, (DashboardUnreachableError, DashboardError)):
                raise ContainerError(f"Could not start job {spec.job_name} on Ray: {exc}") from exc
            raise
        finally:
            if package is not None:
                await finish(asyncio.to_thread(package.remove))
        if lease is not None:
            lease.start()
        execution = RayExecution(
            spec=spec,
            dashboard=self._dashboard,
            submission_id=submission_id,
            nonce=nonce,
            folder=folder,
            timeouts=self._timeouts(),
            store=self.store,
            stored_keys=stored,
            lease=lease,
            on_close=self._executions.discard,
        )
        self._executions.add(execution)
        return execution

    async def _storage_config(
        self, spec: JobSpec, nonce: str, folder: Path, inline: bool, stored: dict[str, str]
    ) -> dict[str, Any]:
        """Presigned URLs for the outputs (and the tree, uploaded now, unless inline)."""
        assert self.store is not None
        base = f"{spec.job_name}-{nonce}"
        config: dict[str, Any] = {"output_urls": {}}
        for name in (MODEL_FOLDER, CHECKPOINTS_FOLDER):
            stored[name] = self.store.key(base, f"{name}.tar")
            config["output_urls"][name] = await self.store.presign("PUT", stored[name])
        if not inline:
            tree = folder / TREE_FILE
            await asyncio.to_thread(_write_tree, spec, tree)
            stored["tree"] = self.store.key(base, TREE_FILE)
            try:
                await self.store.upload(tree, stored["tree"])
            finally:
                await asyncio.to_thread(tree.unlink)
            seconds = int(self.start_timeout) + 3600
            config["tree_url"] = await self.store.presign("GET", stored["tree"], seconds)
        return config

    async def _submit(self, spec: JobSpec, submission_id: str, package: Package, key: str) -> None:
        """Submit once: every attempt names the same submission id, and an attempt whose
        outcome is unknown is settled by looking the job up."""
        request: dict[str, Any] = {
            # No exec: the shell stays Ray's process-group leader, so that the keeper
            # can leave the group (see _keeper.py).
            "entrypoint": f"{self.python} {KEEPER_FILE}; exit $?",
            "submission_id": submission_id,
            "runtime_env": {
                "working_dir": package.uri,
                "env_vars": {KEY_VARIABLE: key, SUBMISSION_VARIABLE: submission_id},
            },
            "metadata": {
                "braket_async_job": spec.job_name,
                "braket_async_host": socket.gethostname(),
                "braket_async_package": package.name,
            },
        }
        if self.num_cpus is not None:
            request["entrypoint_num_cpus"] = self.num_cpus
        if self.resources:
            request["entrypoint_resources"] = self.resources
        last: Exception | None = None
        for attempt in range(_SUBMIT_ATTEMPTS):
            try:
                await self._dashboard.submit(request)
                return
            except DashboardError as exc:
                if exc.status < 500:
                    raise
                last = exc
            except DashboardUnreachableError as exc:
                last = exc
            # The outcome is open: a job of this id may exist now.
            with contextlib.suppress(DashboardUnreachableError, DashboardError):
                info = await self._dashboard.job(submission_id)
                if info is not None:
                    if (info.get("metadata") or {}).get("braket_async_package") == package.name:
                        return  # ours: an earlier attempt made it
                    raise ContainerError(
                        f"Ray job {submission_id} exists already and is not this job's"
                    )
            await asyncio.sleep(_SUBMIT_RETRY_SECONDS * (attempt + 1))
        assert last is not None
        raise last

    def supervisor_config(self) -> dict[str, Any] | None:
        """How a job's supervisor rebuilds this runtime (``None`` for a subclass)."""
        if type(self) is not RayRuntime:
            return None
        return {
            "factory": "braket_async.runtimes.ray:RayRuntime",
            "kwargs": {
                "address": self.address,
                "python": self.python,
                "num_cpus": self.num_cpus,
                "resources": self.resources,
                "storage": self.storage,
                "start_timeout": self.start_timeout,
                "unreachable_timeout": self.unreachable_timeout,
                "lease_seconds": self.lease_seconds,
                "poll_interval": self.poll_interval,
                "environment_cache": self.environment_cache,
            },
        }

    async def aclose(self) -> None:
        """Close the executions still open (stopping their jobs) and the clients."""
        await finish(self._close())

    async def _close(self) -> None:
        try:
            for execution in list(self._executions):
                await execution.aclose()
        finally:
            self._executions.clear()
            await self._dashboard.aclose()
            if self.store is not None:
                await self.store.aclose()

    def __repr__(self) -> str:
        return f"RayRuntime({self.address!r})"


def _check_address(address: str) -> str:
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"The Ray address must be the dashboard's HTTP address (http://<head>:8265), got "
            f"{address!r}"
            + (" (from RAY_ADDRESS)" if address == os.environ.get("RAY_ADDRESS") else "")
        )
    return address.rstrip("/")


def _size(spec: JobSpec) -> int:
    from ._package import tree_size

    return tree_size(job_tree(spec))


def _write_tree(spec: JobSpec, path: Path) -> None:
    with open(path, "xb") as file:
        job_tree(spec).write_tar(file)
