"""From ``AwsQuantumJob.create(...)`` arguments to a checked plan, before any AWS call.

Two steps, so that a mistake is reported before anything is uploaded:

1. :func:`plan_job` checks every argument without calling AWS and gives a
   :class:`JobPlan` (``ConfigurationError`` on the first problem).
2. :func:`build_request` fills the defaults that need AWS (bucket, role), uploads the
   source archive and local input data, copies checkpoints, and gives the CreateJob
   input with its ``clientToken``: the session retries the call with the same token,
   so a retried CreateJob never makes a second job.

The second step is in :mod:`._request`.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .._braket import DEFAULT_CHECKPOINT_PATH, DEFAULT_MAX_RUNTIME_SECONDS
from .._names import (
    default_job_name,
    validate_channel_name,
    validate_client_token,
    validate_job_name,
)
from .._source import _ENTRY_POINT, resolve_source
from ..config import (
    CheckpointConfig,
    InstanceConfig,
    OutputDataConfig,
    S3DataSourceConfig,
    StoppingCondition,
)
from ..errors import ConfigurationError
from ._s3 import parse_s3_uri
from ._submit import CLIENT_TOKEN_TAG

__all__ = ["Channel", "JobPlan", "job_arn_region", "plan_job", "validate_client_token"]

_JOB_ARN = re.compile(r"^arn:aws[a-z\-]*:braket:([a-z0-9\-]+):(\d{12}):job/([^/\s]+)$")


_DEVICE_ARN = re.compile(r"^arn:aws[a-z\-]*:braket:([a-z0-9\-]*):\d{0,12}:device/\S+$")


_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")


_RESERVATION_ARN = re.compile(r"^arn:aws[a-z\-]*:braket:[a-z0-9\-]*:[0-9]{12}:.*$")
# The CreateJob model's pattern for containerImage.uri: images come from ECR.


_IMAGE_URI = re.compile(r"^\d{10,14}\.dkr\.ecr.[a-z0-9-]+\.amazonaws\.com/.+(@sha256)?:.+$")
_MAX_CHANNELS = 20


_MAX_HYPERPARAMETERS = 100


def job_arn_region(arn: str) -> str:
    """The region of a job ARN, ``arn:aws:braket:<region>:<account>:job/<id>``.

    Raises:
        ConfigurationError: ``arn`` is not a Braket job ARN.
    """
    match = _JOB_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise ConfigurationError(
            f"Invalid job ARN {arn!r}: expected arn:aws:braket:<region>:<account>:job/<id>"
        )
    return match.group(1)


@attrs.frozen(kw_only=True)
class Channel:
    """One input channel: local data to upload, or data in S3 already."""

    name: str
    local_path: Path | None = None
    s3_uri: str | None = None
    content_type: str | None = None


@attrs.frozen(kw_only=True)
class JobPlan:
    """Every ``create()`` argument, checked, with its defaults that need no AWS call."""

    device: str
    device_region: str | None
    job_name: str
    entry_point: str
    source_path: Path | None
    source_s3_uri: str | None
    image_uri: str | None
    code_location: str | None
    role_arn: str | None
    hyperparameters: dict[str, str]
    channels: tuple[Channel, ...]
    instance_config: InstanceConfig
    stopping_condition: StoppingCondition
    output_data_config: OutputDataConfig
    checkpoint_config: CheckpointConfig
    copy_checkpoints_from_job: str | None
    tags: dict[str, str]
    reservation_arn: str | None
    timestamp: str = attrs.field(factory=lambda: str(int(time.time() * 1000)))
    client_token: str = attrs.field(factory=lambda: str(uuid.uuid4()))


def plan_job(
    *,
    device: str,
    source_module: str | os.PathLike[str],
    entry_point: str | None,
    image_uri: str | None,
    job_name: str | None,
    code_location: str | None,
    role_arn: str | None,
    hyperparameters: Mapping[str, Any] | None,
    input_data: object,
    instance_config: object | None,
    distribution: str | None,
    stopping_condition: object | None,
    output_data_config: object | None,
    copy_checkpoints_from_job: str | None,
    checkpoint_config: object | None,
    tags: Mapping[str, str] | None,
    reservation_arn: str | None,
) -> JobPlan:
    """Check every argument of ``create()``; no AWS call, nothing uploaded.

    Raises:
        ConfigurationError: The first argument found wrong, with what to do about it.
    """
    device_region = _device_region(device)
    if image_uri is not None and (
        not isinstance(image_uri, str) or not _IMAGE_URI.fullmatch(image_uri)
    ):
        raise ConfigurationError(
            f"Invalid image_uri {image_uri!r}: Braket runs images from ECR, "
            "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>"
        )
    name = (
        validate_job_name(job_name)
        if job_name is not None
        else default_job_name(_default_name_prefix(image_uri))
    )
    source_path: Path | None = None
    source_s3_uri: str | None = None
    text = os.fspath(source_module) if isinstance(source_module, (str, os.PathLike)) else None
    if text is None:
        raise ConfigurationError("source_module must be a path or an S3 URI")
    if text.startswith(("s3://", "https://")):
        parse_s3_uri(text, "source_module")
        if not text.lower().endswith(".tar.gz"):
            raise ConfigurationError(
                f"source_module {text!r} is an S3 URI, so it must name a .tar.gz archive"
            )
        if entry_point is None:
            raise ConfigurationError("source_module is an S3 URI: entry_point is required")
        if not isinstance(entry_point, str) or not _ENTRY_POINT.fullmatch(entry_point):
            raise ConfigurationError(
                f"Invalid entry point {entry_point!r}: use 'package.module' or "
                "'package.module:function'"
            )
        if code_location is not None:
            raise ConfigurationError(
                "code_location is not used when source_module is an S3 archive (the job "
                "runs that archive as it is); leave it out"
            )
        source_s3_uri = text
    else:
        source = resolve_source(text, entry_point)
        source_path, entry_point = source.path, source.entry_point
    if code_location is not None:
        parse_s3_uri(code_location, "code_location")
    if role_arn is not None and (
        not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn)
    ):
        raise ConfigurationError(
            f"Invalid role_arn {role_arn!r}: expected arn:aws:iam::<account>:role/<name>"
        )
    instance = _instance_config(instance_config)
    parameters = _hyperparameters(hyperparameters, distribution, instance)
    if copy_checkpoints_from_job is not None:
        job_arn_region(copy_checkpoints_from_job)
    if reservation_arn is not None and (
        not isinstance(reservation_arn, str) or not _RESERVATION_ARN.fullmatch(reservation_arn)
    ):
        raise ConfigurationError(
            f"Invalid reservation_arn {reservation_arn!r}: expected a Braket reservation ARN"
        )
    return JobPlan(
        device=device,
        device_region=device_region,
        job_name=name,
        entry_point=entry_point,
        source_path=source_path,
        source_s3_uri=source_s3_uri,
        image_uri=image_uri,
        code_location=code_location,
        role_arn=role_arn,
        hyperparameters=parameters,
        channels=_channels(input_data),
        instance_config=instance,
        stopping_condition=_stopping_condition(stopping_condition),
        output_data_config=_output_data_config(output_data_config),
        checkpoint_config=_checkpoint_config(checkpoint_config),
        copy_checkpoints_from_job=copy_checkpoints_from_job,
        tags=_tags(tags),
        reservation_arn=reservation_arn,
    )


def _device_region(device: str) -> str | None:
    if not isinstance(device, str) or not device or len(device) > 256:
        raise ConfigurationError("device must be a device ARN or 'local:<provider>/<name>'")
    if device.startswith("local:"):
        return None
    match = _DEVICE_ARN.fullmatch(device)
    if match is None:
        raise ConfigurationError(
            f"Invalid device {device!r}: use a device ARN "
            "(arn:aws:braket:<region>::device/...) or 'local:<provider>/<name>'"
        )
    return match.group(1) or None


def _default_name_prefix(image_uri: str | None) -> str:
    # As the official SDK: braket-job-default, or braket-job-<container> for an image.
    if image_uri is None:
        return "braket-job-default"
    found = re.search(r"/amazon-braket-(.*)-jobs:", image_uri) or re.search(
        r"/amazon-braket-([^:/]*)", image_uri
    )
    return f"braket-job-{found.group(1)}" if found else "braket-job"


def _hyperparameters(
    hyperparameters: Mapping[str, Any] | None, distribution: str | None, instance: InstanceConfig
) -> dict[str, str]:
    if hyperparameters is not None and not isinstance(hyperparameters, Mapping):
        raise ConfigurationError("hyperparameters must be a dict")
    result = {str(key): str(value) for key, value in (hyperparameters or {}).items()}
    if distribution == "data_parallel":
        result["sagemaker_distributed_dataparallel_enabled"] = "true"
        result["sagemaker_instance_type"] = instance.instance_type
    elif distribution is not None:
        raise ConfigurationError(
            f"Unknown distribution {distribution!r}: use 'data_parallel' or leave it out"
        )
    if len(result) > _MAX_HYPERPARAMETERS:
        raise ConfigurationError(f"At most {_MAX_HYPERPARAMETERS} hyperparameters are allowed")
    for key, value in result.items():
        if not 1 <= len(key) <= 256:
            raise ConfigurationError(f"Hyperparameter name {key!r} must have 1 to 256 characters")
        if not 1 <= len(value) <= 2500:
            raise ConfigurationError(
                f"Hyperparameter {key!r}: its value, as a string, must have 1 to 2500 "
                f"characters (got {len(value)})"
            )
    return result


def _field(value: object, ours: type, snake: str, camel: str, parameter: str) -> Any:
    """A config field of ours (snake_case) or of the official SDK's dataclass (camelCase)."""
    if isinstance(value, ours):
        return getattr(value, snake)
    if hasattr(value, camel):
        return getattr(value, camel)
    raise ConfigurationError(
        f"{parameter} must be a braket_async.config.{ours.__name__} (or the official SDK's)"
    )


