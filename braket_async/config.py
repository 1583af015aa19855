"""Configuration objects for creating jobs (attrs classes, snake_case fields).

The service's camelCase names (``localPath``, ``s3Uri``) appear only where requests
are serialized. Where a remote job takes a config object, the official SDK's dataclasses
(``braket.jobs.config``, camelCase fields) are accepted too.
"""

from __future__ import annotations

import attrs

from ._braket import DEFAULT_CHECKPOINT_PATH, DEFAULT_MAX_RUNTIME_SECONDS

__all__ = [
    "CheckpointConfig",
    "InstanceConfig",
    "OutputDataConfig",
    "S3DataSourceConfig",
    "StoppingCondition",
]


@attrs.frozen(kw_only=True)
class CheckpointConfig:
    """Where a job keeps its checkpoints.

    Attributes:
        local_path: The folder inside the job where checkpoints are written; the job
            sees it as ``AMZN_BRAKET_CHECKPOINT_DIR``.
        s3_uri: Where remote jobs sync the folder to; not used by local jobs.
    """

    local_path: str = DEFAULT_CHECKPOINT_PATH
    s3_uri: str | None = None


@attrs.frozen(kw_only=True)
class InstanceConfig:
    """The instances that run a remote job's classical code.

    Attributes:
        instance_type: The instance type, e.g. ``"ml.m5.large"``.
        instance_count: How many instances run the job (one log stream each).
        volume_size_in_gb: The storage volume of each instance, in GB.
    """

    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    volume_size_in_gb: int = 30


@attrs.frozen(kw_only=True)
class OutputDataConfig:
    """Where a remote job's outputs (``output/model.tar.gz``) go.

    Attributes:
        s3_path: An S3 prefix; default ``s3://<default bucket>/jobs/<job>/<timestamp>/data``.
        kms_key_id: The KMS key that encrypts the outputs, if any.
    """

    s3_path: str | None = None
    kms_key_id: str | None = None


@attrs.frozen(kw_only=True)
class StoppingCondition:
    """When the service stops a remote job.

    Attributes:
        max_runtime_in_seconds: The job fails once it has run this long (at most five
            days).
    """

    max_runtime_in_seconds: int = DEFAULT_MAX_RUNTIME_SECONDS


@attrs.frozen
class S3DataSourceConfig:
    """An input channel whose data is in S3 already.

    Attributes:
        s3_data: An S3 URI: a key prefix, or one object.
        content_type: The data's MIME type, if you want to record it.
    """

    s3_data: str
    content_type: str | None = None
