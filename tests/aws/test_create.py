"""AwsQuantumJob.create against the emulator and moto: the request the service receives."""

from __future__ import annotations

import inspect
import logging
import re
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from support.aws import ROLE, SV1, session_for
from support.jobs import (
    BASE_IMAGE,
    bucket_exists,
    calls,
    list_keys,
    put_object,
    read_object,
    split_s3,
    tar_gz,
    tar_members,
    unique_name,
    write_module,
)

from braket_async.aws import (
    AwsQuantumJob,
    AwsSession,
    CheckpointConfig,
    InstanceConfig,
    OutputDataConfig,
    RetryPolicy,
    S3DataSourceConfig,
    StoppingCondition,
)
from braket_async.aws._submit import CLIENT_TOKEN_TAG
from braket_async.emulator import Faults
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import ConfigurationError, JobNotFoundError

pytestmark = pytest.mark.anyio

RESERVATION = "arn:aws:braket:us-east-1:123456789012:reservation/abc-123"
OTHER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-custom-jobs:1.0"


async def test_create_with_every_parameter(
    fake_stack: EmulatorStack, fake_session: AwsSession, tmp_path: Path
) -> None:
    bucket = await fake_session.default_bucket()
    package = tmp_path / "algo"
    write_module(package, "__init__")
    write_module(package, "main", "def run(steps: int) -> None:\n    print(steps)\n")
    data_folder = tmp_path / "training"
    (data_folder / "sub").mkdir(parents=True)
    (data_folder / "a.csv").write_text("1,2\n")
    (data_folder / "sub" / "b.csv").write_text("3,4\n")
    single = tmp_path / "weights.json"
    single.write_text("{}")
    name = unique_name("every")
    await put_object(fake_session, f"s3://{bucket}/elsewhere/x.bin", b"x")

    job = await AwsQuantumJob.create(
        SV1,
        package,
        entry_point="algo.main:run",
        image_uri=OTHER_IMAGE,
        job_name=name,
        code_location=f"s3://{bucket}/code/here",
        role_arn=ROLE,
        hyperparameters={"steps": 3, "rate": 0.5, 7: None},
        input_data={
            "train": str(data_folder),
            "weights": single,
            "remote": f"s3://{bucket}/elsewhere",
            "typed": S3DataSourceConfig(f"s3://{bucket}/elsewhere/x.bin", "application/x"),
        },
        instance_config=InstanceConfig(
            instance_type="ml.m5.xlarge", instance_count=2, volume_size_in_gb=50
        ),
        distribution="data_parallel",
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
        output_data_config=OutputDataConfig(s3_path=f"s3://{bucket}/out", kms_key_id="key-1"),
        checkpoint_config=CheckpointConfig(local_path="/opt/ckpt", s3_uri=f"s3://{bucket}/ck"),
        aws_session=fake_session,
        tags={"team": "q", "run": "1"},
        reservation_arn=RESERVATION,
    )
    assert job.name == name
    assert calls(fake_stack, "CreateJob") == 1
    meta = await job.metadata()
    assert meta["jobArn"] == job.arn
    assert meta["jobName"] == name
    assert meta["roleArn"] == ROLE
    assert meta["deviceConfig"] == {"device": SV1}
    assert meta["algorithmSpecification"] == {
        "scriptModeConfig": {
            "entryPoint": "algo.main:run",
            "s3Uri": f"s3://{bucket}/code/here/source.tar.gz",
            "compressionType": "GZIP",
        },
        "containerImage": {"uri": OTHER_IMAGE},
    }
    assert meta["hyperParameters"] == {
        "steps": "3",
        "rate": "0.5",
        "7": "None",
        "sagemaker_distributed_dataparallel_enabled": "true",
        "sagemaker_instance_type": "ml.m5.xlarge",
    }
    assert meta["instanceConfig"] == {
        "instanceType": "ml.m5.xlarge",
        "instanceCount": 2,
        "volumeSizeInGb": 50,
    }
    assert meta["stoppingCondition"] == {"maxRuntimeInSeconds": 600}
    assert meta["outputDataConfig"] == {"s3Path": f"s3://{bucket}/out", "kmsKeyId": "key-1"}
    assert meta["checkpointConfig"] == {"localPath": "/opt/ckpt", "s3Uri": f"s3://{bucket}/ck"}
    token = meta["tags"].pop(CLIENT_TOKEN_TAG)
    assert meta["tags"] == {"team": "q", "run": "1"}
    assert len(token) == 36
    assert meta["associations"] == [{"arn": RESERVATION, "type": "RESERVATION_TIME_WINDOW_ARN"}]

    channels = {channel["channelName"]: channel for channel in meta["inputDataConfig"]}
    assert set(channels) == {"train", "weights", "remote", "typed"}
    assert channels["remote"]["dataSource"]["s3DataSource"]["s3Uri"] == f"s3://{bucket}/elsewhere"
    assert channels["typed"]["contentType"] == "application/x"
    train = channels["train"]["dataSource"]["s3DataSource"]["s3Uri"]
    assert re.fullmatch(rf"s3://{bucket}/jobs/{name}/\d{{13}}/data/train/training", train)
    assert await list_keys(fake_session, train) == [
        f"{split_s3(train)[1]}/a.csv",
        f"{split_s3(train)[1]}/sub/b.csv",
    ]
    weights = channels["weights"]["dataSource"]["s3DataSource"]["s3Uri"]
    assert weights.endswith("/data/weights/weights.json")
    assert await read_object(fake_session, weights) == b"{}"

    archive = tar_members(await read_object(fake_session, f"s3://{bucket}/code/here/source.tar.gz"))
    assert set(archive) >= {"algo", "algo/__init__.py", "algo/main.py"}


