"""sweep() with real jobs: results in order, failures collected, resumable after kill -9."""

from __future__ import annotations

import json
import signal
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from support.owning import wait_until
from support.sweeping import manifest_points, read_manifest, start_sweeper

from braket_async import BillingLimitError, JobEvent, JobFailedError, JobState, SweepPoint, sweep
from braket_async.errors import ConfigurationError

pytestmark = pytest.mark.anyio

FAST = 0.05
POINT = """
from braket_async.jobs import get_hyperparameters, save_job_result
x = int(get_hyperparameters()["x"])
if x < 0:
    raise SystemExit(f"negative x={x}")
save_job_result({"square": x * x})
"""
# Points at or above 3 wait for a file the test makes once it has killed the sweep.
GATED = """
import os, time
from braket_async.jobs import get_hyperparameters, save_job_result
x = int(get_hyperparameters()["x"])
gate = get_hyperparameters()["gate"]
while x >= 3 and not os.path.exists(gate):
    time.sleep(0.05)
save_job_result({"square": x * x})
"""
FAILING_OR_GATED = """
import os, time
from braket_async.jobs import get_hyperparameters
x = int(get_hyperparameters()["x"])
if x < 0:
    raise SystemExit(f"negative x={x}")
while not os.path.exists(get_hyperparameters()["gate"]):
    time.sleep(0.05)
"""


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / "src" / f"{name}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def record_status(folder: Path) -> str | None:
    try:
        status: str = json.loads((folder / "metadata.json").read_text())["status"]
    except (OSError, ValueError):
        return None
    return status


