"""Whole jobs: run for real by the emulator (process runtime), awaited through the poller."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from support.aws import SV1
from support.jobs import listing, unique_name, write_module

from braket_async import JobState, MetricType
from braket_async.aws import AwsQuantumJob, AwsSession
from braket_async.emulator.testing import EmulatorStack
from braket_async.errors import ConfigurationError, JobCancelledError, JobFailedError

pytestmark = pytest.mark.anyio

FAST = 0.1  # seconds between polls

GOOD_JOB = """
    from braket_async.jobs import get_hyperparameters, log_metric, save_job_result

    answer = int(get_hyperparameters()["answer"])
    print("starting")
    log_metric("energy", -1.5, iteration_number=0)
    save_job_result({"answer": answer})
    print("done")
"""

FAILING_JOB = """
    print("about to fail")
    raise ValueError("bad input")
"""

SILENT_JOB = """
    print("nothing saved")
"""

ENDLESS_JOB = """
    import time
    print("ready", flush=True)
    while True:
        time.sleep(0.05)
"""


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary-files folder of the test's own, to see what is left in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


async def test_a_job_from_creation_to_result(
    session: AwsSession, tmp_path: Path, private_tmp: Path
) -> None:
    job = await AwsQuantumJob.create(
        SV1,
        write_module(tmp_path / "src", "algo", GOOD_JOB),
        hyperparameters={"answer": 42},
        aws_session=session,
    )
    assert await job.result(poll_interval_seconds=FAST) == {"answer": 42}
    assert listing(private_tmp) == []  # the download's temporary folder is gone
    assert await job.state(use_cached_value=True) is JobState.COMPLETED
    messages = [event.message async for event in job.logs()]
    assert "starting" in messages
    assert messages.index("starting") < messages.index("done")
    metrics = await job.metrics(MetricType.ITERATION_NUMBER)
    assert metrics["energy"] == [-1.5]
    assert metrics["iteration_number"] == [0]


async def test_wait_until_complete_prints_the_log(
    session: AwsSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = await AwsQuantumJob.create(
        SV1,
        write_module(tmp_path / "src", "algo", GOOD_JOB),
        hyperparameters={"answer": 1},
        aws_session=session,
        wait_until_complete=True,
        poll_interval_seconds=FAST,
    )
    out = capsys.readouterr().out
    assert out.startswith(f"Initializing Braket Job: {job.arn}\n")
    assert "starting\n" in out
    assert "done\n" in out
    assert await job.state() is JobState.COMPLETED


async def test_a_failing_job_raises_with_its_reason(session: AwsSession, tmp_path: Path) -> None:
    job = await AwsQuantumJob.create(
        SV1, write_module(tmp_path / "src", "algo", FAILING_JOB), aws_session=session
    )
    with pytest.raises(JobFailedError) as caught:
        await job.result(poll_interval_seconds=FAST)
    assert caught.value.state == "FAILED"
    assert caught.value.arn == job.arn
    assert caught.value.failure_reason is not None
    assert "ValueError: bad input" in caught.value.failure_reason
    assert isinstance(caught.value, RuntimeError)
    with pytest.raises(JobFailedError):
        await job.download_result(tmp_path / "out", poll_interval_seconds=FAST)
    assert not (tmp_path / "out" / job.name).exists()
    again = AwsQuantumJob(job.arn, session)  # a fresh handle finds the name itself
    assert "about to fail" in [event.message async for event in again.logs()]


async def test_a_job_that_saved_nothing_has_an_empty_result(
    session: AwsSession, tmp_path: Path
) -> None:
    job = await AwsQuantumJob.create(
        SV1, write_module(tmp_path / "src", "algo", SILENT_JOB), aws_session=session
    )
    assert await job.result(poll_interval_seconds=FAST) == {}


async def test_cancelling_a_running_job(
    stack: EmulatorStack, session: AwsSession, tmp_path: Path
) -> None:
    job = await AwsQuantumJob.create(
        SV1, write_module(tmp_path / "src", "algo", ENDLESS_JOB), aws_session=session
    )
    async for event in job.logs(wait=True, poll_interval_seconds=FAST):
        if event.message == "ready":
            break
    assert await job.cancel(wait=True, poll_interval_seconds=FAST) is JobState.CANCELLED
    with pytest.raises(JobCancelledError):
        await job.result(poll_interval_seconds=FAST)


async def test_download_result_layout(
    session: AwsSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    job = await AwsQuantumJob.create(
        SV1,
        write_module(tmp_path / "src", "algo", GOOD_JOB),
        hyperparameters={"answer": 7},
        aws_session=session,
    )
    folder = await job.download_result(poll_interval_seconds=FAST)
    assert folder == cwd / job.name
    assert listing(cwd) == [job.name]  # no archive, no staging
    assert (folder / "results.json").is_file()
    # A second download into the same place is refused; an empty folder is replaced.
    with pytest.raises(ConfigurationError, match="exists and is not empty"):
        await job.download_result(poll_interval_seconds=FAST)
    (tmp_path / "other" / job.name).mkdir(parents=True)
    again = await job.download_result(tmp_path / "other", poll_interval_seconds=FAST)
    assert (again / "results.json").read_bytes() == (folder / "results.json").read_bytes()
    assert listing(tmp_path / "other") == [job.name]


async def test_same_name_jobs_downloaded_at_once(session: AwsSession, tmp_path: Path) -> None:
    name = unique_name("twin")
    module = write_module(tmp_path / "src", "algo", GOOD_JOB)
    jobs = [
        await AwsQuantumJob.create(
            SV1, module, job_name=name, hyperparameters={"answer": answer}, aws_session=session
        )
        for answer in (1, 2)
    ]
    folders = await asyncio.gather(
        *(
            job.download_result(tmp_path / f"out{index}", poll_interval_seconds=FAST)
            for index, job in enumerate(jobs)
        )
    )
    assert folders == [tmp_path / "out0" / name, tmp_path / "out1" / name]
    for answer, folder in zip((1, 2), folders, strict=True):
        assert f'"answer": {answer}' in (folder / "results.json").read_text()
        assert listing(folder.parent) == [name]


FIRST_JOB = """
    from braket_async.jobs import save_job_checkpoint

    save_job_checkpoint({"step": 5})