async def test_defaults(
    fake_stack: EmulatorStack, fake_session: AwsSession, tmp_path: Path
) -> None:
    bucket = await fake_session.default_bucket()
    module = write_module(tmp_path, "algo")
    job = await AwsQuantumJob.create(SV1, module, aws_session=fake_session)
    # The name is known without a GetJob call.
    assert re.fullmatch(r"braket-job-default-\d{13}-[0-9a-f]{6}", job.name)
    assert calls(fake_stack, "GetJob") == 0
    meta = await job.metadata()
    base = rf"s3://{bucket}/jobs/{job.name}/(\d{{13}})"
    script = meta["algorithmSpecification"]["scriptModeConfig"]
    found = re.fullmatch(rf"{base}/script/source.tar.gz", script["s3Uri"])
    assert found is not None
    stamp = found.group(1)
    assert script["entryPoint"] == "algo"
    assert meta["algorithmSpecification"]["containerImage"] == {"uri": BASE_IMAGE}
    assert meta["outputDataConfig"] == {"s3Path": f"s3://{bucket}/jobs/{job.name}/{stamp}/data"}
    assert meta["checkpointConfig"] == {
        "localPath": "/opt/jobs/checkpoints",
        "s3Uri": f"s3://{bucket}/jobs/{job.name}/{stamp}/checkpoints",
    }
    assert meta["instanceConfig"] == {
        "instanceType": "ml.m5.large",
        "instanceCount": 1,
        "volumeSizeInGb": 30,
    }
    assert meta["stoppingCondition"] == {"maxRuntimeInSeconds": 432000}
    assert meta["roleArn"] == ROLE
    assert meta["hyperParameters"] == {}
    assert meta["inputDataConfig"] == []
    assert "associations" not in meta
    assert tar_members(await read_object(fake_session, script["s3Uri"])) == {
        "algo.py": b"print('hello')\n"
    }


async def test_default_names_are_unique(fake_session: AwsSession, tmp_path: Path) -> None:
    module = write_module(tmp_path, "algo")
    jobs = [
        await AwsQuantumJob.create(SV1, module, aws_session=fake_session, image_uri=BASE_IMAGE)
        for _ in range(3)
    ]
    assert len({job.name for job in jobs}) == 3
    assert all(job.name.startswith("braket-job-base-") for job in jobs)


