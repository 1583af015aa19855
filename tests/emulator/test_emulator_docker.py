"""The emulator running jobs in Docker: the image a job names, or the stand-in for
Braket's own images; the host network to reach the emulator; nothing of the host's
environment."""

from __future__ import annotations

import secrets
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import aiodocker
import anyio
import pytest
from support.aws import SV1, session_for
from support.docker import TEST_IMAGE, derived_image
from support.emulator_process import emulator_command, emulator_process

from braket_async import JobFailedError
from braket_async.aws import AwsQuantumJob, AwsSession
from braket_async.emulator import AwsEndpoint, RuntimeJobRunner
from braket_async.emulator.testing import EmulatorStack, clean_aws_environment, emulator_stack
from braket_async.runtimes import DockerRuntime

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

# Only the standard library: the test image has python3 and nothing else.
REPORTING_JOB = """
    import json, os, pathlib, sys, urllib.request
    from braket.jobs import save_job_result
    print("hello from the job")
    url = os.environ["AWS_ENDPOINT_URL_BRAKET"] + "/_emulator/stats"
    with urllib.request.urlopen(url, timeout=10) as answer:
        stats = json.load(answer)
    marker = pathlib.Path("/marker")
    save_job_result({
        "in_container": os.path.exists("/.dockerenv"),
        "python": sys.executable,
        "reached_emulator": "GetJob" in stats["operations"] or "CreateJob" in stats["operations"],
        "marker": marker.read_text() if marker.exists() else None,
        "operator_secret": os.environ.get("OPERATOR_SECRET"),
    })
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "algo.py"
    path.write_text(textwrap.dedent(REPORTING_JOB))
    return path


@pytest.fixture
async def docker() -> AsyncIterator[aiodocker.Docker]:
    client = aiodocker.Docker()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def ecr_image(docker: aiodocker.Docker) -> AsyncIterator[str]:
    """A user's own image as Braket names it (an ECR address), pulled already: the test
    image with a marker file."""
    async with derived_image(docker, "LABEL purpose=emulator-test", {"/marker": b"users"}) as local:
        repository = "123456789012.dkr.ecr.us-east-1.amazonaws.com/braket-async-emulator-test"
        tag = secrets.token_hex(4)
        await docker.images.tag(local, repo=repository, tag=tag)
        try:
            yield f"{repository}:{tag}"
        finally:
            await docker.images.delete(f"{repository}:{tag}")


async def docker_stack(
    moto_endpoint: str, braket_image: str | None
) -> AsyncIterator[EmulatorStack]:
    async with DockerRuntime(network_mode="host", local_container_update=False) as runtime:
        runner = RuntimeJobRunner(
            AwsEndpoint(endpoint_url=moto_endpoint), runtime=runtime, braket_image=braket_image
        )
        async with emulator_stack(aws_endpoint_url=moto_endpoint, runner=runner) as stack:
            yield stack


@pytest.fixture
async def stand_in_stack(moto_endpoint: str) -> AsyncIterator[EmulatorStack]:
    """Docker jobs; Braket's images stand in for by the test image."""
    async for stack in docker_stack(moto_endpoint, TEST_IMAGE):
        yield stack


@pytest.fixture
async def strict_stack(moto_endpoint: str) -> AsyncIterator[EmulatorStack]:
    """Docker jobs; no stand-in for Braket's images."""
    async for stack in docker_stack(moto_endpoint, None):
        yield stack


async def run(session: AwsSession, source: Path, **options: object) -> dict[str, object]:
    job = await AwsQuantumJob.create(SV1, source, aws_session=session, **options)  # type: ignore[arg-type]
    with anyio.fail_after(90):
        result = await job.result(poll_interval_seconds=0.1)
    lines = [event.message async for event in job.logs()]
    assert "hello from the job" in lines, lines
    return result


async def test_a_job_runs_in_the_image_it_names_and_reaches_the_emulator(
    stand_in_stack: EmulatorStack,
    source: Path,
    ecr_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPERATOR_SECRET", "of-the-emulator's-process")
    async with session_for(stand_in_stack) as session:
        result = await run(session, source, image_uri=ecr_image)
    assert result == {
        "in_container": True,
        "python": "/usr/bin/python3",
        "reached_emulator": True,
        "marker": "users",
        "operator_secret": None,
    }


async def test_a_job_of_braket_s_base_image_runs_in_the_stand_in(
    stand_in_stack: EmulatorStack, source: Path
) -> None:
    async with session_for(stand_in_stack) as session:
        result = await run(session, source)  # the base image of the session's region
    assert (result["in_container"], result["marker"]) == (True, None)


async def test_an_image_that_is_not_here_fails_the_job_with_the_reason(
    stand_in_stack: EmulatorStack, source: Path
) -> None:
    missing = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/not-pulled:{secrets.token_hex(4)}"
    async with session_for(stand_in_stack) as session:
        with pytest.raises(JobFailedError) as failed:
            await run(session, source, image_uri=missing)
    reason = failed.value.failure_reason or ""
    assert reason.startswith("ClientError: The Docker image " + missing), reason
    assert "not available locally" in reason


async def test_braket_images_without_a_stand_in_fail_saying_what_to_pass(
    strict_stack: EmulatorStack, source: Path
) -> None:
    async with session_for(strict_stack) as session:
        with pytest.raises(JobFailedError) as failed:
            await run(session, source)
    reason = failed.value.failure_reason or ""
    assert "amazon-braket-base-jobs" in reason, reason
    assert "start it with --docker-image IMAGE" in reason


async def test_the_command_line_runs_docker_jobs_with_the_image_given(source: Path) -> None:
    options = ("--port", "0", "--runtime", "docker", "--docker-image", TEST_IMAGE)
    async with emulator_process(*options) as emulator:
        assert "Docker containers" in emulator.notes["jobs run"]
        assert TEST_IMAGE in emulator.notes["jobs run"]
        async with emulator.session() as session:
            result = await run(session, source)
    assert (result["in_container"], result["reached_emulator"]) == (True, True)


async def test_the_command_line_refuses_a_docker_image_that_is_not_here() -> None:
    missing = f"braket-async-test:missing-{secrets.token_hex(4)}"
    code, out, err = await emulator_command(
        "--port",
        "0",
        "--runtime",
        "docker",
        "--docker-image",
        missing,
        environment=clean_aws_environment(),
    )
    assert (code, out) == (1, "")
    assert err.startswith(f"braket-async emulator: cannot start: The Docker image {missing} ")
    assert len(err.splitlines()) == 1
