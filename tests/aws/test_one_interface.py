"""Local and remote jobs through one interface: the same code drives both."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import braket.jobs.config as official
import pytest
from support.aws import SV1
from support.jobs import calls, write_module

from braket_async import (
    AwsQuantumJob,
    CheckpointConfig,
    ConfigurationError,
    JobFailedError,
    JobGroup,
    JobState,
    LocalQuantumJob,
    LogEvent,
    QuantumJob,
)
from braket_async.aws import AwsSession, S3DataSourceConfig
from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

FAST = 0.05
SWEEP_JOB = """
from braket_async.jobs import get_hyperparameters, log_metric, save_job_result
x = int(get_hyperparameters()["x"])
print(f"point {x}", flush=True)
log_metric("energy", -x, iteration_number=0)
if x == 3:
    raise SystemExit("x=3 is a bad point")
save_job_result({"square": x * x})
"""

PUBLIC = [
    name
    for name, member in vars(QuantumJob).items()
    if not name.startswith("_") and (callable(member) or isinstance(member, property))
]


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_both_handles_have_the_interfaces_signatures(name: str) -> None:
    expected = getattr(QuantumJob, name)
    for handle in (LocalQuantumJob, AwsQuantumJob):
        assert issubclass(handle, QuantumJob)
        actual = getattr(handle, name)
        if isinstance(expected, property):
            assert isinstance(actual, property), (handle, name)
            continue
        assert inspect.signature(actual) == inspect.signature(expected), (handle, name)


async def sweep(jobs: list[QuantumJob], folder: Path) -> list[tuple[object, ...]]:
    """What a sweep does with its jobs, written once for any handle."""
    rows: list[tuple[object, ...]] = []

    async def collect(job: QuantumJob) -> None:
        state = await job.wait(poll_interval_seconds=FAST)
        events = [event async for event in job.logs()]
        assert all(isinstance(event, LogEvent) for event in events)
        messages = [event.message for event in events if event.message.startswith("point")]
        try:
            outcome: object = await job.result(poll_interval_seconds=FAST)
            downloaded = await job.download_result(folder, poll_interval_seconds=FAST)
            assert downloaded == folder / job.name
            assert (downloaded / "results.json").is_file()
        except JobFailedError as exc:
            outcome = exc.failure_reason
        metrics = await job.metrics()
        rows.append((job.name, state, messages, outcome, metrics.get("energy")))

    async with anyio.create_task_group() as group:
        for job in jobs:
            group.start_soon(collect, job)
    return sorted(rows, key=lambda row: str(row[0]))


async def test_a_sweep_of_local_and_remote_jobs_runs_through_one_code_path(
    session: AwsSession, tmp_path: Path
) -> None:
    source = write_module(tmp_path / "src", "point", SWEEP_JOB)
    jobs: list[QuantumJob] = []
    for x in (1, 2, 3):
        jobs.append(
            await LocalQuantumJob.create(
                "local:none/none",
                source,
                job_name=f"local-{x}",
                hyperparameters={"x": x},
                root=tmp_path / "local",
            )
        )
        jobs.append(
            await AwsQuantumJob.create(
                SV1, source, job_name=f"remote-{x}", hyperparameters={"x": x}, aws_session=session
            )
        )

    rows = await sweep(jobs, tmp_path / "downloads")

    for kind in ("local", "remote"):
        mine = [row for row in rows if str(row[0]).startswith(kind)]
        assert [row[1] for row in mine] == [JobState.COMPLETED, JobState.COMPLETED, JobState.FAILED]
        assert [row[2] for row in mine] == [["point 1"], ["point 2"], ["point 3"]]
        assert mine[0][3] == {"square": 1}
        assert mine[1][3] == {"square": 4}
        assert "x=3 is a bad point" in str(mine[2][3])
        assert [row[4] for row in mine] == [[-1.0], [-2.0], [-3.0]]


async def test_cancel_with_wait_means_the_same_on_both(session: AwsSession, tmp_path: Path) -> None:
    source = write_module(tmp_path / "src", "forever", "import time\ntime.sleep(600)\n")
    local = await LocalQuantumJob.create(
        "local:none/none", source, job_name="forever", root=tmp_path / "local"
    )
    remote = await AwsQuantumJob.create(SV1, source, aws_session=session)
    jobs: list[QuantumJob] = [local, remote]
    for job in jobs:
        assert await job.cancel(wait=True, poll_interval_seconds=FAST) is JobState.CANCELLED
        assert await job.state() is JobState.CANCELLED
        # Cancelling an ended job leaves it as it is.
        assert await job.cancel() is JobState.CANCELLED


# -- The same rules: waiting arguments -------------------------------------------------

BAD_INTERVALS: list[object] = [0, -1, math.nan, math.inf, "5", True, None]
BAD_TIMEOUTS: list[object] = [-1, -math.inf, math.nan, "10", None]
INTERVAL_RULE = "poll_interval_seconds must be a finite number of seconds above 0, not "
TIMEOUT_RULE = (
    "poll_timeout_seconds must be a number of seconds, 0 or more (0: do not wait, "
    "math.inf: no limit), not "
)


async def outcome(call: Callable[[], Awaitable[object]], job: QuantumJob) -> tuple[str, str]:
    """What a call ended with: its error's type and message (the ARN made neutral), or
    what it returned."""
    try:
        value = await call()
    except Exception as exc:  # the outcome under test, whatever it is
        return type(exc).__name__, str(exc).replace(job.arn, "<ARN>")
    return "returned", repr(value)


def waiting_calls(job: QuantumJob, folder: Path) -> dict[str, Callable[..., Awaitable[object]]]:
    """Every public method that waits, to be called with waiting arguments."""

    async def logs(**waiting: Any) -> object:
        return [event async for event in job.logs(wait=True, **waiting)]

    return {
        "wait": job.wait,
        "result": job.result,
        "download_result": functools.partial(job.download_result, folder),
        "cancel": functools.partial(job.cancel, wait=True),
        "logs": logs,
        "next_state": job.next_state,
    }


async def refusals(job: QuantumJob, folder: Path) -> list[tuple[str, str, str, str, str]]:
    """(method, argument, value, error type, message) for every bad waiting argument."""
    rows = []
    for method, call in waiting_calls(job, folder).items():
        arguments = {"poll_interval_seconds": BAD_INTERVALS}
        if method not in ("logs", "next_state"):  # they take no timeout
            arguments["poll_timeout_seconds"] = BAD_TIMEOUTS
        for argument, values in arguments.items():
            for value in values:
                kind, message = await outcome(functools.partial(call, **{argument: value}), job)
                rows.append((method, argument, repr(value), kind, message))
    return rows


async def test_bad_waiting_arguments_are_refused_alike_before_anything_is_done(
    session: AwsSession, tmp_path: Path
) -> None:
    source = write_module(tmp_path / "src", "forever", "import time\ntime.sleep(600)\n")
    local = await LocalQuantumJob.create(
        "local:none/none", source, job_name="forever", root=tmp_path / "local"
    )
    remote = await AwsQuantumJob.create(SV1, source, aws_session=session)

    found = [await refusals(job, tmp_path / "downloads") for job in (local, remote)]

    assert found[0] == found[1]
    for _, argument, value, kind, message in found[0]:
        assert kind == "ConfigurationError"
        rule = INTERVAL_RULE if argument == "poll_interval_seconds" else TIMEOUT_RULE
        assert message == rule + value
    # Refused before anything was done: cancel(wait=True) cancelled nothing.
    for job in (local, remote):
        assert not (await job.state()).is_terminal
        assert await job.cancel(wait=True, poll_interval_seconds=FAST) is JobState.CANCELLED


async def test_a_timeout_of_0_looks_once_and_math_inf_waits_as_long_as_it_takes(
    session: AwsSession, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    source = write_module(
        tmp_path / "src",
        "gated",
        f"""
        import os, time
        from braket_async.jobs import save_job_result
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.05)
        save_job_result({{"done": True}})
        """,
    )
    jobs: list[QuantumJob] = [
        await LocalQuantumJob.create(
            "local:none/none", source, job_name="gated", root=tmp_path / "local"
        ),
        await AwsQuantumJob.create(SV1, source, aws_session=session),
    ]
    running = [await outcome(lambda job=job: job.wait(poll_timeout_seconds=0), job) for job in jobs]
    assert running == [("JobTimeoutError", "Job <ARN> did not finish within 0 s")] * 2
    gate.touch()
    for job in jobs:
        state = await job.wait(poll_timeout_seconds=math.inf, poll_interval_seconds=FAST)
        assert state is JobState.COMPLETED
    # A fresh handle that has never looked at the job: 0 still looks once.
    fresh: list[QuantumJob] = [
        LocalQuantumJob(jobs[0].arn, root=tmp_path / "local"),
        AwsQuantumJob(jobs[1].arn, aws_session=session),
    ]
    for job in fresh:
        assert await job.result(poll_timeout_seconds=0) == {"done": True}


# -- The same rules: create() arguments ------------------------------------------------


def refused_arguments(tmp_path: Path) -> list[dict[str, Any]]:
    """Arguments the service refuses: refused by both handles, with the same message."""
    module = tmp_path / "src" / "algo.py"
    return [
        {"hyperparameters": [("x", 1)]},
        {"hyperparameters": {"x": "y" * 1_000_000}},
        {"hyperparameters": {"x": "y" * 2501}},
        {"hyperparameters": {"x": ""}},
        {"hyperparameters": {"x": "two\nlines"}},
        {"hyperparameters": {"x": "carriage\rreturn"}},
        {"hyperparameters": {str(i): i for i in range(101)}},
        {"hyperparameters": {"k" * 257: 1}},
        {"job_name": "snake_case_name"},
        {"job_name": "x" * 51},
        {"entry_point": "algo:bad-name"},
        {"entry_point": "other"},
        {"source_module": 42},
        {"device": "not-a-device"},
        {"device": "local:" + "x" * 300},
        {"input_data": {"bad/name": module}},
        {"input_data": tmp_path / "missing"},
        {"input_data": {str(i): module for i in range(21)}},
        {"checkpoint_config": CheckpointConfig(local_path="relative")},
        {"checkpoint_config": official.CheckpointConfig(localPath="relative")},
        {"checkpoint_config": {"localPath": "/opt/x"}},
        {"checkpoint_config": official.CheckpointConfig(s3Uri="http://example.com/x")},
        {"output_data_config": official.OutputDataConfig(s3Path="bucket/key")},
        {"output_data_config": "s3://bucket/key"},
        {"code_location": "/local/folder"},
        {"role_arn": "my-role"},
    ]


async def test_what_the_service_refuses_both_handles_refuse_alike(
    fake_stack: EmulatorStack, fake_session: AwsSession, tmp_path: Path
) -> None:
    source = write_module(tmp_path / "src", "algo")
    root = tmp_path / "local"
    root.mkdir()
    for arguments in refused_arguments(tmp_path):
        creates = {
            "local": lambda arguments=arguments: LocalQuantumJob.create(
                **{"device": "local:none/none", "source_module": source, "root": root, **arguments}
            ),
            "remote": lambda arguments=arguments: AwsQuantumJob.create(
                **{"device": SV1, "source_module": source, "aws_session": fake_session, **arguments}
            ),
        }
        found = {}
        for kind, create in creates.items():
            with pytest.raises(ConfigurationError) as raised:
                await create()
            found[kind] = str(raised.value)
        assert found["local"] == found["remote"], arguments
        assert len(found["local"]) < 400, "a message stays readable"
    assert list(root.iterdir()) == []
    assert calls(fake_stack, "CreateJob") == 0


ECHO_JOB = """
import os
from braket_async.jobs import get_checkpoint_dir, get_hyperparameters, save_job_checkpoint
from braket_async.jobs import save_job_result
values = get_hyperparameters()
save_job_checkpoint({"step": 1})
save_job_result({
    "count": len(values),
    "longest_name": max(len(name) for name in values),
    "longest_value": max(len(value) for value in values.values()),
    "checkpoints": get_checkpoint_dir().endswith("/opt/my/ckpt"),
})
"""


async def test_official_config_objects_and_the_limits_themselves_work_on_both(
    session: AwsSession, tmp_path: Path
) -> None:
    source = write_module(tmp_path / "src", "echo", ECHO_JOB)
    hyperparameters: dict[str, object] = {f"p{i}": i for i in range(98)}
    hyperparameters["n" * 256] = 1
    hyperparameters["long"] = "v" * 2500
    same = {
        "hyperparameters": hyperparameters,
        "checkpoint_config": official.CheckpointConfig(localPath="/opt/my/ckpt"),
        "output_data_config": official.OutputDataConfig(),
        "role_arn": "arn:aws:iam::123456789012:role/service-role/AmazonBraketJobsExecutionRole",
    }
    jobs: list[QuantumJob] = [
        await LocalQuantumJob.create(
            "local:none/none", source, job_name="echo", root=tmp_path / "local", **same
        ),
        await AwsQuantumJob.create(SV1, source, aws_session=session, **same),
    ]
    for job in jobs:
        assert await job.result(poll_interval_seconds=FAST) == {
            "count": 100,
            "longest_name": 256,
            "longest_value": 2500,
            "checkpoints": True,
        }
    assert (tmp_path / "local" / "echo" / "checkpoints" / "echo.json").is_file()


async def test_s3_input_is_taken_remotely_and_refused_locally_by_name(
    fake_session: AwsSession, tmp_path: Path
) -> None:
    source = write_module(tmp_path / "src", "algo")
    for input_data in (
        official.S3DataSourceConfig("s3://amazon-braket-data/prefix"),
        {"train": official.S3DataSourceConfig("s3://amazon-braket-data/prefix")},
        {"train": S3DataSourceConfig("s3://amazon-braket-data/prefix")},
        "s3://amazon-braket-data/prefix",
    ):
        remote = await AwsQuantumJob.create(
            SV1, source, input_data=input_data, aws_session=fake_session
        )
        metadata = await remote.metadata()
        assert [c["dataSource"]["s3DataSource"]["s3Uri"] for c in metadata["inputDataConfig"]] == [
            "s3://amazon-braket-data/prefix"
        ]
        channel = metadata["inputDataConfig"][0]["channelName"]
        with pytest.raises(ConfigurationError) as raised:
            await LocalQuantumJob.create(
                "local:none/none", source, input_data=input_data, root=tmp_path
            )
        assert str(raised.value).startswith(
            f"Input channel {channel!r} is in S3 (s3://amazon-braket-data/prefix): a local "
            "job reads local files only"
        )


async def test_remote_only_options_for_a_local_target_are_refused_by_name(
    tmp_path: Path,
) -> None:
    source = write_module(tmp_path / "src", "algo")
    async with JobGroup() as group:
        for option, value in (
            ("stopping_condition", official.StoppingCondition(maxRuntimeInSeconds=60)),
            ("instance_config", official.InstanceConfig(instanceCount=2)),
            ("tags", {"team": "x"}),
        ):
            with pytest.raises(ConfigurationError, match=f"^{option}= applies to remote jobs"):
                await group.create(
                    "local:none/none", source, target="process", root=tmp_path, **{option: value}
                )
    assert list(tmp_path.iterdir()) == [tmp_path / "src"]


# -- Equality --------------------------------------------------------------------------


async def test_two_handles_of_one_job_are_equal_on_both_and_only_then(
    fake_session: AwsSession, tmp_path: Path
) -> None:
    source = write_module(tmp_path / "src", "algo")
    local = await LocalQuantumJob.create(
        "local:none/none", source, job_name="same", root=tmp_path / "a"
    )
    elsewhere = await LocalQuantumJob.create(
        "local:none/none", source, job_name="same", root=tmp_path / "b"
    )
    remote = await AwsQuantumJob.create(SV1, source, aws_session=fake_session)
    other_remote = await AwsQuantumJob.create(SV1, source, aws_session=fake_session)
    for job in (local, elsewhere):
        await job.wait(poll_interval_seconds=FAST)

    again: list[QuantumJob] = [
        LocalQuantumJob(local.arn, root=tmp_path / "a"),
        AwsQuantumJob(remote.arn, aws_session=fake_session),
    ]
    for job, handle in zip((local, remote), again, strict=True):
        assert handle == job
        assert hash(handle) == hash(job)
        assert len({job, handle}) == 1
    assert local != elsewhere  # the same name under two roots: two jobs
    assert remote != other_remote
    assert len({local, elsewhere, remote, other_remote, *again}) == 4
    assert local != remote
    assert remote != local
    assert local != local.arn  # a handle is not its ARN