def _positive_int(value: object, what: str, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{what} must be a positive integer, not {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{what} must be at most {maximum}, not {value}")
    return value


def _instance_config(value: object | None) -> InstanceConfig:
    if value is None:
        return InstanceConfig()
    instance_type = _field(
        value, InstanceConfig, "instance_type", "instanceType", "instance_config"
    )
    if not isinstance(instance_type, str) or not instance_type:
        raise ConfigurationError(f"Invalid instance type {instance_type!r}")
    return InstanceConfig(
        instance_type=instance_type,
        instance_count=_positive_int(
            _field(value, InstanceConfig, "instance_count", "instanceCount", "instance_config"),
            "instance_count",
        ),
        volume_size_in_gb=_positive_int(
            _field(value, InstanceConfig, "volume_size_in_gb", "volumeSizeInGb", "instance_config"),
            "volume_size_in_gb",
        ),
    )


def _stopping_condition(value: object | None) -> StoppingCondition:
    if value is None:
        return StoppingCondition()
    seconds = _field(
        value,
        StoppingCondition,
        "max_runtime_in_seconds",
        "maxRuntimeInSeconds",
        "stopping_condition",
    )
    return StoppingCondition(
        max_runtime_in_seconds=_positive_int(
            seconds, "max_runtime_in_seconds", DEFAULT_MAX_RUNTIME_SECONDS
        )
    )


def _output_data_config(value: object | None) -> OutputDataConfig:
    if value is None:
        return OutputDataConfig()
    s3_path = _field(value, OutputDataConfig, "s3_path", "s3Path", "output_data_config")
    kms_key_id = _field(value, OutputDataConfig, "kms_key_id", "kmsKeyId", "output_data_config")
    if s3_path is not None:
        parse_s3_uri(s3_path, "output_data_config.s3_path")
    if kms_key_id is not None and (not isinstance(kms_key_id, str) or not kms_key_id):
        raise ConfigurationError(f"Invalid kms_key_id {kms_key_id!r}")
    return OutputDataConfig(s3_path=s3_path or None, kms_key_id=kms_key_id)


def _checkpoint_config(value: object | None) -> CheckpointConfig:
    if value is None:
        return CheckpointConfig()
    local_path = _field(value, CheckpointConfig, "local_path", "localPath", "checkpoint_config")
    s3_uri = _field(value, CheckpointConfig, "s3_uri", "s3Uri", "checkpoint_config")
    if local_path is None:
        local_path = DEFAULT_CHECKPOINT_PATH
    if not isinstance(local_path, str) or not local_path.startswith("/"):
        raise ConfigurationError(
            f"Invalid checkpoint local_path {local_path!r}: use an absolute path in the job"
        )
    if s3_uri is not None:
        parse_s3_uri(s3_uri, "checkpoint_config.s3_uri")
    return CheckpointConfig(local_path=local_path, s3_uri=s3_uri or None)


def _tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, Mapping) or not all(
        isinstance(key, str) and key and isinstance(value, str) for key, value in tags.items()
    ):
        raise ConfigurationError("tags must be a dict of non-empty strings to strings")
    if CLIENT_TOKEN_TAG in tags:
        raise ConfigurationError(
            f"The tag {CLIENT_TOKEN_TAG!r} is braket_async's own (it carries the job's "
            "clientToken): choose another key"
        )
    return dict(tags)


def _channels(input_data: object) -> tuple[Channel, ...]:
    if input_data is None:
        return ()
    if not isinstance(input_data, Mapping):
        input_data = {"input": input_data}
    if len(input_data) > _MAX_CHANNELS:
        raise ConfigurationError(f"At most {_MAX_CHANNELS} input channels are allowed")
    return tuple(_channel(name, location) for name, location in input_data.items())


def _channel(name: object, location: object) -> Channel:
    if not isinstance(name, str):
        raise ConfigurationError(f"Input channel names must be strings, not {name!r}")
    validate_channel_name(name)
    if isinstance(location, S3DataSourceConfig):
        parse_s3_uri(location.s3_data, f"input channel {name!r}")
        return Channel(name=name, s3_uri=location.s3_data, content_type=location.content_type)
    official = getattr(location, "config", None)
    if isinstance(official, Mapping):  # the official SDK's S3DataSourceConfig
        try:
            uri = official["dataSource"]["s3DataSource"]["s3Uri"]
        except (KeyError, TypeError):
            raise ConfigurationError(f"Input channel {name!r}: no s3Uri in its config") from None
        parse_s3_uri(uri, f"input channel {name!r}")
        return Channel(name=name, s3_uri=uri, content_type=official.get("contentType"))
    if not isinstance(location, (str, os.PathLike)):
        raise ConfigurationError(
            f"Input channel {name!r}: use a local path, an S3 URI or an S3DataSourceConfig"
        )
    text = os.fspath(location)
    if not isinstance(text, str):
        raise ConfigurationError(f"Input channel {name!r}: use a text path")
    if text.startswith(("s3://", "https://")):
        parse_s3_uri(text, f"input channel {name!r}")
        return Channel(name=name, s3_uri=text)
    path = Path(text).expanduser().resolve()
    if not path.exists():
        raise ConfigurationError(f"Input channel {name!r}: {text!r} does not exist")
    return Channel(name=name, local_path=path)
