"""Local job records that cannot be read: ``braket-async ls`` lists them (and the rest),
attaching to one is an error naming the file and the problem.

The broken records are copies of a real job's record with one thing wrong, as a crash,
a full disk or a hand edit leaves them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from support.cli import acli

from braket_async import JobState, LocalQuantumJob
from braket_async.errors import BraketAsyncError, JobNotFoundError

pytestmark = pytest.mark.anyio


def broken(record: dict[str, Any], folder: Path) -> dict[str, tuple[str, str | None]]:
    """Job folders beside ``folder`` whose record is broken in one way each: name to
    (the problem's message, the record's text or None when it is not a file)."""

    def without(key: str) -> str:
        return json.dumps({name: value for name, value in record.items() if name != key})

    return {
        "bad-json": ("line 1 column", json.dumps(record)[:-10]),
        "bad-status": (
            "the unknown status 'EXPLODED' (expected one of QUEUED, RUNNING, COMPLETED, "
            "FAILED, CANCELLING, CANCELLED)",
            json.dumps({**record, "status": "EXPLODED"}),
        ),
        "no-events": ("no list of events", without("events")),
        "no-name": ("no jobName", without("jobName")),
        "bad-time": (
            "createdAt 'yesterday' is not an ISO 8601 time",
            json.dumps({**record, "createdAt": "yesterday"}),
        ),
        "not-an-object": ("not a JSON object but list", "[1, 2]"),
        "not-utf8": ("'utf-8' codec can't decode", None),
        "a-link": ("Too many levels of symbolic links", None),
        "a-folder": ("Is a directory", None),
    }


@pytest.fixture
async def root(tmp_path: Path) -> Path:
    """A root with one job that ran, and one copy of it per way of breaking a record."""
    source = tmp_path / "hello.py"
    source.write_text("print('hello')\n")
    root = tmp_path / "jobs"
    job = await LocalQuantumJob.create("local:none/none", source, job_name="good", root=root)
    assert await job.wait() is JobState.COMPLETED
    record = json.loads((job.folder / "metadata.json").read_text())
    for name, (_, text) in broken(record, job.folder).items():
        folder = root / name
        shutil.copytree(job.folder, folder, ignore=shutil.ignore_patterns("metadata.json"))
        path = folder / "metadata.json"
        if name == "not-utf8":
            path.write_bytes(b'{"status": "\xff"}')
        elif name == "a-link":
            os.symlink(job.folder / "metadata.json", path)
        elif name == "a-folder":
            path.mkdir()
        else:
            assert text is not None
            path.write_text(text)
    return root


async def test_attaching_to_a_broken_record_names_the_file_and_the_problem(root: Path) -> None:
    for name, (problem, _) in broken({}, root).items():
        with pytest.raises(JobNotFoundError) as caught:
            LocalQuantumJob(f"local:job/{name}", root=root)
        assert isinstance(caught.value, BraketAsyncError)
        message = str(caught.value)
        assert message.startswith(f"{root / name / 'metadata.json'} is not a readable job record: ")
        assert problem in message, message


async def test_ls_lists_every_job_and_says_which_records_cannot_be_read(root: Path) -> None:
    listed = await acli("ls", "--root", str(root))
    assert listed.code == 0, listed.err
    rows = [line.split() for line in listed.out.splitlines()]
    assert rows[0] == ["NAME", "STATE", "CREATED", "ARN"]
    assert rows[1][:2] == ["good", "COMPLETED"]  # newest first, the unreadable last
    problems = broken({}, root)
    assert sorted(row[0] for row in rows[2:]) == sorted(problems)
    assert {row[1] for row in rows[2:]} == {"UNREADABLE"}
    notes = listed.err.splitlines()
    assert len(notes) == len(problems)
    for name, (problem, _) in problems.items():
        (note,) = [line for line in notes if f"/{name}/metadata.json" in line]
        assert note.startswith(f"braket-async: {root / name / 'metadata.json'} is not a readable")
        assert problem in note, note


async def test_ls_json_and_filters_with_unreadable_records(root: Path) -> None:
    listed = await acli("ls", "--root", str(root), "--json")
    assert (listed.code, listed.err) == (0, "")
    entries = {entry["jobName"]: entry for entry in json.loads(listed.out)}
    assert entries["good"]["status"] == "COMPLETED"
    for name, (problem, _) in broken({}, root).items():
        entry = entries[name]
        assert entry["status"] == "UNREADABLE"
        assert entry["jobArn"] == f"local:job/{name}"
        assert entry["path"] == str(root / name / "metadata.json")
        assert problem in entry["problem"]
    named = await acli("ls", "--root", str(root), "--json", "--name-contains", "bad-")
    assert sorted(entry["jobName"] for entry in json.loads(named.out)) == [
        "bad-json",
        "bad-status",
        "bad-time",
    ]


async def test_status_of_a_broken_record_is_one_line(root: Path) -> None:
    status = await acli("status", "--root", str(root), "bad-status")
    assert status.code == 1
    path = root / "bad-status" / "metadata.json"
    assert status.err == (
        f"braket-async: error: {path} is not a readable job record: the unknown status "
        "'EXPLODED' (expected one of QUEUED, RUNNING, COMPLETED, FAILED, CANCELLING, CANCELLED)\n"
    )