async def test_the_tag_limits_themselves_are_taken(
    fake_session: AwsSession, tmp_path: Path
) -> None:
    tags = {f"t{i}": "" for i in range(48)}
    tags["k" * 128] = "v" * 256  # 49 tags and braket_async's own: AWS's 50
    job = await AwsQuantumJob.create(
        SV1, write_module(tmp_path, "algo"), tags=tags, aws_session=fake_session
    )
    sent = (await job.metadata())["tags"]
    assert sent.pop(CLIENT_TOKEN_TAG)
    assert sent == tags


async def test_source_from_s3_is_used_as_is(fake_session: AwsSession) -> None:
    bucket = await fake_session.default_bucket()
    uri = f"s3://{bucket}/mine/code.tar.gz"
    await put_object(fake_session, uri, tar_gz({"algo.py": b"print(1)\n"}))
    job = await AwsQuantumJob.create(SV1, uri, entry_point="algo:main", aws_session=fake_session)
    script = (await job.metadata())["algorithmSpecification"]["scriptModeConfig"]
    assert script == {"entryPoint": "algo:main", "s3Uri": uri, "compressionType": "GZIP"}


async def test_official_config_objects_are_accepted(
    fake_session: AwsSession, tmp_path: Path
) -> None:
    from braket.jobs import config as official

    bucket = await fake_session.default_bucket()
    job = await AwsQuantumJob.create(
        SV1,
        write_module(tmp_path, "algo"),
        aws_session=fake_session,
        input_data=official.S3DataSourceConfig(f"s3://{bucket}/in", content_type="text/csv"),
        instance_config=official.InstanceConfig(instanceType="ml.c5.xlarge", instanceCount=3),
        stopping_condition=official.StoppingCondition(maxRuntimeInSeconds=60),
        output_data_config=official.OutputDataConfig(s3Path=f"s3://{bucket}/o"),
        checkpoint_config=official.CheckpointConfig(localPath="/opt/c"),
    )
    meta = await job.metadata()
    assert meta["inputDataConfig"] == [
        {
            "channelName": "input",
            "contentType": "text/csv",
            "dataSource": {"s3DataSource": {"s3Uri": f"s3://{bucket}/in"}},
        }
    ]
    assert meta["instanceConfig"] == {
        "instanceType": "ml.c5.xlarge",
        "instanceCount": 3,
        "volumeSizeInGb": 30,
    }
    assert meta["stoppingCondition"] == {"maxRuntimeInSeconds": 60}
    assert meta["outputDataConfig"] == {"s3Path": f"s3://{bucket}/o"}
    assert meta["checkpointConfig"]["localPath"] == "/opt/c"
    assert meta["checkpointConfig"]["s3Uri"].endswith("/checkpoints")


async def test_copy_checkpoints_from_job(fake_session: AwsSession, tmp_path: Path) -> None:
    bucket = await fake_session.default_bucket()
    module = write_module(tmp_path, "algo")
    first = await AwsQuantumJob.create(
        SV1,
        module,
        aws_session=fake_session,
        checkpoint_config=CheckpointConfig(s3_uri=f"s3://{bucket}/first/ck"),
    )
    await put_object(fake_session, f"s3://{bucket}/first/ck/a.json", b"A")
    await put_object(fake_session, f"s3://{bucket}/first/ck/deep/b.json", b"B")
    await put_object(fake_session, f"s3://{bucket}/first/ck-other/c.json", b"C")
    second = await AwsQuantumJob.create(
        SV1, module, aws_session=fake_session, copy_checkpoints_from_job=first.arn
    )
    target = (await second.metadata())["checkpointConfig"]["s3Uri"]
    _, prefix = split_s3(target)
    assert await list_keys(fake_session, target) == [f"{prefix}/a.json", f"{prefix}/deep/b.json"]
    assert await read_object(fake_session, f"{target}/deep/b.json") == b"B"


async def test_copy_checkpoints_from_a_missing_job(
    fake_stack: EmulatorStack, fake_session: AwsSession, tmp_path: Path
) -> None:
    missing = "arn:aws:braket:us-east-1:123456789012:job/00000000-0000-0000-0000-000000000000"
    with pytest.raises(JobNotFoundError):
        await AwsQuantumJob.create(
            SV1,
            write_module(tmp_path, "algo"),
            aws_session=fake_session,
            copy_checkpoints_from_job=missing,
        )
    bucket = await fake_session.default_bucket()
    assert await list_keys(fake_session, f"s3://{bucket}/jobs") == []  # nothing uploaded
    assert calls(fake_stack, "CreateJob") == 0


