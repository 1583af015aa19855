"""The CreateJob request of a planned job: the defaults that need AWS (bucket, role),
the uploads of source and local input data, copied checkpoints, and the ``clientToken``
(with its tag) that makes every attempt of one create the same request.

The source is tarred only once the create holds its CreateJob rate slot
(:func:`~._submit.hold_create_slot`): creates waiting for the rate limit hold neither
archives nor worker threads, however many there are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from .._braket import base_image_uri
from ..errors import ConfigurationError, JobNotFoundError, ServiceError
from ._errors import job_not_found
from ._plan import JobPlan
from ._s3 import (
    copy_s3_prefix,
    join_s3,
    parse_s3_uri,
    tar_gz_source,
    upload_path,
)
from ._submit import hold_create_slot, release_create_slot

if TYPE_CHECKING:
    from ._session import AwsSession

__all__ = ["build_request"]


async def build_request(session: AwsSession, plan: JobPlan) -> dict[str, Any]:
    """The CreateJob input for ``plan``, after uploading what it needs.

    Defaults that need AWS are filled first (the image for the session's region, the
    default bucket, the jobs role, the checkpoints of ``copy_checkpoints_from_job``), so
    that a missing role or job is reported before any upload. A local source is tarred
    and uploaded once the create holds its CreateJob slot, which the first CreateJob
    attempt of :func:`~._submit.submit_job` then uses.

    Raises:
        ConfigurationError: No base image in the region, no jobs role.
        JobNotFoundError: ``copy_checkpoints_from_job`` does not exist.
        ServiceError: An upload or copy failed.
    """
    try:
        return await _build_request(session, plan)
    except BaseException:
        release_create_slot(session, plan.client_token)  # the create ends here
        raise


async def _build_request(session: AwsSession, plan: JobPlan) -> dict[str, Any]:
    image_uri = plan.image_uri or base_image_uri(session.region)
    needs_bucket = (
        plan.output_data_config.s3_path is None
        or plan.checkpoint_config.s3_uri is None
        or (plan.source_path is not None and plan.code_location is None)
        or any(channel.local_path is not None for channel in plan.channels)
    )
    base = ""
    if needs_bucket:
        bucket = await session.default_bucket()
        base = f"s3://{bucket}/jobs/{plan.job_name}/{plan.timestamp}"
    role_arn = plan.role_arn or await session.jobs_role_arn()
    checkpoints_from = None
    if plan.copy_checkpoints_from_job is not None:
        checkpoints_from = await _checkpoint_uri_of(session, plan.copy_checkpoints_from_job)
    output_path = plan.output_data_config.s3_path or join_s3(base, "data")
    checkpoint_uri = plan.checkpoint_config.s3_uri or join_s3(base, "checkpoints")

    if plan.source_path is not None:
        code_location = plan.code_location or join_s3(base, "script")
        script_uri = join_s3(code_location, "source.tar.gz")
        await hold_create_slot(session, plan.client_token)
        archive = await anyio.to_thread.run_sync(tar_gz_source, plan.source_path)
        bucket_name, key = parse_s3_uri(script_uri)
        await session.call("s3", "put_object", Bucket=bucket_name, Key=key, Body=archive)
    else:
        assert plan.source_s3_uri is not None
        script_uri = plan.source_s3_uri

    channels = []
    for channel in plan.channels:
        uri = channel.s3_uri
        if channel.local_path is not None:
            uri = join_s3(base, "data", channel.name, channel.local_path.name)
            await upload_path(session, channel.local_path, uri)
        assert uri is not None
        config: dict[str, Any] = {
            "channelName": channel.name,
            "dataSource": {"s3DataSource": {"s3Uri": uri}},
        }
        if channel.content_type is not None:
            config["contentType"] = channel.content_type
        channels.append(config)

    if checkpoints_from is not None:
        await copy_s3_prefix(session, checkpoints_from, checkpoint_uri)

    output: dict[str, Any] = {"s3Path": output_path}
    if plan.output_data_config.kms_key_id is not None:
        output["kmsKeyId"] = plan.output_data_config.kms_key_id
    request: dict[str, Any] = {
        "clientToken": plan.client_token,
        "jobName": plan.job_name,
        "roleArn": role_arn,
        "algorithmSpecification": {
            "scriptModeConfig": {
                "entryPoint": plan.entry_point,
                "s3Uri": script_uri,
                "compressionType": "GZIP",
            },
            "containerImage": {"uri": image_uri},
        },
        "inputDataConfig": channels,
        "instanceConfig": {
            "instanceType": plan.instance_config.instance_type,
            "volumeSizeInGb": plan.instance_config.volume_size_in_gb,
            "instanceCount": plan.instance_config.instance_count,
        },
        "outputDataConfig": output,
        "checkpointConfig": {
            "localPath": plan.checkpoint_config.local_path,
            "s3Uri": checkpoint_uri,
        },
        "deviceConfig": {"device": plan.device},
        "hyperParameters": dict(plan.hyperparameters),
        "stoppingCondition": {
            "maxRuntimeInSeconds": plan.stopping_condition.max_runtime_in_seconds
        },
        "tags": dict(plan.tags),
    }
    if plan.reservation_arn is not None:
        request["associations"] = [
            {"arn": plan.reservation_arn, "type": "RESERVATION_TIME_WINDOW_ARN"}
        ]
    return request


async def _checkpoint_uri_of(session: AwsSession, arn: str) -> str:
    try:
        metadata = await session.call("braket", "get_job", jobArn=arn)
    except ServiceError as exc:
        if (missing := job_not_found(exc, arn)) is not None:
            raise JobNotFoundError(f"copy_checkpoints_from_job: {missing}") from exc
        raise
    uri = metadata.get("checkpointConfig", {}).get("s3Uri")
    if not uri:
        raise ConfigurationError(f"copy_checkpoints_from_job: job {arn} has no checkpoints")
    return str(uri)
