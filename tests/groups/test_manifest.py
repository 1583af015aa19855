"""The manifest journal through sweep(): torn tails, damage, old formats, crashes."""

from __future__ import annotations

import json
import signal
import textwrap
from pathlib import Path

import anyio
import pytest
from support.owning import eventually, wait_until
from support.sweeping import manifest_points, read_manifest, start_sweeper

from braket_async import JobState, sweep
from braket_async.errors import ConfigurationError

pytestmark = pytest.mark.anyio

FAST = 0.05
POINT = """
from braket_async.jobs import get_hyperparameters, save_job_result
x = int(get_hyperparameters()["x"])
save_job_result({"square": x * x})
"""
GATED = """
import os, time
from braket_async.jobs import get_hyperparameters, save_job_result
hyperparameters = get_hyperparameters()
while not os.path.exists(hyperparameters["gate"]):
    time.sleep(0.05)
x = int(hyperparameters["x"])
save_job_result({"square": x * x})
"""


def write(tmp_path: Path, source: str = POINT) -> Path:
    path = tmp_path / "src" / "point.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def arguments(tmp_path: Path, points: int) -> dict[str, object]:
    return {
        "source_module": write(tmp_path),
        "points": [{"x": x} for x in range(points)],
        "root": tmp_path / "jobs",
        "manifest": tmp_path / "sweep.jsonl",
        "progress": False,
        "poll_interval_seconds": FAST,
    }


def job_folders(root: Path) -> list[str]:
    return sorted(path.name for path in root.iterdir()) if root.exists() else []


async def test_a_torn_last_line_is_ignored_and_cut_off(tmp_path: Path) -> None:
    given = arguments(tmp_path, 3)
    manifest = tmp_path / "sweep.jsonl"
    first = await sweep(**given)  # type: ignore[arg-type]
    compacted = manifest.read_bytes()
    header, entries = read_manifest(manifest)
    assert header["points"] == 3
    assert len(compacted.splitlines()) == 4  # one line a point
    # A crash in the middle of an append: half a line, no newline.
    torn = json.dumps({"point": 1, "jobName": "someone-else", "clientToken": "x"})
    manifest.write_bytes(compacted + torn[: len(torn) // 2].encode())

    again = await sweep(**given)  # type: ignore[arg-type]
    assert [point.result for point in again] == [point.result for point in first]
    assert [point.job.name for point in again if point.job] == [e["jobName"] for e in entries if e]
    assert manifest.read_bytes() == compacted  # the torn part is gone
    assert len(job_folders(tmp_path / "jobs")) == 3


async def test_a_job_made_whose_arn_was_not_recorded_is_found_by_its_token(
    tmp_path: Path,
) -> None:
    # A crash between a create and the record of its ARN: the journal names the job and
    # its token only.
    given = arguments(tmp_path, 3)
    manifest = tmp_path / "sweep.jsonl"
    first = await sweep(**given)  # type: ignore[arg-type]
    header, entries = read_manifest(manifest)
    lines = [json.dumps(header)] + [json.dumps({**e, "arn": None}) for e in entries if e]
    manifest.write_text("\n".join(lines) + "\n")
    again = await sweep(**given)  # type: ignore[arg-type]
    assert [point.job.arn for point in again if point.job] == [
        point.job.arn for point in first if point.job
    ]
    assert [point.result for point in again] == [point.result for point in first]
    assert len(job_folders(tmp_path / "jobs")) == 3
    assert all(entry and entry["arn"] for entry in manifest_points(manifest))


async def test_a_damaged_line_before_good_ones_is_refused(tmp_path: Path) -> None:
    given = arguments(tmp_path, 3)
    manifest = tmp_path / "sweep.jsonl"
    await sweep(**given)  # type: ignore[arg-type]
    lines = manifest.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"point": 1, "jobName"\x00\x00\n'
    manifest.write_bytes(b"".join(lines))
    with pytest.raises(ConfigurationError, match="line 3 is damaged"):
        await sweep(**given)  # type: ignore[arg-type]


async def test_a_torn_header_is_a_new_manifest(tmp_path: Path) -> None:
    # The crash came while the manifest was being made: nothing was recorded after it.
    given = arguments(tmp_path, 2)
    manifest = tmp_path / "sweep.jsonl"
    manifest.write_bytes(b'{"braketAsyncSweep":2,"finger')
    points = await sweep(**given)  # type: ignore[arg-type]
    assert [point.result for point in points] == [{"square": 0}, {"square": 1}]
    assert read_manifest(manifest)[0]["points"] == 2


async def test_other_arguments_an_old_format_and_a_stranger_are_refused(tmp_path: Path) -> None:
    given = arguments(tmp_path, 2)
    manifest = tmp_path / "sweep.jsonl"
    await sweep(**given)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="other arguments"):
        await sweep(**{**given, "points": [{"x": 5}, {"x": 6}]})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="other arguments"):
        await sweep(**{**given, "points": [{"x": 0}]})  # type: ignore[arg-type]
    before = manifest.read_bytes()
    old = {"version": 1, "fingerprint": "f", "prefix": "p", "points": [None, None]}
    manifest.write_text(json.dumps(old, indent=1))
    with pytest.raises(ConfigurationError, match=r"earlier braket_async \(version 1"):
        await sweep(**given)  # type: ignore[arg-type]
    manifest.write_text("name,x\n1,2\n")
    with pytest.raises(ConfigurationError, match="is not a sweep manifest"):
        await sweep(**given)  # type: ignore[arg-type]
    manifest.write_bytes(before)
    assert [point.state for point in await sweep(**given)] == [JobState.COMPLETED] * 2  # type: ignore[arg-type]