async def test_create_is_idempotent_under_dropped_connections(
    fake_stack: EmulatorStack, tmp_path: Path
) -> None:
    fake_stack.emulator.set_faults(Faults(drop_rate=0.6, operations=["CreateJob"], seed=11))
    module = write_module(tmp_path, "algo")
    retry = RetryPolicy(max_attempts=None, base_delay=0.001, max_delay=0.01)
    async with session_for(fake_stack, retry=retry, rates={}) as session:
        jobs = [await AwsQuantumJob.create(SV1, module, aws_session=session) for _ in range(6)]
    assert calls(fake_stack, "CreateJob", "dropped") > 0
    assert len(fake_stack.emulator.service.jobs) == 6
    assert {record.arn for record in fake_stack.emulator.service.jobs} == {job.arn for job in jobs}


def _bad_arguments(tmp_path: Path) -> list[tuple[dict[str, Any], str]]:
    module = write_module(tmp_path, "algo")
    return [
        ({"device": "not-a-device"}, "Invalid device"),
        ({"source_module": tmp_path / "missing.py"}, "does not exist"),
        ({"source_module": tmp_path / "data.txt"}, "not a .py module"),
        ({"entry_point": "other"}, "not found in source_module"),
        ({"entry_point": "algo:bad-name"}, "Invalid entry point"),
        ({"source_module": "s3://bucket-x/code.tar.gz"}, "entry_point is required"),
        ({"source_module": "s3://bucket-x/code.zip", "entry_point": "a"}, ".tar.gz"),
        (
            {
                "source_module": "s3://bucket-x/c.tar.gz",
                "entry_point": "a",
                "code_location": "s3://bucket-x/x",
            },
            "code_location is not used",
        ),
        ({"job_name": "bad_name"}, "Invalid job name"),
        ({"job_name": "x" * 51}, "Invalid job name"),
        ({"image_uri": "python:3.11"}, "Invalid image_uri"),
        ({"code_location": "/local/folder"}, "Invalid code_location"),
        ({"role_arn": "my-role"}, "Invalid role_arn"),
        ({"hyperparameters": {"empty": ""}}, "1 to 2500"),
        ({"hyperparameters": {str(i): i for i in range(101)}}, "At most 100"),
        ({"input_data": tmp_path / "nothing"}, "does not exist"),
        ({"input_data": {"bad/name": str(module)}}, "Invalid input channel name"),
        ({"input_data": "s3://"}, "Invalid input channel"),
        ({"input_data": 42}, "local path, an S3 URI"),
        ({"instance_config": {"instanceType": "ml.m5.large"}}, "InstanceConfig"),
        ({"instance_config": InstanceConfig(instance_count=0)}, "positive integer"),
        ({"distribution": "model_parallel"}, "Unknown distribution"),
        (
            {"stopping_condition": StoppingCondition(max_runtime_in_seconds=432001)},
            "at most 432000",
        ),
        ({"output_data_config": OutputDataConfig(s3_path="bucket/key")}, "Invalid output"),
        ({"checkpoint_config": CheckpointConfig(local_path="relative")}, "absolute path"),
        ({"checkpoint_config": CheckpointConfig(s3_uri="http://x")}, "Invalid checkpoint"),
        ({"copy_checkpoints_from_job": "job-name"}, "Invalid job ARN"),
        ({"tags": {"a": 1}}, "tags must be"),
        ({"tags": {CLIENT_TOKEN_TAG: "mine"}}, "braket_async's own"),
        ({"tags": {f"t{i}": "x" for i in range(50)}}, "At most 49 tags"),
        ({"tags": {"AWS:owner": "me"}}, "the prefix 'aws:' is reserved"),
        ({"tags": {"k" * 129: "x"}}, "must have 1 to 128 characters"),
        ({"tags": {"team": "v" * 257}}, "at most 256 characters"),
        ({"reservation_arn": "reservation"}, "Invalid reservation_arn"),
        (
            {"device": "arn:aws:braket:eu-west-2::device/qpu/oqc/Lucy"},
            "pass a session of eu-west-2",
        ),
    ]


