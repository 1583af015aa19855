"""The command line on remote jobs: the emulator (real process runner) and moto over HTTP."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import anyio
import pytest
from support.cli import GATED, acli, one_line_error, start

from braket_async import AwsQuantumJob, JobState
from braket_async.aws import AwsSession
from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


@pytest.fixture
def shell(stack: EmulatorStack) -> dict[str, str]:
    """The environment of a user whose shell points at the emulator."""
    return {**os.environ, **stack.environment()}


@pytest.fixture
def algorithm(tmp_path: Path) -> Path:
    source = tmp_path / "algorithm.py"
    source.write_text(GATED)
    return source


async def test_run_status_result_logs_metrics_ls(
    tmp_path: Path, algorithm: Path, shell: dict[str, str]
) -> None:
    remote = ("--target", "remote", "--device", SV1, "--poll-interval", "0.2")
    ran = await acli(
        "run", str(algorithm), *remote, "-H", "x=5", "--name", "remote-five",
        "--tag", "team=qa", "--json", cwd=tmp_path, env=shell,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    finished = json.loads(ran.out)
    assert finished["status"] == "COMPLETED"
    arn = finished["jobArn"]
    assert arn.startswith("arn:aws:braket:us-east-1:123456789012:job/")
    assert finished["jobName"] == "remote-five"
    assert "started x=5" in ran.err  # the CloudWatch log, followed

    status = await acli("status", arn, env=shell)
    assert (status.code, status.out.strip()) == (0, "remote-five COMPLETED")
    result = await acli("result", arn, "--download", str(tmp_path / "out"), env=shell)
    assert (result.code, json.loads(result.out)) == (0, {"doubled": 10})
    assert (tmp_path / "out" / "remote-five" / "results.json").is_file()
    logs = await acli("logs", arn, env=shell)
    assert "done x=5" in logs.out
    metrics = json.loads((await acli("metrics", arn, "--json", env=shell)).out)
    assert metrics["cost"] == [5.0, 2.5, 5 / 3]

    other = await acli(
        "run", str(algorithm), *remote, "-H", "x=3", "--name", "remote-three", env=shell
    )
    assert other.code == 3
    assert "three is not allowed" in other.err

    async def names(*filters: str) -> list[str]:
        listed = await acli("ls", "--remote", "--json", *filters, env=shell)
        assert listed.code == 0, listed.err
        return sorted(job["jobName"] for job in json.loads(listed.out))

    assert await names() == ["remote-five", "remote-three"]
    assert await names("--state", "FAILED") == ["remote-three"]
    assert await names("--tag", "team=qa") == ["remote-five"]
    assert await names("--name-contains", "five", "--since", "10m") == ["remote-five"]
    assert await names("--since", "2999-01-01") == []
    table = await acli("ls", "--remote", env=shell)
    assert table.out.splitlines()[0].split() == ["NAME", "STATE", "CREATED", "ARN"]


async def test_ctrl_c_leaves_a_remote_job_alone(
    tmp_path: Path, algorithm: Path, shell: dict[str, str], session: AwsSession
) -> None:
    gate = tmp_path / "gate"
    command = await start(
        "run", str(algorithm), "--target", "remote", "--device", SV1,
        "--poll-interval", "0.2", "-H", f"gate={gate}", "--name", "left-alone",
        cwd=tmp_path, env=shell,
    )  # fmt: skip
    assert command.stdout is not None
    assert command.stderr is not None
    with anyio.fail_after(60):
        assert await command.stdout.readline() == b"started x=1\n"
    command.send_signal(signal.SIGINT)
    with anyio.fail_after(60):
        _, err = await command.communicate()
    assert command.returncode == 130
    arn = (await acli("ls", "--remote", "--json", env=shell)).out
    job_arn = json.loads(arn)[0]["jobArn"]
    assert f"interrupted: remote job {job_arn} runs on" in err.decode()
    job = AwsQuantumJob(job_arn, aws_session=session)
    assert await job.state() is JobState.RUNNING
    cancelled = await acli("cancel", job_arn, "--wait", "--poll-interval", "0.2", env=shell)
    assert (cancelled.code, cancelled.out.strip()) == (0, "left-alone CANCELLED")
    assert await job.state() is JobState.CANCELLED


async def test_remote_errors_are_one_line(
    tmp_path: Path, algorithm: Path, shell: dict[str, str]
) -> None:
    missing = await acli("status", "arn:aws:braket:us-east-1:123456789012:job/nope", env=shell)
    assert missing.code == 1
    assert "nope" in one_line_error(missing)
    local_flag = await acli(
        "run", str(algorithm), "--target", "remote", "--device", SV1, "--network", "host",
        env=shell,
    )  # fmt: skip
    assert "--network is for local jobs" in one_line_error(local_flag)
    detach = await acli(
        "run", str(algorithm), "--target", "remote", "--device", SV1, "--detach", env=shell
    )
    assert "--detach is for local jobs" in one_line_error(detach)
    # No credentials at all: the message says what is missing, in one line.
    bare = {k: v for k, v in shell.items() if not k.startswith("AWS_ACCESS") and "SECRET" not in k}
    refused = await acli("ls", "--remote", env=bare)
    assert refused.code == 1
    assert "credentials" in one_line_error(refused).lower()


async def test_a_create_that_the_service_refuses(
    tmp_path: Path, algorithm: Path, shell: dict[str, str], stack: EmulatorStack
) -> None:
    refused = await acli(
        "run", str(algorithm), "--target", "remote", "--device", "not-a-device",
        env=shell,
    )  # fmt: skip
    assert refused.code == 1
    assert "device" in one_line_error(refused).lower()
    assert stack.emulator.admin_stats()["jobs"] == {}  # no job was made