async def test_one_sweep_at_a_time_per_manifest(tmp_path: Path) -> None:
    given = {
        **arguments(tmp_path, 2),
        "source_module": write(tmp_path, GATED),
        "points": [{"x": x, "gate": str(tmp_path / "gate")} for x in range(2)],
    }
    async with anyio.create_task_group() as running:
        running.start_soon(lambda: sweep(**given))  # type: ignore[arg-type]
        await eventually(
            lambda: len([e for e in manifest_points(tmp_path / "sweep.jsonl") if e]) == 2
        )
        with pytest.raises(ConfigurationError, match="in use by a sweep that is running"):
            await sweep(**given)  # type: ignore[arg-type]
        (tmp_path / "gate").touch()
    assert [point.state for point in await sweep(**given)] == [JobState.COMPLETED] * 2  # type: ignore[arg-type]


async def test_kill_9_while_creating_then_rerun_makes_no_point_twice(tmp_path: Path) -> None:
    root, manifest, gate = tmp_path / "jobs", tmp_path / "sweep.jsonl", tmp_path / "gate"
    given = {
        "source_module": str(write(tmp_path, GATED)),
        "points": [{"x": x, "gate": str(gate)} for x in range(24)],
        "manifest": str(manifest),
        "root": str(root),
        "max_concurrent_jobs": 6,
        "poll_interval_seconds": FAST,
    }
    sweeper = start_sweeper(tmp_path, **given)
    try:
        # Killed while jobs are being created: the first ones exist, others are being
        # made (six at a time), the rest wait for a slot.
        wait_until(lambda: len(job_folders(root)) >= 2)
    finally:
        sweeper.send_signal(signal.SIGKILL)
        sweeper.communicate()
    made_before = job_folders(root)
    assert 0 < len(made_before) < 24
    gate.touch()
    resumed = await sweep(progress=False, **given)  # type: ignore[arg-type]

    assert [point.result for point in resumed] == [{"square": x * x} for x in range(24)], [
        str(point.error) for point in resumed if point.error
    ]
    names = [point.job.name for point in resumed if point.job]
    assert len(names) == 24
    # One job a point; a job the kill caught while it started died with the sweep (it
    # stays, as the record of what happened) and its point ran again as <name>-r1.
    assert set(made_before) <= set(job_folders(root))
    for name in set(job_folders(root)) - set(names):
        record = json.loads((root / name / "metadata.json").read_text())
        assert record["status"] in ("FAILED", "CANCELLED"), record
        assert f"{name}-r1" in names
    completed = [
        name
        for name in job_folders(root)
        if json.loads((root / name / "metadata.json").read_text())["status"] == "COMPLETED"
    ]
    assert sorted(completed) == sorted(names)
    entries = manifest_points(manifest)
    assert [entry["arn"] for entry in entries if entry] == [
        point.job.arn for point in resumed if point.job
    ]
    for point, entry in zip(resumed, entries, strict=True):
        assert point.job is not None
        assert entry is not None
        tags = (await point.job.metadata())["tags"]
        assert tags == {"braket-async:client-token": entry["clientToken"]}
