"""``braket-async emulator show`` / ``set`` against a running ``braket-async emulator``,
every part a real process."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import aiobotocore.session
import botocore.exceptions
import pytest
from botocore.config import Config
from support.emulator_process import EmulatorProcess, emulator_command, emulator_process

pytestmark = pytest.mark.anyio

JobRequest = Callable[..., dict[str, Any]]
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def braket_client(emulator: EmulatorProcess) -> Any:
    """A client of the emulator that never retries, so the test sees every answer."""
    return aiobotocore.session.get_session().create_client(
        "braket",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRIES,
    )


async def settings(emulator: EmulatorProcess) -> dict[str, Any]:
    code, out, err = await emulator_command("show", "--json", environment=emulator.shell())
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


async def test_set_changes_faults_and_the_quota_of_a_running_emulator(
    job_request: JobRequest,
) -> None:
    async with emulator_process("--port", "0", "--fake-runner") as emulator:
        shell = emulator.shell()
        code, out, err = await emulator_command("show", environment=shell)
        assert (code, err) == (0, "")
        assert "error_rate             0.0" in out.splitlines()
        assert "concurrent_jobs_quota  none" in out.splitlines()

        async with braket_client(emulator) as braket:
            code, out, _ = await emulator_command("set", "--error-rate", "1.0", environment=shell)
            assert code == 0
            assert "error_rate             1.0" in out.splitlines()
            with pytest.raises(botocore.exceptions.ClientError) as failed:
                await braket.search_devices(filters=[])
            assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500

            code, _, _ = await emulator_command("set", "--error-rate", "0", environment=shell)
            assert code == 0
            assert (await braket.search_devices(filters=[]))["devices"]

            code, _, _ = await emulator_command(
                "set", "--concurrent-jobs-quota", "0", environment=shell
            )
            assert code == 0
            with pytest.raises(botocore.exceptions.ClientError) as refused:
                await braket.create_job(**job_request(jobName="over-quota"))
            assert refused.value.response["Error"]["Code"] == "ServiceQuotaExceededException"

            code, _, _ = await emulator_command(
                "set", "--concurrent-jobs-quota", "none", "--url", emulator.url, environment={}
            )
            assert code == 0
            assert (await braket.create_job(**job_request(jobName="in-quota")))["jobArn"]

        assert await settings(emulator) == {
            "error_rate": 0.0,
            "drop_rate": 0.0,
            "latency_seconds": [0.0, 0.0],
            "seed": None,
            "fault_operations": None,
            "rate_limits": True,
            "rate_scale": 1.0,
            "concurrent_jobs_quota": None,
            "max_concurrent_jobs": None,
        }


async def test_bad_input_is_one_line_a_non_zero_exit_and_changes_nothing() -> None:
    async with emulator_process("--port", "0", "--fake-runner", "--seed", "3") as emulator:
        shell = emulator.shell()
        before = await settings(emulator)
        with socket.socket() as closed:  # bound, never listening: connections are refused
            closed.bind(("127.0.0.1", 0))
            unreachable = f"http://127.0.0.1:{closed.getsockname()[1]}"
            cases = [
                # (arguments, exit code, what the line says)
                (["set", "--error-rate", "1.5"], 1, "error_rate must be between 0 and 1"),
                (["set", "--error-rate", "0.5", "--latency", "2", "1"], 1, "latency_seconds"),
                (["set", "--max-concurrent-jobs", "2"], 1, "runs no job code"),
                (["set", "--fault-operations", "CreateJob,Nope"], 1, "unknown operation Nope"),
                (["set", "--rate-scale", "0"], 1, "rate_scale must be a number above 0"),
                (["set", "--concurrent-jobs-quota", "-1"], 1, "at least 0"),
                (["set", "--error-rate", "abc"], 2, "invalid float value: 'abc'"),
                (["set", "--rate-limits", "maybe"], 2, "not 'on' or 'off'"),
                (["set", "--bogus", "1"], 2, "unrecognized arguments: --bogus"),
                (["set"], 2, "name at least one setting"),
                (["show", "--url", unreachable], 1, "cannot reach the emulator"),
                (["show", "--url", emulator.exports["AWS_ENDPOINT_URL"]], 1, "emulator"),
                (["show", "--url", "ftp://127.0.0.1"], 2, "not an emulator address"),
                (["--port", "0", "--aws-endpoint-url", unreachable], 1, "cannot start: "),
            ]
            answers = await asyncio.gather(
                *(emulator_command(*arguments, environment=shell) for arguments, _, _ in cases)
            )
            for (arguments, expected_code, expected), (code, out, err) in zip(
                cases, answers, strict=True
            ):
                assert (code, out) == (expected_code, ""), (arguments, err)
                assert expected in err, (arguments, err)
                assert len(err.splitlines()) == 1, (arguments, err)
        code, _, err = await emulator_command("show", environment={})
        assert code == 2
        assert "pass --url or set AWS_ENDPOINT_URL_BRAKET" in err
        assert await settings(emulator) == before
        assert before["seed"] == 3


def test_start_options_are_checked_by_the_same_rules(capsys: pytest.CaptureFixture[str]) -> None:
    from braket_async.emulator._cli import main

    for arguments, expected in [
        (["--error-rate", "2"], "error_rate must be between 0 and 1"),
        (["--fake-runner", "--max-concurrent-jobs", "2"], "runs no job code"),
        (["--docker-image", "python:3"], "--docker-image needs --runtime docker"),
        (["--fake-runner", "--runtime", "docker"], "takes no --runtime"),
        (["--port", "70000"], "not a port number"),
        (["--latency", "1", "0"], "latency_seconds"),
    ]:
        assert main(arguments) == 2, arguments
        err = capsys.readouterr().err
        assert expected in err, (arguments, err)
        assert len(err.splitlines()) == 1, (arguments, err)


def test_help_states_every_default_and_what_suits_tests_and_demos(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from braket_async.emulator._cli import build_parser, main

    for action in build_parser()._actions:
        if action.dest != "help":
            assert action.help is not None
            assert "(default: " in action.help, action.option_strings
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for stated in [
        "--port PORT port; 0 for any free one (default: 8282)",
        "(default: process)",
        "(default: none: such jobs fail, saying to pass this)",
        "(default: no limit)",
        "(default: off: Braket's published per-operation rates apply",
        "settings for tests: --port 0",
        "--fake-runner when no job code needs to run, --no-rate-limits",
        "settings for demos: the defaults: real jobs as local processes",
        "Braket's own rate limits, no faults",
        "braket-async emulator set --error-rate 1.0",
    ]:
        assert stated in text, stated
    assert main(["set", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--url URL the emulator's Braket endpoint (default: $AWS_ENDPOINT_URL_BRAKET)" in text
    assert text.count("(default: unchanged)") == 9
