"""What a new account needs before its first job: the jobs role and the default bucket.

Braket's SDKs look both up (the official one and ours alike): the role as
``AmazonBraketJobsExecutionRole*`` under ``/service-role/`` in IAM, the bucket as
``amazon-braket-<region>-<account>``. :func:`prepare_account` makes them in the emulated
account when missing, so a first ``create()`` needs no setup.
"""

from __future__ import annotations

from typing import Any

import aiobotocore.session  # type: ignore[import-untyped]
import attrs
import botocore.exceptions  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from ._endpoint import AwsEndpoint

__all__ = ["AccountSetup", "default_bucket_name", "prepare_account"]

JOBS_ROLE = "AmazonBraketJobsExecutionRole"
_QUICK = Config(retries={"total_max_attempts": 2, "mode": "standard"}, connect_timeout=10)
_TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": '
    '{"Service": "braket.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
)


@attrs.frozen
class AccountSetup:
    """What :func:`prepare_account` found or made.

    Attributes:
        account_id: The emulated account (STS ``GetCallerIdentity``).
        role_arn: Braket's default jobs role.
        bucket: Braket's default bucket.
    """

    account_id: str
    role_arn: str
    bucket: str


def default_bucket_name(region: str, account_id: str) -> str:
    """The bucket Braket's SDKs use when a job names none."""
    return f"amazon-braket-{region}-{account_id}"


async def prepare_account(aws: AwsEndpoint) -> AccountSetup:
    """Make the jobs role and the default bucket in ``aws`` when missing."""
    session = aiobotocore.session.get_session()
    # A local server that refuses once will refuse again: fail fast, not after backoffs.
    kwargs: dict[str, Any] = {**aws.client_kwargs(), "config": _QUICK}
    async with session.create_client("sts", **kwargs) as sts:
        account_id = str((await sts.get_caller_identity())["Account"])
    async with session.create_client("iam", **kwargs) as iam:
        role_arn = await _ensure_jobs_role(iam)
    bucket = default_bucket_name(aws.region, account_id)
    async with session.create_client("s3", **kwargs) as s3:
        await _ensure_bucket(s3, bucket, aws.region)
    return AccountSetup(account_id=account_id, role_arn=role_arn, bucket=bucket)


async def _ensure_jobs_role(iam: Any) -> str:
    listed = await iam.list_roles(PathPrefix="/service-role/")
    for role in listed.get("Roles", ()):
        if str(role["RoleName"]).startswith(JOBS_ROLE):
            return str(role["Arn"])
    created = await iam.create_role(
        RoleName=JOBS_ROLE, Path="/service-role/", AssumeRolePolicyDocument=_TRUST
    )
    return str(created["Role"]["Arn"])


async def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    params: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # S3 refuses a location constraint of us-east-1
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        await s3.create_bucket(**params)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise
