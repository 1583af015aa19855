"""One emulated quantum task's record: its request, its state, where its result goes."""

from __future__ import annotations

import datetime
from typing import Any

import attrs

from .._states import QuantumTaskState
from ._jobs import utc_now

__all__ = ["QUEUE_POSITION_CAP", "QuantumTaskRecord"]

#: Queue positions beyond this read ``">2000"``, as the service answers.
QUEUE_POSITION_CAP = 2000


@attrs.define(eq=False, kw_only=True)
class QuantumTaskRecord:
    """The service's record of one quantum task.

    Attributes:
        arn: ``arn:aws:braket:<region>:<account>:quantum-task/<uuid>``.
        request: The validated CreateQuantumTask input (wire names), without
            ``clientToken``, ``tags`` and ``jobToken``.
        client_token: The idempotency token it was created with.
        tags: The task's tags, changed by TagResource and UntagResource.
        job_arn: The hybrid job whose token created it, or ``None``.
        action_type: The ``braketSchemaHeader.name`` of its program.
    """

    arn: str
    request: dict[str, Any]
    client_token: str
    tags: dict[str, str]
    job_arn: str | None
    action_type: str
    created_at: datetime.datetime = attrs.field(factory=utc_now)
    status: QuantumTaskState = QuantumTaskState.CREATED
    ended_at: datetime.datetime | None = None
    failure_reason: str | None = None

    @property
    def uuid(self) -> str:
        """The UUID at the end of the ARN."""
        return self.arn.rsplit("/", 1)[1]

    @property
    def device_arn(self) -> str:
        """The device it runs on."""
        return str(self.request["deviceArn"])

    @property
    def shots(self) -> int:
        """The shots it asked for."""
        return int(self.request["shots"])

    @property
    def output_bucket(self) -> str:
        """The bucket of its result."""
        return str(self.request["outputS3Bucket"])

    @property
    def output_directory(self) -> str:
        """The folder of its ``results.json``: the key prefix, then the task's UUID."""
        return f"{self.request['outputS3KeyPrefix'].rstrip('/')}/{self.uuid}"

    @property
    def priority(self) -> str:
        """``Priority`` for the tasks of hybrid jobs (they run first), else ``Normal``."""
        return "Priority" if self.job_arn else "Normal"

    def end(self, state: QuantumTaskState, failure_reason: str | None = None) -> None:
        """Record the final state; later calls change nothing."""
        if self.status.is_terminal:
            return
        self.status = state
        self.ended_at = utc_now()
        if failure_reason:
            self.failure_reason = failure_reason[:1024]

    def describe(self) -> dict[str, Any]:
        """The ``GetQuantumTaskResponse`` shape (without ``queueInfo``)."""
        document: dict[str, Any] = {
            "quantumTaskArn": self.arn,
            "status": self.status.value,
            "deviceArn": self.device_arn,
            "deviceParameters": self.request.get("deviceParameters", "{}"),
            "shots": self.shots,
            "outputS3Bucket": self.output_bucket,
            "outputS3Directory": self.output_directory,
            "createdAt": self.created_at,
            "tags": dict(self.tags),
            "actionMetadata": {"actionType": self.action_type},
        }
        if self.ended_at:
            document["endedAt"] = self.ended_at
        if self.failure_reason:
            document["failureReason"] = self.failure_reason
        if self.job_arn:
            document["jobArn"] = self.job_arn
        if self.request.get("associations"):
            document["associations"] = list(self.request["associations"])
        if self.status is QuantumTaskState.COMPLETED:
            document["numSuccessfulShots"] = self.shots
        return document

    def queue_info(self, position: int | None) -> dict[str, Any]:
        """The ``QuantumTaskQueueInfo`` shape: the 1-based ``position`` among the device's
        queued tasks of the same priority, for a QUEUED task."""
        info: dict[str, Any] = {"queue": "QUANTUM_TASKS_QUEUE", "queuePriority": self.priority}
        if self.status is QuantumTaskState.QUEUED and position is not None:
            shown = str(position) if position <= QUEUE_POSITION_CAP else f">{QUEUE_POSITION_CAP}"
            info["position"] = shown
        else:
            info["position"] = "None"
            info["message"] = (
                f"Task is in {self.status.value} status. AmazonBraket does not show queue "
                "position for this status."
            )
        return info

    def summary(self) -> dict[str, Any]:
        """The ``QuantumTaskSummary`` shape SearchQuantumTasks answers with."""
        document: dict[str, Any] = {
            "quantumTaskArn": self.arn,
            "status": self.status.value,
            "deviceArn": self.device_arn,
            "shots": self.shots,
            "outputS3Bucket": self.output_bucket,
            "outputS3Directory": self.output_directory,
            "createdAt": self.created_at,
            "tags": dict(self.tags),
        }
        if self.ended_at:
            document["endedAt"] = self.ended_at
        return document
