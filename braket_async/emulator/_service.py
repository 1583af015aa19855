"""The Braket service's behaviour: jobs, quantum tasks, devices and tags, independent
of HTTP.

:class:`BraketService` answers each operation from its validated input (wire names) with
its output document, raising :class:`~braket_async.emulator.ApiError` for the service's
error answers. It owns one task per unfinished job, which calls the
:class:`~braket_async.emulator.JobRunner` and records the outcome; the quantum task
operations are :class:`~braket_async.emulator.QuantumTasks`'.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any

from .._shield import finish
from .._states import JobState
from ._devices import DEVICES, Device
from ._errors import ApiError, conflict, must_not_be_null, not_found, validation_error
from ._jobs import JobRecord
from ._quantum_tasks import QuantumTasks
from ._runner import JobControl, JobRunner
from ._search import job_filter, newest_first, page
from ._simulator_pool import SimulatorPool
from ._task_results import TaskResults
from ._tasks import QuantumTaskRecord

__all__ = ["BraketService"]

_LOGGER = logging.getLogger(__name__)
_JOB_ARN = re.compile(r"^arn:aws[a-z\-]*:braket:[a-z0-9\-]+:[0-9]{12}:job/.+$")
_DEVICE_ARN = re.compile(r"^arn:aws[a-z\-]*:braket:[a-z0-9\-]*:[0-9]{0,12}:device/.+$")
_TERMINAL = frozenset(state for state in JobState if state.is_terminal)
_QUEUE_POSITION_CAP = 15  # positions beyond this read ">15", as the service answers


class BraketService:
    """The emulated service; one per emulator.

    Args:
        runner: What runs the jobs.
        region: The region in job ARNs.
        account_id: The 12-digit account in job ARNs.
        service_url: The emulator's URL, given to runners for jobs that call Braket.
        devices: The devices GetDevice and SearchDevices know.
        task_results: Where quantum task results are written (S3); ``None``: quantum
            tasks are refused, saying so.
        simulators: The worker processes that run quantum tasks, which the caller
            closes (default: a pool of the service's own).
    """

    def __init__(
        self,
        runner: JobRunner,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        service_url: str = "",
        devices: Iterable[Device] = DEVICES,
        concurrent_jobs_quota: int | None = None,
        task_results: TaskResults | None = None,
        simulators: SimulatorPool | None = None,
    ) -> None:
        self.runner = runner
        self.concurrent_jobs_quota = concurrent_jobs_quota
        self.region = region
        self.account_id = account_id
        self.service_url = service_url
        self.devices = {device.arn: device for device in devices}
        self._jobs: dict[str, JobRecord] = {}
        self._tokens: dict[str, str] = {}
        self._job_tokens: dict[str, str] = {}
        self.quantum_tasks = QuantumTasks(
            region=region,
            account_id=account_id,
            devices=self.devices,
            simulators=simulators if simulators is not None else SimulatorPool(),
            owns_simulators=simulators is None,
            results=task_results,
            job_for_token=self._job_of_token,
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._changed = asyncio.Event()
        self._closed = False
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "CreateJob": self.create_job,
            "GetJob": self.get_job,
            "CancelJob": self.cancel_job,
            "SearchJobs": self.search_jobs,
            "CreateQuantumTask": self.quantum_tasks.create,
            "GetQuantumTask": self.quantum_tasks.get,
            "CancelQuantumTask": self.quantum_tasks.cancel,
            "SearchQuantumTasks": self.quantum_tasks.search,
            "GetDevice": self.get_device,
            "SearchDevices": self.search_devices,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    # -- in-process API --------------------------------------------------------------

    @property
    def jobs(self) -> list[JobRecord]:
        """Every job, oldest first."""
        return list(self._jobs.values())

    def job(self, arn: str) -> JobRecord:
        """The record of the job ``arn``; ``KeyError`` when unknown."""
        return self._jobs[arn]

    async def wait_for_job(
        self, arn: str, states: Collection[JobState | str] = _TERMINAL
    ) -> JobRecord:
        """Wait until the job ``arn`` is in one of ``states`` (default: terminal)."""
        wanted = {JobState(state) for state in states}
        return await self.wait_until(arn, lambda record: record.status in wanted)

    async def wait_until(self, arn: str, predicate: Callable[[JobRecord], bool]) -> JobRecord:
        """Wait until ``predicate(record)`` holds for the job ``arn``; checked on changes."""
        while True:
            record = self._jobs[arn]
            if predicate(record):
                return record
            changed = self._changed
            await changed.wait()

    async def wait_for_jobs(
        self, count: int = 1, states: Collection[JobState | str] | None = None
    ) -> list[JobRecord]:
        """Wait until at least ``count`` jobs exist (in one of ``states``, if given) and
        return those jobs, oldest first: for tests that have no ARN yet, such as one whose
        client creates jobs in a task of its own. Woken by every change, never polling.
        """
        wanted = None if states is None else {JobState(state) for state in states}
        while True:
            jobs = [job for job in self._jobs.values() if wanted is None or job.status in wanted]
            if len(jobs) >= count:
                return jobs
            changed = self._changed
            await changed.wait()

    async def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer one operation."""
        return await self._handlers[operation](params)

    async def aclose(self) -> None:
        """Cancel every unfinished job, wait for their tasks, close the runner."""
        if self._closed:
            return
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await finish(self._close(tasks))

    async def _close(self, tasks: list[asyncio.Task[None]]) -> None:
        try:
            await self.quantum_tasks.aclose()
        finally:
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.runner.aclose()

    # -- jobs ----------------------------------------------------------------------

    def _notify(self, record: JobRecord | None = None) -> None:
        if (
            record is not None
            and record.status is JobState.RUNNING
            and record.max_runtime is not None
            and record.arn not in self._timers
        ):
            self._timers[record.arn] = asyncio.get_running_loop().call_later(
                record.max_runtime, self._expire, record.arn
            )
        # Wake every waiter once: they re-check and wait on the next event.
        self._changed.set()
        self._changed = asyncio.Event()

    def _expire(self, arn: str) -> None:
        record = self._jobs[arn]
        task = self._tasks.get(arn)
        if task is not None and not record.status.is_terminal:
            record.runtime_exceeded = True
            task.cancel()

    async def create_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateJob: idempotent on ``clientToken``."""
        if self._closed:
            raise ApiError("InternalServiceException", "The service is shutting down")
        token = params["clientToken"]
        request = {k: v for k, v in params.items() if k not in ("clientToken", "tags")}
        if token in self._tokens:
            existing = self._jobs[self._tokens[token]]
            if existing.request != request or existing.tags != params.get("tags", {}):
                raise conflict(f"clientToken {token!r} was already used with different parameters")
            return {"jobArn": existing.arn}
        self._validate_job(request)
        quota = self.concurrent_jobs_quota
        if quota is not None:
            active = sum(1 for job in self._jobs.values() if not job.status.is_terminal)
            if active >= quota:
                raise ApiError(
                    "ServiceQuotaExceededException",
                    f"The account already has {active} hybrid jobs that have not ended; "
                    f"its concurrent hybrid jobs quota is {quota}",
                )
        arn = f"arn:aws:braket:{self.region}:{self.account_id}:job/{uuid.uuid4()}"
        record = JobRecord(
            arn=arn, request=request, client_token=token, tags=dict(params.get("tags", {}))
        )
        record.add_event("QUEUED_FOR_EXECUTION")
        self._jobs[arn] = record
        self._tokens[token] = arn
        self._job_tokens[record.job_token] = arn
        self._tasks[arn] = asyncio.create_task(self._drive(record), name=f"emulated job {arn}")
        self._notify()
        return {"jobArn": arn}

    def _validate_job(self, request: dict[str, Any]) -> None:
        """What the model's constraints (checked in ``_wire``) leave to the service.

        The device is not checked: the model allows any 1 to 256 characters, Braket
        accepts device ARNs and ``local:<provider>/<simulator>`` for jobs on embedded
        simulators, and its rule for other strings is not known, so nothing is refused.
        """
        if "scriptModeConfig" not in request["algorithmSpecification"]:
            # The runner needs an entry point; worded as the model's checks are.
            raise validation_error(must_not_be_null("algorithmSpecification.scriptModeConfig"))
        names = [channel["channelName"] for channel in request.get("inputDataConfig", ())]
        for index, name in enumerate(names):
            if name in (".", ".."):
                # The pattern allows them, but a channel is a folder of the job.
                raise validation_error(
                    f"Value '{name}' at 'inputDataConfig.{index + 1}.member.channelName' "
                    "failed to satisfy constraint: Member must not be '.' or '..'"
                )
        if len(set(names)) != len(names):
            raise validation_error("inputDataConfig: channel names must be unique")

    async def _drive(self, record: JobRecord) -> None:
        control = JobControl(
            record, region=self.region, service_url=self.service_url, on_change=self._notify
        )
        try:
            failure_reason = await self.runner.run(control)
        except asyncio.CancelledError:
            if record.runtime_exceeded:
                limit = record.max_runtime
                record.add_event("MAX_RUNTIME_EXCEEDED")
                record.end(
                    JobState.FAILED,
                    f"MaxRuntimeExceeded: the job ran longer than maxRuntimeInSeconds ({limit})",
                )
            else:
                record.end(JobState.CANCELLED)
            # The task is the service's own and nobody awaits its result: ending it
            # normally keeps shutdown quiet.
        except Exception as exc:
            _LOGGER.exception("job runner failed for %s", record.arn)
            record.end(JobState.FAILED, f"InternalServiceError: {type(exc).__name__}: {exc}")
        else:
            if failure_reason is None:
                record.end(JobState.COMPLETED)
            else:
                record.end(JobState.FAILED, failure_reason)
        finally:
            timer = self._timers.pop(record.arn, None)
            if timer is not None:
                timer.cancel()
            self._tasks.pop(record.arn, None)
            self._notify()

    def _job_of_token(self, token: str) -> JobRecord | None:
        arn = self._job_tokens.get(token)
        return self._jobs[arn] if arn is not None else None

    def _record(self, arn: str) -> JobRecord:
        if not _JOB_ARN.fullmatch(arn):
            raise validation_error(f"Invalid job ARN {arn!r}")
        try:
            return self._jobs[arn]
        except KeyError:
            raise not_found(f"Job {arn} not found") from None

    async def get_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetJob, with ``queueInfo`` when ``QueueInfo`` is asked for."""
        record = self._record(params["jobArn"])
        document = record.describe()
        if "QueueInfo" in params.get("additionalAttributeNames", ()):
            document["queueInfo"] = self._queue_info(record)
        return document

    def _queue_info(self, record: JobRecord) -> dict[str, Any]:
        if record.status is not JobState.QUEUED:
            return {
                "queue": "JOBS_QUEUE",
                "position": "None",
                "message": (
                    f"Job is in {record.status.value} status. AmazonBraket does not show "
                    "queue position for this status."
                ),
            }
        queued = [job for job in self._jobs.values() if job.status is JobState.QUEUED]
        position = queued.index(record) + 1
        shown = str(position) if position <= _QUEUE_POSITION_CAP else f">{_QUEUE_POSITION_CAP}"
        return {"queue": "JOBS_QUEUE", "position": shown}

    async def cancel_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """CancelJob: CANCELLING now, CANCELLED once the job has stopped."""
        record = self._record(params["jobArn"])
        if record.status.is_terminal:
            raise conflict(f"Job {record.arn} is already {record.status.value}")
        if record.status is not JobState.CANCELLING:
            record.status = JobState.CANCELLING
            task = self._tasks.get(record.arn)
            if task is not None:
                task.cancel()
            self._notify()
        return {"jobArn": record.arn, "cancellationStatus": "CANCELLING"}

    async def search_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        """SearchJobs: filters AND-ed, newest first, keyset pagination."""
        return newest_first(
            self._jobs.values(), params, filter_of=job_filter, item=JobRecord.summary, field="jobs"
        )

    # -- devices ---------------------------------------------------------------------

    async def get_device(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetDevice."""
        arn = params["deviceArn"]
        if arn not in self.devices:
            if not _DEVICE_ARN.fullmatch(arn):
                raise validation_error(f"Invalid device ARN {arn!r}")
            raise not_found(f"Device {arn} not found")
        document = self.devices[arn].describe()
        queued = self.quantum_tasks.queued(arn)
        for queue in document["deviceQueueInfo"]:
            if queue["queue"] == "QUANTUM_TASKS_QUEUE":
                queue["queueSize"] = str(queued[queue["queuePriority"]])
        return document

    async def search_devices(self, params: dict[str, Any]) -> dict[str, Any]:
        """SearchDevices: filters on the summary's fields, each matching any value."""
        fields = {"deviceArn", "deviceName", "providerName", "deviceType", "deviceStatus"}
        devices = list(self.devices.values())
        for spec in params["filters"]:
            if spec["name"] not in fields:
                raise validation_error(
                    f"Invalid filter name {spec['name']!r}; use one of {sorted(fields)}"
                )
            devices = [
                device for device in devices if device.summary()[spec["name"]] in spec["values"]
            ]
        devices.sort(key=lambda device: device.arn)
        return page(
            devices,
            params,
            key=lambda device: [device.arn],
            item=Device.summary,
            field="devices",
            descending=False,
        )

    # -- tags --------------------------------------------------------------------------

    def _tagged(self, arn: str) -> JobRecord | QuantumTaskRecord:
        if not arn.startswith("arn:aws"):
            raise validation_error(f"Invalid resource ARN {arn!r}")
        record = self._jobs.get(arn) or self.quantum_tasks.find(arn)
        if record is None:
            raise not_found(f"Resource {arn} not found")
        return record

    async def tag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        """TagResource: add or overwrite tags."""
        self._tagged(params["resourceArn"]).tags.update(params["tags"])
        return {}

    async def untag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        """UntagResource: remove tags by key; unknown keys are ignored."""
        tags = self._tagged(params["resourceArn"]).tags
        for key in params["tagKeys"]:
            tags.pop(key, None)
        return {}

    async def list_tags_for_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListTagsForResource."""
        return {"tags": dict(self._tagged(params["resourceArn"]).tags)}