"""

SECOND_JOB = """
    import pathlib
    from braket_async.jobs import (
        get_hyperparameters, get_input_data_dir, load_job_checkpoint, save_job_result,
    )

    previous = get_hyperparameters()["previous"]
    folder = pathlib.Path(get_input_data_dir("train"))
    files = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    weights = pathlib.Path(get_input_data_dir("weights"), "weights.txt").read_text()
    save_job_result({
        "checkpoint": load_job_checkpoint(previous),
        "files": files,
        "weights": weights,
    })
"""


async def test_input_data_and_copied_checkpoints_reach_the_job(
    session: AwsSession, tmp_path: Path
) -> None:
    first = await AwsQuantumJob.create(
        SV1, write_module(tmp_path / "one", "algo", FIRST_JOB), aws_session=session
    )
    assert await first.result(poll_interval_seconds=FAST) == {}
    data = tmp_path / "training"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("1")
    (data / "sub" / "b.csv").write_text("2")
    (tmp_path / "weights.txt").write_text("w")
    second = await AwsQuantumJob.create(
        SV1,
        write_module(tmp_path / "two", "algo", SECOND_JOB),
        hyperparameters={"previous": first.name},
        input_data={"train": data, "weights": tmp_path / "weights.txt"},
        copy_checkpoints_from_job=first.arn,
        aws_session=session,
    )
    assert await second.result(poll_interval_seconds=FAST) == {
        "checkpoint": {"step": 5},
        "files": ["a.csv", "sub/b.csv"],
        "weights": "w",
    }