async def test_validation_errors_come_before_any_upload(
    fake_stack: EmulatorStack, tmp_path: Path
) -> None:
    (tmp_path / "data.txt").write_text("not a module")
    bad = _bad_arguments(tmp_path)
    bucket = unique_name("bucket")
    async with session_for(fake_stack, default_bucket=bucket) as session:
        for overrides, message in bad:
            arguments: dict[str, Any] = {
                "device": SV1,
                "source_module": tmp_path / "algo.py",
                "aws_session": session,
                **overrides,
            }
            with pytest.raises(ConfigurationError, match=re.escape(message)):
                await AwsQuantumJob.create(**arguments)
        # Not even the default bucket was made, and the service saw nothing.
        assert not await bucket_exists(session, bucket)
    assert calls(fake_stack, "CreateJob") == 0
    assert calls(fake_stack, "GetJob") == 0


async def test_an_unsupported_region_needs_an_image(
    fake_stack: EmulatorStack, tmp_path: Path
) -> None:
    moto = fake_stack.aws.endpoint_url
    bucket = unique_name("bucket")
    session = AwsSession(
        region="ap-south-1",
        endpoint_urls={"braket": fake_stack.emulator.endpoint_url, "s3": moto, "sts": moto},
        default_bucket=bucket,
    )
    async with session:
        with pytest.raises(ConfigurationError, match="pass image_uri"):
            await AwsQuantumJob.create(SV1, write_module(tmp_path, "algo"), aws_session=session)
        assert not await bucket_exists(session, bucket)


@pytest.mark.parametrize(
    ("official", "ours", "method"),
    [
        ("braket.aws:AwsQuantumJob", "braket_async:AwsQuantumJob", "create"),
        ("braket.aws:AwsQuantumJob", "braket_async:AwsQuantumJob", "__init__"),
        ("braket.jobs.local:LocalQuantumJob", "braket_async:LocalQuantumJob", "create"),
        ("braket.jobs.local:LocalQuantumJob", "braket_async:LocalQuantumJob", "__init__"),
    ],
)
def test_the_official_parameters_in_the_official_order(
    official: str, ours: str, method: str
) -> None:
    # Migrating is adding await: a call written for the official SDK, positional
    # arguments included, binds to ours the same way. Ours adds keyword-only ones only.
    def parameters(path: str) -> list[inspect.Parameter]:
        module, _, name = path.partition(":")
        function = getattr(getattr(import_module(module), name), method)
        return list(inspect.signature(function).parameters.values())

    theirs = [parameter.name for parameter in parameters(official)]
    mine = parameters(ours)
    assert [parameter.name for parameter in mine[: len(theirs)]] == theirs
    assert all(
        parameter.kind is inspect.Parameter.KEYWORD_ONLY for parameter in mine[len(theirs) :]
    )


async def test_logger_and_quiet_are_taken_as_the_official_sdk_takes_them(
    fake_session: AwsSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("a-users-logger")
    with caplog.at_level(logging.INFO, logger="a-users-logger"):
        job = await AwsQuantumJob.create(
            SV1, write_module(tmp_path, "algo"), aws_session=fake_session, logger=logger, quiet=True
        )
    assert [r.getMessage() for r in caplog.records if r.name == "a-users-logger"] == [
        f"Created job {job.arn} (clientToken {(await job.metadata())['tags'][CLIENT_TOKEN_TAG]})"
    ]
    assert AwsQuantumJob(job.arn, fake_session, True) == job
    for bad in ({"logger": "log"}, {"quiet": "yes"}):
        with pytest.raises(ConfigurationError, match=next(iter(bad))):
            await AwsQuantumJob.create(
                SV1, write_module(tmp_path, "algo"), aws_session=fake_session, **bad
            )  # type: ignore[arg-type]
