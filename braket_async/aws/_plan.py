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

from .._config_objects import (
    Channel,
    read_checkpoint_config,
    read_input_data,
    read_instance_config,
    read_output_data_config,
    read_stopping_condition,
)
from .._names import (
    default_job_name,
    validate_client_token,
    validate_entry_point,
    validate_job_name,
)
from .._rules import (
    check_device,
    check_hyperparameter_texts,
    check_hyperparameters,
    check_role_arn,
    check_tags,
)
from .._source import resolve_source
from ..config import (
    CheckpointConfig,
    InstanceConfig,
    OutputDataConfig,
    StoppingCondition,
)
from ..errors import ConfigurationError
from ._s3 import parse_s3_uri
from ._submit import CLIENT_TOKEN_TAG

__all__ = ["Channel", "JobPlan", "job_arn_region", "plan_job", "validate_client_token"]

_JOB_ARN = re.compile(r"^arn:aws[a-z\-]*:braket:([a-z0-9\-]+):(\d{12}):job/([^/\s]+)$")


_RESERVATION_ARN = re.compile(r"^arn:aws[a-z\-]*:braket:[a-z0-9\-]*:[0-9]{12}:.*$")
# The CreateJob model's pattern for containerImage.uri: images come from ECR.


_IMAGE_URI = re.compile(r"^\d{10,14}\.dkr\.ecr.[a-z0-9-]+\.amazonaws\.com/.+(@sha256)?:.+$")


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
    device_region = check_device(device)
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
        raise ConfigurationError(f"source_module must be a path, not {source_module!r}")
    if text.startswith(("s3://", "https://")):
        parse_s3_uri(text, "source_module")
        if not text.lower().endswith(".tar.gz"):
            raise ConfigurationError(
                f"source_module {text!r} is an S3 URI, so it must name a .tar.gz archive"
            )
        if entry_point is None:
            raise ConfigurationError("source_module is an S3 URI: entry_point is required")
        validate_entry_point(entry_point)
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
    if role_arn is not None:
        check_role_arn(role_arn)
    instance = read_instance_config(instance_config)
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
        channels=read_input_data(input_data),
        instance_config=instance,
        stopping_condition=read_stopping_condition(stopping_condition),
        output_data_config=read_output_data_config(output_data_config),
        checkpoint_config=read_checkpoint_config(checkpoint_config),
        copy_checkpoints_from_job=copy_checkpoints_from_job,
        tags=check_tags(tags, reserved=(CLIENT_TOKEN_TAG,)),
        reservation_arn=reservation_arn,
    )


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
    result = check_hyperparameters(hyperparameters)
    if distribution == "data_parallel":
        result["sagemaker_distributed_dataparallel_enabled"] = "true"
        result["sagemaker_instance_type"] = instance.instance_type
        check_hyperparameter_texts(result)
    elif distribution is not None:
        raise ConfigurationError(
            f"Unknown distribution {distribution!r}: use 'data_parallel' or leave it out"
        )
    return result
