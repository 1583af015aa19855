"""Docker local jobs against what happens to real programs: the owner killed, a second
process cancelling, jobs that leave children behind."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import aiodocker
import pytest
from support.docker import TEST_IMAGE, job_containers
from support.owning import first_line, record, start_owner

from braket_async import JobState, LocalQuantumJob

pytestmark = pytest.mark.anyio

DOCKER = {
    "runtime": "docker",
    "image_uri": TEST_IMAGE,
    "network_mode": "none",
    "local_container_update": False,
}

BLOCKING = """
import subprocess, time
subprocess.Popen(["sleep", "300"], start_new_session=True)
print("started", flush=True)
while True:
    time.sleep(3600)
"""


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / "src" / f"{name}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


async def test_owner_killed_with_sigkill_removes_the_container(
    tmp_path: Path, docker: aiodocker.Docker
) -> None:
    source = write(tmp_path, "blocking", BLOCKING)
    owner = start_owner(tmp_path, source, tmp_path, **DOCKER)
    job = LocalQuantumJob("local:job/owned", root=tmp_path)
    assert await first_line(job) == "started"
    container = record(tmp_path / "owned")["containerId"]
    assert await job_containers(docker, "owned") == [container]
    owner.kill()
    owner.communicate()
    assert await job.wait(poll_timeout_seconds=60) is JobState.FAILED
    assert "created this job" in (await job.metadata())["failureReason"]
    assert await job_containers(docker, "owned") == []


async def test_another_process_cancels_a_docker_job(
    tmp_path: Path, docker: aiodocker.Docker
) -> None:
    source = write(tmp_path, "blocking", BLOCKING)
    owner = start_owner(tmp_path, source, tmp_path, **DOCKER)
    try:
        job = LocalQuantumJob("local:job/owned", root=tmp_path)
        assert await first_line(job) == "started"
        assert await job.cancel(wait=True) is JobState.CANCELLED
        assert await job_containers(docker, "owned") == []
        owner.communicate(timeout=60)
        assert owner.returncode == 0
    finally:
        owner.kill()


async def test_a_docker_job_ends_with_its_entry_point(
    tmp_path: Path, docker: aiodocker.Docker
) -> None:
    source = write(
        tmp_path,
        "leaver",
        """
        import subprocess
        subprocess.Popen(["sleep", "300"], start_new_session=True)
        subprocess.Popen(["sleep", "300"])
        print("leaving")
        """,
    )
    started = time.monotonic()
    job = await LocalQuantumJob.create(
        "local:none/none", source, job_name="leaver", root=tmp_path, **DOCKER
    )
    assert await job.wait(poll_timeout_seconds=60) is JobState.COMPLETED
    assert time.monotonic() - started < 60
    assert job.run_log == "leaving\n"
    assert await job_containers(docker, "leaver") == []


async def test_a_folder_source_with_requirements_runs_in_docker(
    tmp_path: Path, docker: aiodocker.Docker
) -> None:
    from support.wheels import build_wheel

    source = tmp_path / "algo"
    source.mkdir()
    wheel = build_wheel(source)
    (source / "__init__.py").write_text("")
    (source / "requirements.txt").write_text(f"--no-index\n./{wheel.name}\n")
    (source / "main.py").write_text(
        "import tinypkg\nfrom braket.jobs import save_job_result\n"
        "save_job_result({'value': tinypkg.VALUE})\n"
    )
    job = await LocalQuantumJob.create(
        "local:none/none", source, "algo.main", job_name="deps", root=tmp_path, **DOCKER
    )
    assert await job.result() == {"value": 42}, job.run_log
    assert "installing algo/requirements.txt into the job environment" in job.run_log
    assert "Successfully installed tinypkg-1.0" in job.run_log


async def test_links_and_names_planted_in_a_docker_jobs_outputs_are_refused(
    tmp_path: Path, docker: aiodocker.Docker
) -> None:
    # The links name host paths: the container cannot reach them, the copy-out could.
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("do not read")
    source = write(
        tmp_path,
        "planter",
        f"""
        import os
        from braket_async.jobs import save_job_checkpoint
        results = os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"]
        os.symlink({str(secret)!r}, os.path.join(results, "results.json"))
        os.symlink({str(outside)!r}, os.path.join(results, "escape"))
        os.symlink("../x", os.path.join(results, "up"))
        os.mkfifo(os.path.join(results, "pipe"))
        for name, text in (("log.txt", "not the log"), ("metadata.json", "{{}}"),
                           ("checkpoints", "x"), ("kept.txt", "kept")):
            with open(os.path.join(results, name), "w") as file:
                file.write(text)
        os.symlink("kept.txt", os.path.join(results, "inside"))
        save_job_checkpoint({{"step": 1}})
        print("planted")
        """,
    )
    root = tmp_path / "jobs"
    job = await LocalQuantumJob.create(
        "local:none/none", source, job_name="planter", root=root, **DOCKER
    )
    assert await job.wait(poll_timeout_seconds=60) is JobState.FAILED
    reason = (await job.metadata())["failureReason"]
    for name in ("results.json", "escape", "up", "pipe", "log.txt", "metadata.json", "checkpoints"):
        assert f"model/{name}" in reason, reason
    folder = root / "planter"
    assert (folder / "kept.txt").read_text() == "kept"
    assert (folder / "inside").is_symlink()
    assert not (folder / "results.json").exists()
    assert not (folder / "escape").exists()
    assert (folder / "checkpoints" / "planter.json").is_file()
    assert job.run_log.startswith("planted\nbraket_async: output refused: ")
    assert secret.read_text() == "do not read"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert await job_containers(docker, "planter") == []


async def test_an_aws_session_gives_a_docker_job_its_credentials_only_in_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from braket_async.aws import AwsSession

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDDOCKER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-for-the-container")
    source = write(
        tmp_path,
        "creds",
        """
        import os
        from braket_async.jobs import save_job_result
        save_job_result({k: os.environ.get(k) for k in (
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
        """,
    )
    root = tmp_path / "jobs"
    async with AwsSession(region="eu-west-2") as session:
        job = await LocalQuantumJob.create(
            "local:none/none", source, job_name="creds", root=root, aws_session=session, **DOCKER
        )
        assert await job.result() == {
            "AWS_ACCESS_KEY_ID": "AKIDDOCKER",
            "AWS_SECRET_ACCESS_KEY": "s3cr3t-for-the-container",
            "AWS_DEFAULT_REGION": "eu-west-2",
        }
    for path in (root / "creds").rglob("*"):
        if path.is_file() and path.name != "results.json":
            assert b"s3cr3t" not in path.read_bytes(), path
