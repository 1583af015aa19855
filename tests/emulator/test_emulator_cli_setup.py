"""What ``braket-async emulator`` sets up at start, and what its process jobs see."""

from __future__ import annotations

import textwrap
from pathlib import Path

import aiobotocore.session
import anyio
import pytest
from support.emulator_process import emulator_process

from braket_async.aws import AwsQuantumJob
from braket_async.emulator.testing import clean_aws_environment

pytestmark = pytest.mark.anyio

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


async def test_a_first_job_needs_no_setup_and_sees_none_of_the_operators_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator's shell, with a session of their own and other secrets.
    operator = clean_aws_environment()
    operator.update(
        AWS_SESSION_TOKEN="operator-session-token",
        GITHUB_TOKEN="operator-github-token",
        PYTHONPATH="/operator/python",
    )
    async with emulator_process("--port", "0", environment=operator) as emulator:
        bucket = "amazon-braket-us-east-1-123456789012"
        assert emulator.notes["default bucket"] == f"s3://{bucket}"
        assert emulator.notes["jobs role"].endswith(
            ":role/service-role/AmazonBraketJobsExecutionRole"
        )
        assert emulator.notes["jobs run"] == "as local Python processes"
        s3_options = {
            "endpoint_url": emulator.exports["AWS_ENDPOINT_URL"],
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        async with aiobotocore.session.get_session().create_client("s3", **s3_options) as s3:
            await s3.head_bucket(Bucket=bucket)  # before any job: made at start

            source = tmp_path / "algo.py"
            source.write_text(
                textwrap.dedent(
                    """
                    import os
                    from braket_async.jobs import save_job_result
                    save_job_result({name: os.environ.get(name) for name in (
                        "AWS_SESSION_TOKEN", "GITHUB_TOKEN", "PYTHONPATH", "AWS_ACCESS_KEY_ID",
                        "AWS_ENDPOINT_URL_BRAKET")})
                    """
                )
            )
            # No jobs role in the environment either: the user's program finds the one
            # the emulator made.
            monkeypatch.delenv("BRAKET_JOBS_ROLE_ARN")
            async with emulator.session() as session:
                job = await AwsQuantumJob.create(SV1, source, aws_session=session)
                with anyio.fail_after(60):
                    seen = await job.result(poll_interval_seconds=0.1)
            assert seen.pop("AWS_ACCESS_KEY_ID") == "testing"
            assert seen.pop("AWS_ENDPOINT_URL_BRAKET") == emulator.url
            assert seen.pop("PYTHONPATH") != "/operator/python"
            assert seen == {"AWS_SESSION_TOKEN": None, "GITHUB_TOKEN": None}
            listing = await s3.list_objects_v2(Bucket=bucket, Prefix=f"jobs/{job.name}/")
            keys = {item["Key"].split("/", 3)[-1] for item in listing["Contents"]}
            assert keys == {"data/output/model.tar.gz", "script/source.tar.gz"}
