"""``--json`` on every command that prints data, through the installed script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import GATED, cli

#: The commands that print data about a job, and how to ask one of a finished job.
DATA_COMMANDS = {
    "status": ["status", "{job}"],
    "logs": ["logs", "{job}"],
    "logs -f": ["logs", "-f", "{job}"],
    "result": ["result", "{job}"],
    "cancel": ["cancel", "{job}"],
    "metrics": ["metrics", "{job}"],
    "ls": ["ls"],
}


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    """A folder with the completed local job ``two`` and the failed job ``three``."""
    source = tmp_path / "algorithm.py"
    source.write_text(GATED)
    assert cli("run", str(source), "-H", "x=2", "--name", "two", cwd=tmp_path).code == 0
    assert cli("run", str(source), "-H", "x=3", "--name", "three", cwd=tmp_path).code == 3
    return tmp_path


def json_lines(text: str) -> list[object]:
    return [json.loads(line) for line in text.splitlines()]


def test_every_data_command_takes_json(finished: Path) -> None:
    for name, arguments in DATA_COMMANDS.items():
        ran = cli(*(a.replace("{job}", "two") for a in arguments), "--json", cwd=finished)
        assert ran.code in (0, 1), (name, ran.err)  # cancel of a completed job: 1
        assert "usage:" not in ran.err, name
        if name.startswith("logs"):
            assert json_lines(ran.out), name
        else:
            assert json.loads(ran.out), name
    assert "--json" in cli("sweep", "--help").out
    assert "--json" in cli("run", "--help").out


def test_result_json_describes_the_outcome_also_of_a_failed_job(finished: Path) -> None:
    completed = cli("result", "two", "--json", cwd=finished)
    assert completed.code == 0
    assert json.loads(completed.out) == {
        "jobArn": "local:job/two",
        "jobName": "two",
        "status": "COMPLETED",
        "failureReason": None,
        "result": {"doubled": 4},
    }
    failed = cli("result", "three", "--json", cwd=finished)
    assert failed.code == 3
    document = json.loads(failed.out)
    assert (document["status"], document["result"]) == ("FAILED", None)
    assert "three is not allowed" in document["failureReason"]
    # Without --json the result alone, as before; a failure prints nothing on stdout.
    assert json.loads(cli("result", "two", cwd=finished).out) == {"doubled": 4}
    assert cli("result", "three", cwd=finished).out == ""


def test_logs_json_is_one_log_event_a_line(finished: Path) -> None:
    text = cli("logs", "two", cwd=finished).out.splitlines()
    for arguments in (["logs", "two", "--json"], ["logs", "-f", "two", "--json"]):
        events = json_lines(cli(*arguments, cwd=finished).out)
        assert [event["message"] for event in events] == text  # type: ignore[index]
        for event in events:
            assert isinstance(event, dict)
            assert set(event) == {"timestamp", "message", "instance"}
            assert isinstance(event["timestamp"], float)
            assert event["instance"] == "algo-1"


@pytest.mark.parametrize("interval", ["0", "-1", "nan", "inf", "soon"])
def test_a_poll_interval_that_is_no_pause_is_a_usage_error(tmp_path: Path, interval: str) -> None:
    source = tmp_path / "algorithm.py"
    source.write_text(GATED)
    ran = cli("run", str(source), "--poll-interval", interval, cwd=tmp_path)
    assert ran.code == 2
    assert f"{interval!r} is not a number of seconds above 0" in ran.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["algorithm.py"]  # no job made
