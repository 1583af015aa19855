"""One emulated job's record: its request, its state, its events."""

from __future__ import annotations

import copy
import datetime
import secrets
from typing import Any

import attrs

from .._states import JobState

__all__ = ["JobRecord", "iso_millis", "utc_now"]

# GetJob's ``events`` list holds at most 20 entries (JobEvents in the model).
_MAX_EVENTS = 20


def utc_now() -> datetime.datetime:
    """Now, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def iso_millis(moment: datetime.datetime) -> str:
    """``moment`` as the service writes times: ISO 8601 in UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(datetime.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@attrs.define(eq=False, kw_only=True)
class JobRecord:
    """The service's record of one job.

    Attributes:
        arn: ``arn:aws:braket:<region>:<account>:job/<uuid>``.
        request: The validated CreateJob input (wire names), without ``clientToken``
            and ``tags``.
        client_token: The idempotency token it was created with.
        tags: The job's tags, changed by TagResource and UntagResource.
    """

    arn: str
    request: dict[str, Any]
    client_token: str
    tags: dict[str, str]
    created_at: datetime.datetime = attrs.field(factory=utc_now)
    status: JobState = JobState.QUEUED
    events: list[dict[str, Any]] = attrs.field(factory=list)
    started_at: datetime.datetime | None = None
    ended_at: datetime.datetime | None = None
    failure_reason: str | None = None
    #: Set when the job ran past ``maxRuntimeInSeconds``; its stop is then a failure.
    runtime_exceeded: bool = False
    #: What the job gets as ``AMZN_BRAKET_JOB_TOKEN``: quantum tasks created with it
    #: (CreateQuantumTask's ``jobToken``) belong to the job.
    job_token: str = attrs.field(factory=lambda: secrets.token_urlsafe(48), repr=False)

    @property
    def name(self) -> str:
        """The job's name (not unique)."""
        return str(self.request["jobName"])

    @property
    def uuid(self) -> str:
        """The UUID at the end of the ARN."""
        return self.arn.rsplit("/", 1)[1]

    @property
    def max_runtime(self) -> int | None:
        """``stoppingCondition.maxRuntimeInSeconds``, or ``None``."""
        value = self.request.get("stoppingCondition", {}).get("maxRuntimeInSeconds")
        return int(value) if value is not None else None

    def add_event(self, event_type: str, message: str | None = None) -> None:
        """Record an event, keeping the newest 20 as the service does."""
        event: dict[str, Any] = {"eventType": event_type, "timeOfEvent": utc_now()}
        if message:
            event["message"] = message
        self.events.append(event)
        del self.events[:-_MAX_EVENTS]

    def start(self) -> None:
        """QUEUED to RUNNING."""
        if self.status is JobState.QUEUED:
            self.status = JobState.RUNNING
            self.started_at = utc_now()

    def end(self, state: JobState, failure_reason: str | None = None) -> None:
        """Record the final state; later calls change nothing."""
        if self.status.is_terminal:
            return
        self.status = state
        self.ended_at = utc_now()
        if failure_reason:
            self.failure_reason = failure_reason[:1024]  # String1024 in the model
        self.add_event(state.value, failure_reason)

    def describe(self) -> dict[str, Any]:
        """The ``GetJobResponse`` shape (without ``queueInfo``)."""
        document = copy.deepcopy(self.request)
        document.pop("associations", None)
        instance = document.setdefault("instanceConfig", {})
        instance.setdefault("instanceCount", 1)
        document.update(
            {
                "jobArn": self.arn,
                "status": self.status.value,
                "createdAt": self.created_at,
                "events": copy.deepcopy(self.events),
                "tags": dict(self.tags),
            }
        )
        if self.request.get("associations"):
            document["associations"] = copy.deepcopy(self.request["associations"])
        if self.started_at:
            document["startedAt"] = self.started_at
        if self.ended_at:
            document["endedAt"] = self.ended_at
            if self.started_at:
                elapsed = self.ended_at - self.started_at
                document["billableDuration"] = int(elapsed.total_seconds() * 1000)
        if self.failure_reason:
            document["failureReason"] = self.failure_reason
        return document

    def summary(self) -> dict[str, Any]:
        """The ``JobSummary`` shape SearchJobs answers with."""
        document: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.name,
            "status": self.status.value,
            "device": self.request["deviceConfig"]["device"],
            "createdAt": self.created_at,
            "tags": dict(self.tags),
        }
        if self.started_at:
            document["startedAt"] = self.started_at
        if self.ended_at:
            document["endedAt"] = self.ended_at
        return document
