"""A resumed sweep knows its jobs by their client tokens, never by their names alone."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from braket_async import JobState, LocalQuantumJob, SweepPoint, sweep
from braket_async.errors import ConfigurationError

pytestmark = pytest.mark.anyio

FAST = 0.05
TOKEN_TAG = "braket-async:client-token"
POINT = """
from braket_async.jobs import get_hyperparameters, save_job_result
x = int(get_hyperparameters()["x"])
save_job_result({"square": x * x})
"""


def write(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "point.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(POINT))
    return path


async def hyperparameters_of(point: SweepPoint) -> dict[str, str]:
    assert point.job is not None
    metadata = await point.job.metadata()
    return dict(metadata["hyperParameters"])


async def test_two_sweeps_sharing_a_prefix_return_only_their_own_jobs(tmp_path: Path) -> None:
    source, root = write(tmp_path), tmp_path / "jobs"
    common = {"root": root, "job_name_prefix": "shared", "progress": False}
    first = {"points": [{"x": x} for x in (1, 2, 3)], "manifest": tmp_path / "a.jsonl"}
    # The second sweep's first three points clash with the first sweep's jobs; its
    # fourth has a name of its own.
    second = {"points": [{"x": x} for x in (10, 20, 30, 40)], "manifest": tmp_path / "b.jsonl"}

    a = await sweep(source, poll_interval_seconds=FAST, **common, **first)  # type: ignore[arg-type]
    b = await sweep(source, poll_interval_seconds=FAST, **common, **second)  # type: ignore[arg-type]
    assert [point.result for point in a] == [{"square": 1}, {"square": 4}, {"square": 9}]
    for point in b[:3]:
        assert point.job is None
        assert point.state is None
        assert point.result is None
        assert isinstance(point.error, ConfigurationError)
        assert "exists already" in str(point.error)
    assert b[3].result == {"square": 1600}

    # Rerun each with the same arguments: each gets its own jobs back, no new ones.
    a_again = await sweep(source, poll_interval_seconds=FAST, **common, **first)  # type: ignore[arg-type]
    b_again = await sweep(source, poll_interval_seconds=FAST, **common, **second)  # type: ignore[arg-type]
    assert [point.state for point in a_again] == [JobState.COMPLETED] * 3
    assert [point.result for point in a_again] == [{"square": 1}, {"square": 4}, {"square": 9}]
    assert [await hyperparameters_of(point) for point in a_again] == [
        {"x": "1"},
        {"x": "2"},
        {"x": "3"},
    ]
    for index, point in enumerate(b_again[:3]):
        assert point.job is None
        assert point.state is None
        assert point.result is None
        assert isinstance(point.error, ConfigurationError)
        message = str(point.error)
        assert f"point {index}: the job 'shared-{index}'" in message
        assert "is not this point's job" in message
        assert "another sweep or program made it" in message
    assert b_again[3].result == {"square": 1600}
    assert await hyperparameters_of(b_again[3]) == {"x": "40"}
    assert sorted(path.name for path in root.iterdir()) == [f"shared-{i}" for i in range(4)]


async def test_a_job_of_the_points_name_made_by_hand_is_not_the_points_result(
    tmp_path: Path,
) -> None:
    # A sweep crashed after recording point 0 and before creating its job; meanwhile
    # someone made a job of that name. The rerun must not take it for the point's.
    source, root, manifest = write(tmp_path), tmp_path / "jobs", tmp_path / "m.jsonl"
    arguments = {
        "points": [{"x": 5}],
        "root": root,
        "job_name_prefix": "hand",
        "manifest": manifest,
        "progress": False,
        "poll_interval_seconds": FAST,
    }
    first = await sweep(source, **arguments)  # type: ignore[arg-type]
    assert first[0].result == {"square": 25}
    assert first[0].job is not None
    await first[0].job.cancel(wait=True)  # ended: no process holds the folder
    # Replace the point's job with one made by hand, of the same name.
    shutil.rmtree(root / "hand-0")
    made = await LocalQuantumJob.create(
        "local:none/none", source, job_name="hand-0", root=root, hyperparameters={"x": 7}
    )
    await made.wait(poll_interval_seconds=FAST)
    again = await sweep(source, **arguments)  # type: ignore[arg-type]
    assert again[0].job is None
    assert again[0].result is None
    assert "carries no client token of a sweep" in str(again[0].error)


async def test_a_local_job_carries_its_client_token_as_a_tag(tmp_path: Path) -> None:
    source = write(tmp_path)
    job = await LocalQuantumJob.create(
        "local:none/none", source, root=tmp_path, client_token="token-1", hyperparameters={"x": 1}
    )
    await job.wait(poll_interval_seconds=FAST)
    assert (await job.metadata())["tags"] == {TOKEN_TAG: "token-1"}
    again = LocalQuantumJob(job.arn, root=tmp_path)  # from the record, as another process
    assert (await again.metadata())["tags"] == {TOKEN_TAG: "token-1"}
    with pytest.raises(ConfigurationError, match="Invalid client_token"):
        await LocalQuantumJob.create("local:none/none", source, root=tmp_path, client_token="a b")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["src", job.name])
