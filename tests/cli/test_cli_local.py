"""Every command on local jobs, through the installed ``braket-async`` script."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from support.cli import BRAKET_ASYNC, GATED, cli, one_line_error
from support.owning import alive

from braket_async.local._folder import read_metadata


@pytest.fixture
def algorithm(tmp_path: Path) -> Path:
    source = tmp_path / "algorithm.py"
    source.write_text(GATED)
    return source


def test_run_follows_the_log_and_the_other_commands_read_the_job(
    tmp_path: Path, algorithm: Path
) -> None:
    ran = cli("run", str(algorithm), "-H", "x=2", "--name", "two", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert ran.out.splitlines() == ["started x=2", *ran.out.splitlines()[1:]]
    assert "done x=2" in ran.out
    assert "created job two (local:job/two in " in ran.err
    assert "job two COMPLETED" in ran.err

    status = cli("status", "two", cwd=tmp_path)
    assert (status.code, status.out.strip()) == (0, "two COMPLETED")
    described = json.loads(cli("status", "local:job/two", "--json", cwd=tmp_path).out)
    assert described["status"] == "COMPLETED"
    assert described["jobArn"] == "local:job/two"

    result = cli("result", "two", cwd=tmp_path)
    assert (result.code, json.loads(result.out)) == (0, {"doubled": 4})

    logs = cli("logs", "two", cwd=tmp_path)
    assert logs.code == 0
    assert "started x=2" in logs.out
    assert "done x=2" in logs.out

    table = cli("metrics", "two", "--by", "iteration", cwd=tmp_path)
    assert table.code == 0, table.err
    header, *rows = table.out.splitlines()
    assert header.split() == ["timestamp", "cost", "iteration_number"]
    assert [row.split()[-2:] for row in rows] == [["2", "0"], ["1", "1"], ["0.666667", "2"]]
    columns = json.loads(cli("metrics", "two", "--json", cwd=tmp_path).out)
    assert columns["cost"] == [2.0, 1.0, 2 / 3]

    listed = cli("ls", cwd=tmp_path)
    assert listed.code == 0
    assert listed.out.splitlines()[0].split() == ["NAME", "STATE", "CREATED", "ARN"]
    assert listed.out.splitlines()[1].split()[:2] == ["two", "COMPLETED"]


def test_run_json_keeps_stdout_for_the_json(tmp_path: Path, algorithm: Path) -> None:
    ran = cli("run", str(algorithm), "-H", "x=1", "--name", "one", "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == {
        "jobArn": "local:job/one",
        "jobName": "one",
        "status": "COMPLETED",
        "failureReason": None,
    }
    assert "started x=1" in ran.err  # the log went to stderr


def test_exit_codes_follow_a_failed_job(tmp_path: Path, algorithm: Path) -> None:
    ran = cli("run", str(algorithm), "-H", "x=3", "--name", "three", cwd=tmp_path)
    assert ran.code == 3
    assert "job three FAILED" in ran.err
    assert "three is not allowed" in ran.err.splitlines()[-1]
    assert cli("result", "three", cwd=tmp_path).code == 3
    assert cli("logs", "-f", "three", cwd=tmp_path).code == 3
    assert cli("logs", "three", cwd=tmp_path).code == 0  # printing a log succeeded
    assert cli("status", "three", cwd=tmp_path).out.startswith("three FAILED: ")


def test_no_follow_detaches_and_cancel_ends_the_job(tmp_path: Path, algorithm: Path) -> None:
    gate = tmp_path / "gate"
    ran = cli(
        "run", str(algorithm), "-H", f"gate={gate}", "--name", "gated", "--no-follow",
        cwd=tmp_path,
    )  # fmt: skip
    assert (ran.code, ran.out.strip()) == (0, "local:job/gated")
    # The command has exited; its job runs on.
    assert cli("status", "gated", cwd=tmp_path).out.strip() == "gated RUNNING"
    early = cli("result", "gated", "--no-wait", cwd=tmp_path)
    assert early.code == 1
    assert "gated is RUNNING: it has no result yet" in one_line_error(early)

    cancelled = cli("cancel", "gated", "--wait", "--json", cwd=tmp_path)
    assert cancelled.code == 0, cancelled.err
    assert json.loads(cancelled.out)["status"] == "CANCELLED"
    assert cli("result", "gated", cwd=tmp_path).code == 4
    assert cli("logs", "--follow", "gated", cwd=tmp_path).code == 4
    again = cli("cancel", "gated", cwd=tmp_path)
    assert again.code == 0  # cancelling a cancelled job is no error
    assert "had ended already: CANCELLED" in again.err


def test_cancel_of_a_completed_job_fails(tmp_path: Path, algorithm: Path) -> None:
    assert cli("run", str(algorithm), "--name", "done", cwd=tmp_path).code == 0
    refused = cli("cancel", "done", cwd=tmp_path)
    assert refused.code == 1
    assert "had ended already: COMPLETED" in refused.err


def test_ctrl_c_cancels_the_local_job_it_owns(tmp_path: Path, algorithm: Path) -> None:
    gate = tmp_path / "gate"
    command = subprocess.Popen(
        [BRAKET_ASYNC, "run", str(algorithm), "-H", f"gate={gate}", "--name", "owned"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert command.stdout is not None
        assert command.stdout.readline() == "started x=1\n"  # the job runs
        pid = read_metadata(tmp_path / "owned")["supervisor"]["pid"]
        command.send_signal(signal.SIGINT)
        _, err = command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 130, err
    assert "interrupted: cancelled local job owned (CANCELLED; its processes are gone)" in err
    assert "Traceback" not in err
    assert read_metadata(tmp_path / "owned")["status"] == "CANCELLED"
    assert not alive(pid)


def test_ctrl_c_leaves_a_detached_job_running(tmp_path: Path, algorithm: Path) -> None:
    gate = tmp_path / "gate"
    command = subprocess.Popen(
        [BRAKET_ASYNC, "run", str(algorithm), "-H", f"gate={gate}", "--name", "free", "--detach"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert command.stdout is not None
    assert command.stdout.readline() == "started x=1\n"
    command.send_signal(signal.SIGINT)
    _, err = command.communicate(timeout=60)
    assert command.returncode == 130
    assert "local job free runs on (detached)" in err
    assert "'braket-async cancel free --root .' cancels it" in err
    assert cli("status", "free", cwd=tmp_path).out.strip() == "free RUNNING"
    gate.touch()
    followed = cli("logs", "-f", "free", cwd=tmp_path)
    assert followed.code == 0
    assert "done x=1" in followed.out


def test_ls_filters(tmp_path: Path, algorithm: Path) -> None:
    for name, x in (("alpha-1", "1"), ("alpha-3", "3"), ("beta-2", "2")):
        cli("run", str(algorithm), "-H", f"x={x}", "--name", name, cwd=tmp_path)
    (tmp_path / "not-a-job").mkdir()  # folders of other kinds are no jobs
    (tmp_path / "loop").symlink_to(tmp_path / "alpha-1")  # nor are links to jobs

    def names(*filters: str) -> list[str]:
        listed = cli("ls", "--json", *filters, cwd=tmp_path)
        assert listed.code == 0, listed.err
        return sorted(job["jobName"] for job in json.loads(listed.out))

    assert names() == ["alpha-1", "alpha-3", "beta-2"]
    assert names("--state", "failed") == ["alpha-3"]
    assert names("--state", "COMPLETED", "--name-contains", "alpha") == ["alpha-1"]
    assert names("--since", "1h") == ["alpha-1", "alpha-3", "beta-2"]
    assert names("--since", "2999-01-01T00:00:00") == []
    assert len(names("--limit", "2")) == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["status", "missing"], "Local job 'missing' not found in "),
        (["status", "../etc"], "Invalid job name '../etc'"),
        (["result", "x", "--root", "no/such/folder"], "--root 'no/such/folder' is not a folder"),
        (["run", "no_such_file.py"], "no_such_file.py"),
        (["run", "{algorithm}", "-H", "novalue"], "hyperparameter 'novalue' is not KEY=VALUE"),
        (["run", "{algorithm}", "--hyperparameters", "nofile.json"], "nofile.json"),
        (["run", "{algorithm}", "--network", "host"], "--network is for --target docker"),
        (["run", "{algorithm}", "--tag", "a=b"], "--tag is for remote jobs"),
        (["run", "{algorithm}", "--name", "bad_name"], "Invalid job name 'bad_name'"),
        (["run", "{algorithm}", "--image-uri", "x"], "image_uri"),
        (["run", "{algorithm}", "--target", "remote"], "--device is required"),
        (["ls", "--since", "yesterday"], "--since 'yesterday' is neither an age"),
        (["ls", "--state", "DONE"], "--state 'DONE' is not one of"),
        (["ls", "--tag", "a=b"], "--tag filters remote jobs"),
        (["metrics", "x", "--plot", "out.txt"], "name a .png, .svg or .pdf file"),
    ],
)
def test_errors_are_one_line_and_exit_1(
    tmp_path: Path, algorithm: Path, arguments: list[str], message: str
) -> None:
    failed = cli(*(a.replace("{algorithm}", str(algorithm)) for a in arguments), cwd=tmp_path)
    assert failed.code == 1, (failed.out, failed.err)
    assert message in one_line_error(failed)
    assert sorted(os.listdir(tmp_path)) == ["algorithm.py"]  # nothing made


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    for arguments in (["frobnicate"], ["run"], ["ls", "--limit", "many"], []):
        finished = cli(*arguments, cwd=tmp_path)
        assert finished.code == 2, arguments
        assert "usage: braket-async" in finished.err


def test_every_command_has_help_with_an_example() -> None:
    top = cli("--help")
    assert top.code == 0
    for command in ("run", "status", "logs", "result", "cancel", "ls", "metrics", "sweep"):
        assert command in top.out
        helped = cli(command, "--help")
        assert helped.code == 0
        assert "example:\n  braket-async " + command in helped.out
    assert "exit codes:" in top.out
    assert "(default: process)" in cli("run", "--help").out


@pytest.mark.docker
def test_run_in_docker(tmp_path: Path, algorithm: Path) -> None:
    ran = cli(
        "run", str(algorithm), "-H", "x=6", "--name", "boxed", "--target", "docker",
        "--image-uri", "braket-async-test:python3", "--network", "none", cwd=tmp_path,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert "done x=6" in ran.out
    assert json.loads(cli("result", "boxed", cwd=tmp_path).out) == {"doubled": 12}