def folders(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(path.name for path in root.iterdir() if path.is_dir())


async def test_a_grid_sweep_returns_points_in_order_and_collects_failures(
    tmp_path: Path,
) -> None:
    source = write(tmp_path, "point", POINT)
    points = await sweep(
        source,
        grid={"x": [2, -1, 3]},
        root=tmp_path / "jobs",
        job_name_prefix="grid",
        progress=False,
        poll_interval_seconds=FAST,
    )
    assert [point.hyperparameters for point in points] == [{"x": 2}, {"x": -1}, {"x": 3}]
    assert [point.state for point in points] == [
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.COMPLETED,
    ]
    assert points[0].result == {"square": 4}
    assert points[2].result == {"square": 9}
    assert isinstance(points[1].error, JobFailedError)
    assert "negative x=-1" in str(points[1].error)
    assert [point.job.name for point in points if point.job] == ["grid-0", "grid-1", "grid-2"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "either points= or grid="),
        ({"points": [], "grid": {"x": [1]}}, "either points= or grid="),
        ({"grid": {"x": "abc"}}, "non-empty list"),
        ({"points": [1]}, "not a mapping"),
        ({"points": [{}], "target": "cloud"}, "target must be"),
        ({"points": [{}], "job_name": "x"}, "job_name= is set by the sweep"),
        ({"points": [{}], "job_name_prefix": "bad_name"}, "Invalid job name"),
        ({"points": [{}], "max_billable_seconds": 0}, "max_billable_seconds"),
    ],
)
async def test_bad_arguments_are_refused_before_any_job(
    tmp_path: Path, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        await sweep(write(tmp_path, "point", POINT), root=tmp_path / "jobs", **arguments)
    assert not (tmp_path / "jobs").exists()


async def test_a_manifest_of_other_arguments_is_refused(tmp_path: Path) -> None:
    source = write(tmp_path, "point", POINT)
    manifest = tmp_path / "sweep.json"
    common = {"root": tmp_path / "jobs", "progress": False, "poll_interval_seconds": FAST}
    first = await sweep(source, points=[{"x": 1}], manifest=manifest, **common)
    assert first[0].ok
    with pytest.raises(ConfigurationError, match="other arguments"):
        await sweep(source, points=[{"x": 2}], manifest=manifest, **common)
    manifest.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not a sweep manifest"):
        await sweep(source, points=[{"x": 1}], manifest=manifest, **common)


def gated_sweep(tmp_path: Path, points: int, **extra: object) -> dict[str, object]:
    """Arguments of a sweep of ``GATED`` points, its files under ``tmp_path``."""
    return {
        "source_module": str(write(tmp_path, "gated", GATED)),
        "points": [{"x": x, "gate": str(tmp_path / "gate")} for x in range(points)],
        "manifest": str(tmp_path / "sweep.json"),
        "root": str(tmp_path / "jobs"),
        "poll_interval_seconds": FAST,
        **extra,
    }


def kill_sweep_when(tmp_path: Path, halfway: Callable[[], bool], **arguments: object) -> None:
    """Run the sweep in its own process and ``kill -9`` it once ``halfway()`` holds."""
    sweeper = start_sweeper(tmp_path, **arguments)
    try:
        wait_until(halfway)
    finally:
        sweeper.send_signal(signal.SIGKILL)
        sweeper.communicate()


async def test_a_sweep_killed_halfway_resumes_without_creating_a_job_twice(
    tmp_path: Path,
) -> None:
    root, manifest, gate = tmp_path / "jobs", tmp_path / "sweep.json", tmp_path / "gate"
    arguments = gated_sweep(tmp_path, 6, max_concurrent_jobs=4)

    # Halfway: x=0..2 done, x=3..5 running, blocked on the gate.
    def halfway() -> bool:
        done = [
            (root / f"{entry['jobName']}" / "results.json").exists()
            for entry in manifest_points(manifest)[:3]
            if entry
        ]
        states = [record_status(root / name) for name in folders(root)]
        return len(done) == 3 and all(done) and states.count("RUNNING") == 3 and len(states) == 6

    kill_sweep_when(tmp_path, halfway, **arguments)
    gate.touch()
    resumed = await sweep(progress=False, **arguments)  # type: ignore[arg-type]

    assert [point.state for point in resumed] == [JobState.COMPLETED] * 6
    assert [point.result for point in resumed] == [{"square": x * x} for x in range(6)]
    prefix = read_manifest(manifest)[0]["prefix"]
    assert folders(root) == sorted(f"{prefix}-{x}" for x in range(6))


async def test_points_whose_jobs_died_with_the_sweep_are_rerun(tmp_path: Path) -> None:
    root, manifest, gate = tmp_path / "jobs", tmp_path / "sweep.json", tmp_path / "gate"
    arguments = gated_sweep(tmp_path, 5, detach=False)  # the jobs end with the sweep

    def halfway() -> bool:
        entries = [entry for entry in manifest_points(manifest) if entry]
        states = [record_status(root / entry["jobName"]) for entry in entries]
        return states == ["COMPLETED"] * 3 + ["RUNNING"] * 2

    kill_sweep_when(tmp_path, halfway, **arguments)
    gate.touch()
    resumed = await sweep(progress=False, **arguments)  # type: ignore[arg-type]

    assert [point.state for point in resumed] == [JobState.COMPLETED] * 5
    names = [point.job.name for point in resumed if point.job]
    prefix = read_manifest(manifest)[0]["prefix"]
    assert names == [f"{prefix}-{x}" for x in range(3)] + [f"{prefix}-3-r1", f"{prefix}-4-r1"]
    assert len(folders(root)) == 7  # the two that died stay, as records of what happened


async def test_a_point_of_a_finished_sweep_is_not_run_again(tmp_path: Path) -> None:
    source = write(tmp_path, "point", POINT)
    manifest = tmp_path / "sweep.json"
    common = {"root": tmp_path / "jobs", "progress": False, "poll_interval_seconds": FAST}
    first = await sweep(source, points=[{"x": 1}, {"x": -1}], manifest=manifest, **common)
    again = await sweep(source, points=[{"x": 1}, {"x": -1}], manifest=manifest, **common)
    assert [p.state for p in again] == [p.state for p in first]
    assert again[0].result == {"square": 1}
    assert len(folders(tmp_path / "jobs")) == 2


def test_sweep_points_say_whether_they_completed() -> None:
    assert SweepPoint(0, {}, state=JobState.COMPLETED).ok
    assert not SweepPoint(0, {}, error=BillingLimitError("x")).ok


async def test_on_event_receives_every_state_change_as_it_happens(tmp_path: Path) -> None:
    source = write(tmp_path, "point", POINT)
    seen: list[tuple[str, JobState]] = []

    async def passed_on(event: JobEvent) -> None:
        seen.append((event.job.name, event.new_state))

    points = await sweep(
        source,
        points=[{"x": 1}, {"x": -1}],
        root=tmp_path / "jobs",
        job_name_prefix="events",
        progress=False,
        on_event=passed_on,
        poll_interval_seconds=FAST,
    )
    assert [point.state for point in points] == [JobState.COMPLETED, JobState.FAILED]
    assert ("events-0", JobState.COMPLETED) in seen
    assert ("events-1", JobState.FAILED) in seen


async def test_on_error_raise_ends_the_sweep_with_the_first_failure_itself(
    tmp_path: Path,
) -> None:
    root, gate = tmp_path / "jobs", tmp_path / "gate"
    gated = write(tmp_path, "failing", FAILING_OR_GATED)
    # x=3 and x=4 wait for a gate that never opens; x=-1 fails at once.
    points = [{"x": x, "gate": str(gate)} for x in (3, 4, -1)]
    with pytest.raises(JobFailedError, match="ended FAILED"):  # not an exception group
        await sweep(
            gated,
            points=points,
            root=root,
            on_error="raise",
            on_exit="cancel",
            progress=False,
            poll_interval_seconds=FAST,
        )
    assert sorted(record_status(root / name) for name in folders(root)) == [
        "CANCELLED",
        "CANCELLED",
        "FAILED",
    ]
