"""The quantum task operations: CreateQuantumTask, GetQuantumTask, SearchQuantumTasks,
CancelQuantumTask, and the queue that runs each task's program.

:class:`QuantumTasks` checks a request the way the service does before it accepts one
(device online, action the device runs, shots in its range, a job token of a running
job, an output bucket that exists), records the task ``QUEUED`` and runs it when a
simulator worker is free — tasks of hybrid jobs first, as on Braket — then writes the
result to ``<outputS3Bucket>/<outputS3KeyPrefix>/<task id>/results.json``. A program
the simulator refuses, or one with more qubits than the device has, makes the task
``FAILED`` with a ``failureReason``. Cancelling a queued task ends it at once; a running
one is ``CANCELLING`` until its worker has been stopped.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import importlib.util
import json
import logging
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any

from .._shield import finish
from .._states import QuantumTaskState
from ._capabilities import OPENQASM_PROGRAM
from ._devices import Device
from ._errors import ApiError, conflict, internal_error, not_found, validation_error
from ._jobs import JobRecord, iso_millis
from ._search import newest_first, task_filter
from ._simulator_pool import SimulationRequest, SimulatorPool
from ._task_results import TaskResults
from ._tasks import QuantumTaskRecord

__all__ = ["QuantumTasks"]

_LOGGER = logging.getLogger(__name__)
_TASK_ARN = re.compile(r"^arn:aws[a-z\-]*:braket:[a-z0-9\-]+:[0-9]{12}:quantum-task/.+$")
_TERMINAL = frozenset(state for state in QuantumTaskState if state.is_terminal)
# What a task's record keeps of its request: the rest is the task's identity.
_NOT_KEPT = ("clientToken", "tags", "jobToken")


class QuantumTasks:
    """The emulated service's quantum tasks; one per service.

    Args:
        region: The region in task ARNs of devices that have none.
        account_id: The account in task ARNs.
        devices: The devices tasks may run on, by ARN.
        simulators: The worker processes that run programs; at most ``workers`` of its
            run at once.
        owns_simulators: Whether closing closes ``simulators`` too.
        results: Where results are written; ``None``: tasks are refused, saying so.
        job_for_token: The job a ``jobToken`` belongs to, or ``None``.
    """

    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        devices: Mapping[str, Device],
        simulators: SimulatorPool,
        owns_simulators: bool = True,
        results: TaskResults | None,
        job_for_token: Callable[[str], JobRecord | None],
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.devices = devices
        self.simulators = simulators
        self._owns_simulators = owns_simulators
        self.results = results
        self._job_for_token = job_for_token
        self._records: dict[str, QuantumTaskRecord] = {}
        self._tokens: dict[str, str] = {}
        self._queues: dict[str, collections.deque[QuantumTaskRecord]] = {
            "Priority": collections.deque(),
            "Normal": collections.deque(),
        }
        self._running: dict[str, asyncio.Task[None]] = {}
        self._paused = False
        self._changed = asyncio.Event()
        self._closed = False
        self._simulator_installed: bool | None = None

    # -- in-process API --------------------------------------------------------------

    @property
    def records(self) -> list[QuantumTaskRecord]:
        """Every quantum task, oldest first."""
        return list(self._records.values())

    def record(self, arn: str) -> QuantumTaskRecord:
        """The record of the task ``arn``; ``KeyError`` when unknown."""
        return self._records[arn]

    def find(self, arn: str) -> QuantumTaskRecord | None:
        """The record of the task ``arn``, or ``None``."""
        return self._records.get(arn)

    def states(self) -> dict[str, int]:
        """How many tasks are in each state."""
        return dict(collections.Counter(task.status.value for task in self._records.values()))

    def queued(self, device_arn: str) -> dict[str, int]:
        """How many tasks wait for ``device_arn``, by queue priority."""
        return {
            priority: sum(1 for task in queue if task.device_arn == device_arn)
            for priority, queue in self._queues.items()
        }

    def pause(self) -> None:
        """Start no more tasks: new and queued ones stay ``QUEUED`` (running ones go on)."""
        self._paused = True

    def resume(self) -> None:
        """Start queued tasks again."""
        self._paused = False
        self._dispatch()

    async def wait_for_task(
        self, arn: str, states: Collection[QuantumTaskState | str] = _TERMINAL
    ) -> QuantumTaskRecord:
        """Wait until the task ``arn`` is in one of ``states`` (default: terminal)."""
        wanted = {QuantumTaskState(state) for state in states}
        while True:
            record = self._records[arn]
            if record.status in wanted:
                return record
            changed = self._changed
            await changed.wait()

    async def wait_for_tasks(
        self, count: int = 1, states: Collection[QuantumTaskState | str] | None = None
    ) -> list[QuantumTaskRecord]:
        """Wait until at least ``count`` tasks exist (in one of ``states``, if given);
        return those tasks, oldest first. Woken by every change, never polling."""
        wanted = None if states is None else {QuantumTaskState(state) for state in states}
        while True:
            tasks = [t for t in self._records.values() if wanted is None or t.status in wanted]
            if len(tasks) >= count:
                return tasks
            changed = self._changed
            await changed.wait()

    async def aclose(self) -> None:
        """Stop running tasks (their workers killed), close the workers and S3."""
        if self._closed:
            return
        self._closed = True
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await finish(self._close(tasks))

    async def _close(self, tasks: list[asyncio.Task[None]]) -> None:
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._owns_simulators:
                await self.simulators.aclose()
        finally:
            if self.results is not None:
                await self.results.aclose()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- operations --------------------------------------------------------------------

    async def create(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateQuantumTask: idempotent on ``clientToken``."""
        if self._closed:
            raise internal_error("The service is shutting down")
        token = params["clientToken"]
        request = {k: v for k, v in params.items() if k not in _NOT_KEPT}
        existing = self._existing(token, request, params)
        if existing is not None:
            return existing
        device = self._device(request)
        action_type = self._check_request(device, request)
        job = self._job(params.get("jobToken"))
        results = self._results()
        await results.check_bucket(request["outputS3Bucket"])
        existing = self._existing(token, request, params)  # created while we checked
        if existing is not None:
            return existing
        region = device.arn.split(":")[3] or self.region
        arn = f"arn:aws:braket:{region}:{self.account_id}:quantum-task/{uuid.uuid4()}"
        record = QuantumTaskRecord(
            arn=arn,
            request=request,
            client_token=token,
            tags=dict(params.get("tags", {})),
            job_arn=job.arn if job is not None else None,
            action_type=action_type,
        )
        self._records[arn] = record
        self._tokens[token] = arn
        record.status = QuantumTaskState.QUEUED
        self._queues[record.priority].append(record)
        self._notify()
        self._dispatch()
        return {"quantumTaskArn": arn}

    def _existing(
        self, token: str, request: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any] | None:
        if token not in self._tokens:
            return None
        record = self._records[self._tokens[token]]
        if record.request != request or record.tags != params.get("tags", {}):
            # The operation has no ConflictException: the service answers a validation error.
            raise validation_error(
                f"clientToken {token!r} was already used with different parameters"
            )
        return {"quantumTaskArn": record.arn}

    def _device(self, request: dict[str, Any]) -> Device:
        arn = request["deviceArn"]
        device = self.devices.get(arn)
        if device is None:
            raise validation_error(f"Device {arn} does not exist or cannot run quantum tasks")
        if device.status == "RETIRED":
            raise ApiError("DeviceRetiredException", f"Device {arn} is retired")
        if device.status != "ONLINE":
            raise ApiError("DeviceOfflineException", f"Device {arn} is offline")
        return device

    def _check_request(self, device: Device, request: dict[str, Any]) -> str:
        """The action's type, once the request is one the device takes."""
        action = _json_object(request["action"], "action")
        header = action.get("braketSchemaHeader")
        action_type = header.get("name") if isinstance(header, dict) else None
        if not isinstance(action_type, str) or action_type != OPENQASM_PROGRAM:
            raise validation_error(
                f"Action type {action_type!r} is not supported by {device.arn}; "
                f"it runs {OPENQASM_PROGRAM}"
            )
        if not isinstance(action.get("source"), str):
            raise validation_error("The OpenQASM program has no source")
        if "deviceParameters" in request:
            _json_object(request["deviceParameters"], "deviceParameters")
        low, high = device.shots_range
        shots = request["shots"]
        if not low <= shots <= high:
            raise validation_error(
                f"Shot count should be between {low} and {high} on {device.arn}, but found {shots}."
            )
        return action_type

    def _job(self, token: str | None) -> JobRecord | None:
        if token is None:
            return None
        job = self._job_for_token(token)
        if job is None:
            raise validation_error("Invalid jobToken: it belongs to no hybrid job")
        if job.status.is_terminal:
            raise validation_error(
                f"Invalid jobToken: the hybrid job {job.arn} is {job.status.value}"
            )
        return job

    def _results(self) -> TaskResults:
        if self.results is None:
            raise internal_error(
                "This emulator has no S3 to write quantum task results to "
                "(BraketEmulator(aws=...) names one)"
            )
        if self._simulator_installed is None:
            self._simulator_installed = all(
                importlib.util.find_spec(module) is not None
                for module in ("braket.default_simulator", "braket.tasks")
            )
        if not self._simulator_installed:
            raise internal_error(
                "The emulator runs quantum tasks with amazon-braket-default-simulator and "
                "amazon-braket-sdk, which are not installed: pip install "
                "'braket-async[emulator]'"
            )
        return self.results

    def _record(self, arn: str) -> QuantumTaskRecord:
        if not _TASK_ARN.fullmatch(arn):
            raise validation_error(f"Invalid quantum task ARN {arn!r}")
        record = self._records.get(arn)
        if record is None:
            raise not_found(f"Quantum task {arn} not found")
        return record

    async def get(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetQuantumTask, with ``queueInfo`` when ``QueueInfo`` is asked for."""
        record = self._record(params["quantumTaskArn"])
        document = record.describe()
        if "QueueInfo" in params.get("additionalAttributeNames", ()):
            document["queueInfo"] = record.queue_info(self._position(record))
        return document

    def _position(self, record: QuantumTaskRecord) -> int | None:
        position = 0
        for queued in self._queues[record.priority]:
            if queued.device_arn == record.device_arn:
                position += 1
                if queued is record:
                    return position
        return None

    async def search(self, params: dict[str, Any]) -> dict[str, Any]:
        """SearchQuantumTasks: filters AND-ed, newest first, keyset pagination."""
        return newest_first(
            self._records.values(),
            params,
            filter_of=task_filter,
            item=QuantumTaskRecord.summary,
            field="quantumTasks",
        )

    async def cancel(self, params: dict[str, Any]) -> dict[str, Any]:
        """CancelQuantumTask: a queued task ends at once, a running one once its worker
        is stopped; ``CANCELLING`` is answered either way."""
        record = self._record(params["quantumTaskArn"])
        if record.status.is_terminal:
            raise conflict(f"Quantum task {record.arn} is already {record.status.value}")
        if record.status is not QuantumTaskState.CANCELLING:
            running = self._running.get(record.arn)
            record.status = QuantumTaskState.CANCELLING
            if running is not None:
                running.cancel()
            else:
                self._queues[record.priority].remove(record)
                # The answer says CANCELLING, as the service's does; the end follows.
                asyncio.get_running_loop().call_soon(self._cancelled, record)
            self._notify()
        return {"quantumTaskArn": record.arn, "cancellationStatus": "CANCELLING"}

    def _cancelled(self, record: QuantumTaskRecord) -> None:
        record.end(QuantumTaskState.CANCELLED)
        self._notify()

    # -- running -----------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start queued tasks while workers are free."""
        while not self._paused and not self._closed:
            if len(self._running) >= self.simulators.workers:
                return
            queue = self._queues["Priority"] or self._queues["Normal"]
            if not queue:
                return
            record = queue.popleft()
            record.status = QuantumTaskState.RUNNING
            name = f"emulated quantum task {record.arn}"
            task = asyncio.create_task(self._run(record), name=name)
            # A callback, not a finally: a task cancelled before it ran never enters _run.
            task.add_done_callback(functools.partial(self._finished, record))
            self._running[record.arn] = task
            self._notify()

    def _finished(self, record: QuantumTaskRecord, _: asyncio.Task[None]) -> None:
        self._running.pop(record.arn, None)
        record.end(QuantumTaskState.CANCELLED)  # unless it ended already
        self._notify()
        self._dispatch()

    async def _run(self, record: QuantumTaskRecord) -> None:
        device = self.devices[record.device_arn]
        request = SimulationRequest(
            task_arn=record.arn,
            device_arn=device.arn,
            simulator=device.simulator,
            device_qubits=device.qubits,
            action=record.request["action"],
            shots=record.shots,
            created_at=iso_millis(record.created_at),
            simulator_metadata=device.type == "SIMULATOR",
        )
        try:
            outcome = await self.simulators.run(request)
            if outcome.result is None:
                record.end(QuantumTaskState.FAILED, outcome.failure_reason)
            else:
                await self._write(record, outcome.result)
        except asyncio.CancelledError:
            # CancelQuantumTask, or the emulator closing; the task is the service's own
            # and nobody awaits its result, so it ends normally.
            record.end(QuantumTaskState.CANCELLED)
        except Exception as exc:
            _LOGGER.exception("quantum task %s failed", record.arn)
            record.end(QuantumTaskState.FAILED, f"InternalServiceError: {type(exc).__name__}")

    async def _write(self, record: QuantumTaskRecord, document: str) -> None:
        assert self.results is not None  # checked when the task was created
        try:
            await self.results.write(record, document)
        except Exception as exc:
            record.end(
                QuantumTaskState.FAILED,
                f"Could not write the result to s3://{record.output_bucket}/"
                f"{record.output_directory}: {exc}",
            )
        else:
            record.end(QuantumTaskState.COMPLETED)


def _json_object(text: str, member: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise validation_error(f"{member} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise validation_error(f"{member} must be a JSON object")
    return value
