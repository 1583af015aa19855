"""Local jobs against what happens to real programs: owners killed, second processes,
jobs that leave children behind or plant links in their outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from support.owning import alive, record, start_owner, wait_until

from braket_async import JobState, LocalQuantumJob
from braket_async.errors import JobFailedError, JobNotFoundError, ResultError

pytestmark = pytest.mark.anyio

DEVICE = "local:none/none"
WriteModule = Callable[[str, str], Path]


def _start_owner(tmp_path: Path, source: Path, root: Path, detach: bool) -> subprocess.Popen[str]:
    return start_owner(tmp_path, source, root, detach=detach)


def _job_pids(folder: Path) -> tuple[int, int]:
    metadata = record(folder)
    return metadata["supervisor"]["pid"], metadata["jobProcess"]["pid"]


async def _started(root: Path) -> None:
    """Wait, through a handle of this process, for the job ``owned`` to say it started."""
    async for event in LocalQuantumJob("local:job/owned", root=root).logs(wait=True):
        if event.message == "started":
            return
    raise AssertionError("the job ended without starting")


@pytest.fixture
def child_file(tmp_path: Path) -> Path:
    return tmp_path / "child.pid"


def _sleeper(write_module: WriteModule, child_file: Path, *, setsid: bool = False) -> Path:
    """A job that starts a background grandchild, records its pid, then blocks."""
    return write_module(
        "sleeper",
        f"""
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "300"], start_new_session={setsid})
        with open({str(child_file)!r}, "w") as file:
            file.write(str(child.pid))
        print("started", flush=True)
        while True:
            time.sleep(3600)
        """,
    )


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
async def test_owner_killed_ends_the_job_failed_and_leaves_nothing(
    tmp_path: Path,
    write_module: WriteModule,
    jobs_root: Path,
    child_file: Path,
    signum: signal.Signals,
) -> None:
    source = _sleeper(write_module, child_file, setsid=True)
    owner = _start_owner(tmp_path, source, jobs_root, detach=False)
    folder = jobs_root / "owned"
    await _started(jobs_root)
    supervisor, bootstrap = _job_pids(folder)
    grandchild = int(child_file.read_text())
    workspace = Path(record(folder)["workspace"])
    killed = time.monotonic()
    owner.send_signal(signum)
    owner.communicate()
    # From this (another) process: the job ends FAILED, with a reason naming the exit.
    job = LocalQuantumJob("local:job/owned", root=jobs_root)
    assert await job.wait(poll_timeout_seconds=30) is JobState.FAILED
    elapsed = time.monotonic() - killed
    metadata = await job.metadata()
    assert "created this job" in metadata["failureReason"]
    assert "exited" in metadata["failureReason"]
    wait_until(lambda: not any(map(alive, (supervisor, bootstrap, grandchild))))
    assert not workspace.exists()
    assert elapsed < 15
    with pytest.raises(JobFailedError, match="exited"):
        await job.result()


async def test_detached_job_runs_on_and_another_process_collects_it(
    tmp_path: Path, write_module: WriteModule, jobs_root: Path
) -> None:
    gate = tmp_path / "gate"
    source = write_module(
        "gated",
        f"""
        import os, time
        from braket_async.jobs import save_job_result
        print("waiting", flush=True)
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.01)
        print("done", flush=True)
        save_job_result({{"ran": "on"}})
        """,
    )
    owner = _start_owner(tmp_path, source, jobs_root, detach=True)
    owner.kill()
    owner.communicate()
    job = LocalQuantumJob("local:job/owned", root=jobs_root)
    assert await job.state() is JobState.RUNNING
    lines = []
    async for event in job.logs(wait=True):
        lines.append(event.message)
        if event.message == "waiting":
            gate.touch()
    assert lines == ["waiting", "done"]
    assert await job.result() == {"ran": "on"}
    assert await job.state() is JobState.COMPLETED


async def test_second_process_follows_and_cancels_a_live_job(
    tmp_path: Path, write_module: WriteModule, jobs_root: Path, child_file: Path
) -> None:
    source = _sleeper(write_module, child_file)
    owner = _start_owner(tmp_path, source, jobs_root, detach=False)
    try:
        folder = jobs_root / "owned"
        await _started(jobs_root)
        supervisor, bootstrap = _job_pids(folder)
        job = LocalQuantumJob("local:job/owned", root=jobs_root)
        assert await job.state() is JobState.RUNNING
        assert await job.logs().lines() == ["started"]
        assert await job.cancel(wait=True) is JobState.CANCELLED
        # Gone when cancel() returns: the job's processes and what they left behind.
        assert not alive(bootstrap)
        assert not alive(int(child_file.read_text()))
        wait_until(lambda: not alive(supervisor))
        assert (await job.metadata())["failureReason"] == "Cancelled by the user"
        # The owner, waiting on the job, sees it end too.
        owner.communicate(timeout=30)
        assert owner.returncode == 0
    finally:
        owner.kill()


@pytest.mark.parametrize("setsid", [False, True])
async def test_background_children_end_with_the_job(
    write_module: WriteModule, jobs_root: Path, child_file: Path, setsid: bool
) -> None:
    source = write_module(
        "leaver",
        f"""
        import subprocess
        child = subprocess.Popen(["sleep", "300"], start_new_session={setsid})
        with open({str(child_file)!r}, "w") as file:
            file.write(str(child.pid))
        print("leaving")
        """,
    )
    job = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    assert await job.wait(poll_timeout_seconds=30) is JobState.COMPLETED
    assert not alive(int(child_file.read_text()))
    assert job.run_log == "leaving\n"


async def test_cancel_kills_a_setsid_grandchild_quickly(
    write_module: WriteModule, jobs_root: Path, child_file: Path
) -> None:
    source = _sleeper(write_module, child_file, setsid=True)
    async with LocalQuantumJob.create(DEVICE, source, root=jobs_root) as job:
        async for event in job.logs(wait=True):
            assert event.message == "started"
            break
        started = time.monotonic()
        assert await job.cancel(wait=True) is JobState.CANCELLED
        assert time.monotonic() - started < 8
    assert not alive(int(child_file.read_text()))


async def test_links_and_names_planted_in_the_outputs_are_refused(
    tmp_path: Path, write_module: WriteModule, jobs_root: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("do not read")
    source = write_module(
        "planter",
        f"""
        import os
        from braket_async.jobs import save_job_checkpoint
        results = os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"]
        os.symlink({str(secret)!r}, os.path.join(results, "results.json"))
        os.symlink({str(outside)!r}, os.path.join(results, "escape"))
        os.symlink("../x", os.path.join(results, "up"))
        with open(os.path.join(results, "log.txt"), "w") as file:
            file.write("not the log")
        with open(os.path.join(results, "metadata.json"), "w") as file:
            file.write("{{}}")
        with open(os.path.join(results, "checkpoints"), "w") as file:
            file.write("x")
        with open(os.path.join(results, "kept.txt"), "w") as file:
            file.write("kept")
        os.symlink("kept.txt", os.path.join(results, "inside"))
        save_job_checkpoint({{"step": 1}})
        print("planted")
        """,
    )
    job = await LocalQuantumJob.create(DEVICE, source, job_name="planter", root=jobs_root)
    assert await job.wait(poll_timeout_seconds=30) is JobState.FAILED
    reason = (await job.metadata())["failureReason"]
    for name in ("results.json", "escape", "up", "log.txt", "metadata.json", "checkpoints"):
        assert f"model/{name}" in reason
    folder = jobs_root / "planter"
    assert (folder / "kept.txt").read_text() == "kept"
    assert os.readlink(folder / "inside") == "kept.txt"
    assert not (folder / "results.json").exists()
    assert not (folder / "escape").exists()
    assert (folder / "checkpoints" / "planter.json").is_file()
    assert job.run_log.startswith("planted\nbraket_async: output refused: ")
    assert json.loads((folder / "metadata.json").read_text())["status"] == "FAILED"
    assert secret.read_text() == "do not read"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


async def test_a_results_file_that_is_not_a_result_raises(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module(
        "badresult",
        """
        import os
        path = os.path.join(os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"], "results.json")
        if os.environ["AMZN_BRAKET_JOB_NAME"] == "latin":
            open(path, "wb").write(b'{"x": "\\xe9"}')
        else:
            os.mkdir(path)
        """,
    )
    latin = await LocalQuantumJob.create(DEVICE, source, job_name="latin", root=jobs_root)
    with pytest.raises(ResultError, match=r"results\.json is not UTF-8"):
        await latin.result()
    folder = await LocalQuantumJob.create(DEVICE, source, job_name="folder", root=jobs_root)
    with pytest.raises(ResultError, match="not a file"):
        await folder.result()


async def test_attaching_to_what_is_not_a_job_raises(jobs_root: Path) -> None:
    with pytest.raises(JobNotFoundError, match="not a local job"):
        LocalQuantumJob("local:job/bin", root="/usr")
    corrupt = jobs_root / "corrupt"
    corrupt.mkdir()
    (corrupt / "metadata.json").write_text("{not json")
    with pytest.raises(JobNotFoundError, match=r"metadata\.json is not a readable job record"):
        LocalQuantumJob("local:job/corrupt", root=jobs_root)


async def test_a_missing_workspace_root_fails_with_a_final_record(
    write_module: WriteModule, jobs_root: Path, tmp_path: Path
) -> None:
    from braket_async.errors import ContainerError
    from braket_async.runtimes import ProcessRuntime

    source = write_module("noop", "print('never')\n")
    runtime = ProcessRuntime(workspace_root=tmp_path / "missing")
    with pytest.raises(ContainerError, match="missing"):
        await LocalQuantumJob.create(
            DEVICE, source, job_name="nowhere", runtime=runtime, root=jobs_root
        )
    job = LocalQuantumJob("local:job/nowhere", root=jobs_root)
    assert await job.state() is JobState.FAILED
    assert "missing" in (await job.metadata())["failureReason"]


async def test_a_fifty_megabyte_line_is_read_whole(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module(
        "longline",
        """
        import sys
        sys.stdout.write("x" * (50 << 20))
        sys.stdout.flush()
        """,
    )
    job = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    lines = await job.logs(wait=True).lines()
    assert [len(line) for line in lines] == [50 << 20]


async def test_a_folder_source_with_requirements_gets_a_cached_environment(
    tmp_path: Path, jobs_root: Path
) -> None:
    from support.wheels import build_wheel

    from braket_async.runtimes import ProcessRuntime

    wheel = build_wheel(tmp_path)
    source = tmp_path / "algo"
    source.mkdir()
    (source / "__init__.py").write_text("")
    (source / "requirements.txt").write_text(f"--no-index\n{wheel}\n")
    (source / "main.py").write_text(
        "import tinypkg\nfrom braket_async.jobs import save_job_result\n"
        "save_job_result({'value': tinypkg.VALUE})\n"
    )
    cache = tmp_path / "environments"
    runtime = ProcessRuntime(environment_cache=cache)
    logs = []
    for name in ("first", "second"):
        job = await LocalQuantumJob.create(
            DEVICE, source, "algo.main", job_name=name, runtime=runtime, root=jobs_root
        )
        assert await job.result() == {"value": 42}
        logs.append(job.run_log)
    await runtime.aclose()
    assert "installing algo/requirements.txt into the job environment" in logs[0]
    assert "Successfully installed tinypkg-1.0" in logs[0]
    assert "using the cached job environment" in logs[1]
    # The interpreter that runs this test never got the package.
    probe = await anyio.run_process(
        [sys.executable, "-c", "import tinypkg"], check=False, stderr=subprocess.DEVNULL
    )
    assert probe.returncode != 0


async def test_image_uri_on_the_process_runtime_is_refused(
    write_module: WriteModule, jobs_root: Path
) -> None:
    from braket_async.errors import ConfigurationError

    source = write_module("noop", "pass\n")
    with pytest.raises(ConfigurationError, match="process runtime runs no container"):
        await LocalQuantumJob.create(DEVICE, source, image_uri="img:1", root=jobs_root)
    assert list(jobs_root.iterdir()) == []


async def test_a_local_job_starts_from_another_jobs_checkpoints(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module(
        "counter",
        """
        from braket_async.jobs import load_job_checkpoint, save_job_checkpoint, save_job_result
        try:
            step = load_job_checkpoint("first")["step"]
        except FileNotFoundError:
            step = 0
        save_job_checkpoint({"step": step + 1}, checkpoint_file_suffix="")
        save_job_result({"step": step + 1})
        """,
    )
    first = await LocalQuantumJob.create(DEVICE, source, job_name="first", root=jobs_root)
    assert await first.result() == {"step": 1}
    second = await LocalQuantumJob.create(
        DEVICE,
        source,
        job_name="second",
        root=jobs_root,
        copy_checkpoints_from_job="local:job/first",
    )
    assert await second.result() == {"step": 2}


async def test_an_aws_session_gives_the_job_its_credentials_and_nothing_else_holds_them(
    write_module: WriteModule, jobs_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from braket_async.aws import AwsSession

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSESSION")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-of-the-session")
    source = write_module(
        "creds",
        """
        import os
        from braket_async.jobs import save_job_result
        save_job_result({k: os.environ.get(k) for k in (
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
        """,
    )
    async with AwsSession(region="eu-west-2") as session:
        job = await LocalQuantumJob.create(
            DEVICE, source, job_name="creds", root=jobs_root, aws_session=session
        )
        assert await job.result() == {
            "AWS_ACCESS_KEY_ID": "AKIDSESSION",
            "AWS_SECRET_ACCESS_KEY": "s3cr3t-of-the-session",
            "AWS_DEFAULT_REGION": "eu-west-2",
        }
    for path in (jobs_root / "creds").rglob("*"):
        if path.is_file() and path.name != "results.json":
            assert b"s3cr3t" not in path.read_bytes(), path


async def test_log_events_keep_the_time_they_were_logged(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module("stamps", "print('one', flush=True)\nprint('two')\n")
    before = time.time()
    job = await LocalQuantumJob.create(DEVICE, source, job_name="stamps", root=jobs_root)
    live = [event async for event in job.logs(wait=True)]
    assert [event.message for event in live] == ["one", "two"]
    assert all(before <= event.timestamp <= time.time() for event in live)
    assert {event.instance for event in live} == {"algo-1"}
    late = [event async for event in LocalQuantumJob(job.arn, root=jobs_root).logs()]
    assert late == live


@pytest.mark.parametrize("with_lock", [True, False])
async def test_a_job_whose_creator_died_before_its_first_record_ends_failed(
    jobs_root: Path, with_lock: bool
) -> None:
    # What `kill -9` of a creator between making the folder and writing the record leaves.
    private = jobs_root / "cutoff" / ".braket_async"
    private.mkdir(parents=True)
    if with_lock:
        (private / "lock").touch()
    (jobs_root / "cutoff" / "metadata.json.partial").write_text('{"status": "QUEUED"')
    job = LocalQuantumJob("local:job/cutoff", root=jobs_root)
    assert await job.state() is JobState.FAILED
    reason = (await job.metadata())["failureReason"]
    assert reason.startswith("The program that created this job exited before the job started")
    with pytest.raises(JobFailedError):
        await job.result()
