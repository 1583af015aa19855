"""DockerRuntime against a real daemon and the test image, through the runtime seam."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiodocker
import anyio
import anyio.abc
import anyio.lowlevel
import pytest
from aiodocker.exceptions import DockerError
from support.docker import (
    LOOPBACK_REGISTRY,
    TEST_IMAGE,
    JobFactory,
    JobRecord,
    derived_image,
    job_containers,
    run_job,
)

from braket_async.errors import (
    ClosedError,
    ConfigurationError,
    ContainerError,
    RuntimeUnavailableError,
)
from braket_async.runtimes._base import JobSpec
from braket_async.runtimes._docker import JOB_ARN_LABEL, JOB_LABEL, DockerRuntime
from braket_async.runtimes._file_stream import UNPACK
from braket_async.runtimes._layout import bootstrap_command

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

Run = Callable[[JobSpec], Awaitable[JobRecord]]

# A job that says it is ready and then blocks until it is killed (without sleeping).
BLOCKING_JOB = """
    import threading
    print("ready", flush=True)
    threading.Event().wait()
"""


def persisted(path: Path) -> dict[str, object]:
    document = json.loads(path.read_text())
    assert document["braketSchemaHeader"] == {
        "name": "braket.jobs_data.persisted_job_data",
        "version": "1",
    }
    assert document["dataFormat"] == "plaintext"
    data: dict[str, object] = document["dataDictionary"]
    return data


async def test_job_prints_lines_and_saves_a_result(jobs: JobFactory, run: Run) -> None:
    spec = jobs.spec(
        """
        import sys
        from braket_async.jobs import save_job_result
        print("hello from the job")
        print("to stderr", file=sys.stderr)
        save_job_result({"answer": 42})
        """
    )
    record = await run(spec)
    assert "hello from the job" in record.lines
    assert "to stderr" in record.lines
    assert record.exit_code == 0
    assert record.failure is None
    assert persisted(record.results / "results.json") == {"answer": 42}
    assert record.checkpoints.is_dir()


async def test_output_is_complete_and_in_order(jobs: JobFactory, run: Run) -> None:
    count = 100_000
    record = await run(jobs.spec(f"for i in range({count}): print(f'line {{i}}')"))
    assert record.exit_code == 0
    assert record.lines == [f"line {i}" for i in range(count)]


async def test_stderr_lines_are_complete_and_in_order(jobs: JobFactory, run: Run) -> None:
    record = await run(
        jobs.spec(
            """
            import sys
            for i in range(20_000):
                print(f"out {i}")
                print(f"err {i}", file=sys.stderr)
            """
        )
    )
    assert [line for line in record.lines if line.startswith("out ")] == [
        f"out {i}" for i in range(20_000)
    ]
    assert [line for line in record.lines if line.startswith("err ")] == [
        f"err {i}" for i in range(20_000)
    ]
    assert len(record.lines) == 40_000


async def test_partial_long_and_undecodable_lines(jobs: JobFactory, run: Run) -> None:
    # Written in pieces, so that the daemon logs partial lines; a line longer than the
    # daemon's 16 KiB log buffer arrives in several frames.
    spec = jobs.spec(
        """
        import sys
        out = sys.stdout.buffer
        out.write(b"first "); out.flush()
        out.write(b"half\\n"); out.flush()
        out.write(b"bad \\xff\\xfe bytes\\r\\n"); out.flush()
        out.write(b"x" * 100_000 + b"\\n"); out.flush()
        out.write("caf\\u00e9\\n".encode()); out.flush()
        out.write(b"no line end"); out.flush()
        """
    )
    record = await run(spec)
    assert record.lines == [
        "first half",
        "bad \ufffd\ufffd bytes",
        "x" * 100_000,
        "café",
        "no line end",
    ]


@pytest.mark.parametrize(
    ("source", "exit_code", "reason"),
    [
        ("import sys; sys.exit(3)", 3, "AlgorithmError: exit code: 3"),
        ("raise ValueError('bad input')", 1, "AlgorithmError: ValueError: bad input"),
        ("print('fine')", 0, None),
    ],
)
async def test_exit_codes_and_failure_reasons(
    jobs: JobFactory, run: Run, source: str, exit_code: int, reason: str | None
) -> None:
    record = await run(jobs.spec(source))
    assert record.exit_code == exit_code
    if reason is None:
        assert record.failure is None
    else:
        assert record.failure is not None
        assert record.failure.startswith(reason)
        assert "\n" not in record.failure


async def test_checkpoints_go_in_and_come_out(jobs: JobFactory, run: Run, tmp_path: Path) -> None:
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "note.txt").write_text("from an earlier run")
    spec = jobs.spec(
        """
        import os
        from braket_async.jobs import get_checkpoint_dir, save_job_checkpoint
        folder = get_checkpoint_dir()
        print("checkpoint dir", folder)
        print("found", open(os.path.join(folder, "note.txt")).read())
        save_job_checkpoint({"step": 7}, checkpoint_file_suffix="s7")
        os.makedirs(os.path.join(folder, "nested"))
        with open(os.path.join(folder, "nested", "raw.bin"), "wb") as f:
            f.write(bytes(range(256)))
        with open("/opt/ml/model/extra.txt", "w") as f:
            f.write("more output")
        """,
        checkpoint_path="/opt/custom/ckpt",
        checkpoint_input=earlier,
    )
    record = await run(spec)
    assert record.exit_code == 0, record.lines
    assert "checkpoint dir /opt/custom/ckpt" in record.lines
    assert "found from an earlier run" in record.lines
    checkpoints = record.checkpoints
    assert persisted(checkpoints / f"{spec.job_name}_s7.json") == {"step": 7}
    assert (checkpoints / "note.txt").read_text() == "from an earlier run"
    assert (checkpoints / "nested" / "raw.bin").read_bytes() == bytes(range(256))
    assert (record.results / "extra.txt").read_text() == "more output"


async def test_hyperparameters_and_input_data_arrive(
    jobs: JobFactory, run: Run, tmp_path: Path
) -> None:
    data_file = tmp_path / "single.csv"
    data_file.write_text("a,b\n1,2\n")
    data_folder = tmp_path / "folder"
    (data_folder / "sub").mkdir(parents=True)
    (data_folder / "sub" / "deep.txt").write_text("deep")
    spec = jobs.spec(
        """
        import os
        from braket_async.jobs import get_hyperparameters, get_input_data_dir, save_job_result
        hp = get_hyperparameters()
        single = open(os.path.join(get_input_data_dir("single"), "single.csv")).read()
        deep = open(os.path.join(get_input_data_dir("folder"), "sub", "deep.txt")).read()
        save_job_result({"hp": hp, "single": single, "deep": deep})
        """,
        hyperparameters={"alpha": "0.5", "name": "wide"},
        input_data={"single": data_file, "folder": data_folder},
    )
    record = await run(spec)
    assert record.exit_code == 0, record.lines
    assert persisted(record.results / "results.json") == {
        "hp": {"alpha": "0.5", "name": "wide"},
        "single": "a,b\n1,2\n",
        "deep": "deep",
    }


async def test_environment_arrives_and_secrets_stay_off_command_lines(
    jobs: JobFactory,
    runtime: DockerRuntime,
    docker: aiodocker.Docker,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = f"secret-{secrets.token_hex(16)}"
    spec = jobs.spec(
        """
        import os
        print("var", os.environ["MY_SETTING"])
        print("secret present", os.environ["AWS_SECRET_ACCESS_KEY"].startswith("secret-"))
        for key in ("AMZN_BRAKET_JOB_NAME", "AMZN_BRAKET_DEVICE_ARN", "AMZN_BRAKET_CHECKPOINT_DIR"):
            print(key, os.environ[key])
        print("cwd", os.getcwd())
        """,
        environment={"AWS_SECRET_ACCESS_KEY": secret, "MY_SETTING": "value with spaces"},
        device="arn:aws:braket:::device/quantum-simulator/amazon/sv1",
    )
    caplog.set_level(logging.DEBUG)
    execution = await runtime.start(spec)
    try:
        lines = [line async for line in execution.output()]
        assert await execution.wait() == 0
        info = await docker.containers.get(execution.container_id)
    finally:
        await execution.aclose()
    assert "var value with spaces" in lines
    assert "secret present True" in lines
    assert f"AMZN_BRAKET_JOB_NAME {spec.job_name}" in lines
    assert f"AMZN_BRAKET_DEVICE_ARN {spec.device}" in lines
    assert "AMZN_BRAKET_CHECKPOINT_DIR /opt/jobs/checkpoints" in lines
    assert "cwd /opt/ml/code" in lines
    config = info["Config"]
    assert f"AWS_SECRET_ACCESS_KEY={secret}" in config["Env"]
    visible = json.dumps(
        [config["Cmd"], config["Entrypoint"], info["Args"], info["Path"], config["Labels"]]
    )
    assert secret not in visible
    assert config["Cmd"] == [
        *bootstrap_command("python3", prelude=UNPACK),
        "--ml-root",
        "/opt/ml",
        "--relay-output",
    ]
    assert "/opt/braket_async/lib/braket_async/jobs" in config["Cmd"][2]
    assert config["WorkingDir"] == ""  # the bootstrap goes there (cwd above)
    assert config["Labels"][JOB_LABEL] == spec.job_name
    assert config["Labels"][JOB_ARN_LABEL] == spec.job_arn
    assert info["HostConfig"]["NetworkMode"] == "none"
    assert caplog.records, "the runtime should log what it does (without secrets)"
    assert secret not in caplog.text


async def test_no_network_in_the_container(jobs: JobFactory, run: Run) -> None:
    record = await run(
        jobs.spec(
            """
            import socket
            names = [name for _, name in socket.if_nameindex()]
            print("interfaces", sorted(names))
            """
        )
    )
    assert record.lines == ["interfaces ['lo']"]


async def test_kill_stops_the_job_and_aclose_removes_the_container(
    jobs: JobFactory, runtime: DockerRuntime, docker: aiodocker.Docker
) -> None:
    execution = await runtime.start(jobs.spec(BLOCKING_JOB))
    try:
        lines = execution.output()
        assert await anext(lines) == "ready"
        info = await docker.containers.get(execution.container_id)
        assert info["State"]["Running"] is True
        await execution.kill()
        assert [line async for line in lines] == []
        assert await execution.wait() == 137  # SIGKILL
        info = await docker.containers.get(execution.container_id)
        assert info["State"]["Running"] is False
        await execution.kill()  # idempotent, also after the end
    finally:
        await execution.aclose()
    with pytest.raises(DockerError) as missing:
        await docker.containers.get(execution.container_id)
    assert missing.value.status == 404
    await execution.aclose()  # idempotent
    await execution.kill()  # harmless once removed
    assert await execution.wait() == 137  # remembered


async def test_cancelling_the_reader_leaves_no_container(
    jobs: JobFactory, runtime: DockerRuntime, docker: aiodocker.Docker
) -> None:
    spec = jobs.spec(BLOCKING_JOB)
    ready = anyio.Event()
    seen: list[str] = []

    async def owner() -> None:
        execution = await runtime.start(spec)
        try:
            async for line in execution.output():
                seen.append(line)
                ready.set()
        finally:
            await execution.aclose()

    async with anyio.create_task_group() as group:
        group.start_soon(owner)
        await ready.wait()
        assert await job_containers(docker, spec.job_name) != []
        group.cancel_scope.cancel()
    assert seen == ["ready"]
    assert await job_containers(docker, spec.job_name) == []


async def test_closing_the_runtime_removes_containers_of_open_executions(
    jobs: JobFactory, docker: aiodocker.Docker
) -> None:
    spec = jobs.spec(BLOCKING_JOB)
    async with DockerRuntime(image_uri=TEST_IMAGE) as runtime:
        execution = await runtime.start(spec)
        assert await anext(execution.output()) == "ready"
    assert await job_containers(docker, spec.job_name) == []
    await execution.aclose()
    with pytest.raises(ClosedError):
        await runtime.start(spec)
    with pytest.raises(ClosedError):
        await runtime.prepare(spec)


async def test_output_is_read_once_and_not_after_close(
    jobs: JobFactory, runtime: DockerRuntime, tmp_path: Path
) -> None:
    execution = await runtime.start(jobs.spec("print('x')"))
    try:
        assert [line async for line in execution.output()] == ["x"]
        with pytest.raises(ClosedError):
            execution.output()
    finally:
        await execution.aclose()
    with pytest.raises(ClosedError):
        await execution.collect(tmp_path / "late")


async def test_jobs_run_concurrently(jobs: JobFactory, run: Run) -> None:
    specs = [jobs.spec(f"print('job {i}')") for i in range(4)]
    records: list[JobRecord] = []

    async def one(spec: JobSpec) -> None:
        records.append(await run(spec))

    async with anyio.create_task_group() as group:
        for spec in specs:
            group.start_soon(one, spec)
    assert sorted(line for record in records for line in record.lines) == [
        f"job {i}" for i in range(4)
    ]


async def test_missing_image_is_reported_with_the_fix(jobs: JobFactory) -> None:
    # The registry part keeps the daemon's pull attempt on loopback (no DNS lookup).
    image = f"{LOOPBACK_REGISTRY}/braket-async-test:missing-{secrets.token_hex(4)}"
    spec = jobs.spec("pass")
    runtime = DockerRuntime(image_uri=image, local_container_update=True)
    runtime.pull_timeout = 5.0
    async with runtime:
        with pytest.raises(RuntimeUnavailableError) as prepared:
            await runtime.prepare(spec)
        message = str(prepared.value)
        assert image in message
        assert "docker pull" in message
        assert "docker load" in message
        assert "image_uri" in message
        with pytest.raises(RuntimeUnavailableError, match="docker pull"):
            await runtime.start(spec)


async def test_default_image_is_the_braket_base_image(
    jobs: JobFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    runtime = DockerRuntime(local_container_update=False)
    spec = jobs.spec("pass")
    image = "292282985366.dkr.ecr.eu-north-1.amazonaws.com/amazon-braket-base-jobs:latest"
    assert runtime.image_for(spec) == image
    monkeypatch.setenv("AWS_REGION", "ap-south-1")  # a region without the base image
    with pytest.raises(ConfigurationError, match="not available in ap-south-1: pass image_uri"):
        runtime.image_for(spec)
    assert runtime.image_for(jobs.spec("pass", image_uri="mine:1")) == "mine:1"
    monkeypatch.delenv("AWS_REGION")
    async with runtime:
        with pytest.raises(RuntimeUnavailableError, match="amazon-braket-base-jobs"):
            await runtime.prepare(spec)


async def test_unreachable_daemon_is_reported_with_the_fix(
    jobs: JobFactory, tmp_path: Path
) -> None:
    url = f"unix://{tmp_path}/no-docker-here.sock"
    async with DockerRuntime(image_uri=TEST_IMAGE, docker_url=url) as runtime:
        with pytest.raises(RuntimeUnavailableError) as prepared:
            await runtime.prepare(jobs.spec("pass"))
        message = str(prepared.value)
        assert "DOCKER_HOST" in message
        assert 'runtime="process"' in message
        with pytest.raises(RuntimeUnavailableError):
            await runtime.start(jobs.spec("pass"))


async def test_update_without_a_registry_runs_the_local_image_and_tries_once(
    jobs: JobFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture, docker: aiodocker.Docker
) -> None:
    caplog.set_level(logging.INFO, logger="braket_async.runtimes._docker")
    # The test image under a name whose registry is a closed port on loopback: the
    # update attempt fails there at once, and never looks a registry up elsewhere.
    # A tag of its own: updates are tried once per image and process.
    repository, tag = f"{LOOPBACK_REGISTRY}/braket-async-test", f"once-{secrets.token_hex(4)}"
    await docker.images.tag(TEST_IMAGE, repo=repository, tag=tag)
    runtime = DockerRuntime(image_uri=f"{repository}:{tag}", local_container_update=True)
    runtime.pull_timeout = 5.0
    async with runtime:
        for i in range(2):
            spec = jobs.spec(f"print('run {i}')")
            await runtime.prepare(spec)
            record = await run_job(runtime, spec, tmp_path / f"out-{i}")
            assert record.lines == [f"run {i}"]
    attempts = [r for r in caplog.records if "could not update image" in r.getMessage()]
    assert len(attempts) == 1  # no registry here: one failed attempt, then the local image
    async with DockerRuntime(image_uri=f"{repository}:{tag}") as another:
        await another.prepare(jobs.spec("pass"))
    attempts = [r for r in caplog.records if "could not update image" in r.getMessage()]
    assert len(attempts) == 1  # nor again for another runtime of this process
    await docker.images.delete(f"{repository}:{tag}")


async def test_failure_after_create_removes_the_container(
    jobs: JobFactory, docker: aiodocker.Docker
) -> None:
    # An image in which `python3` cannot be found: the daemon creates the container but
    # refuses to start it.
    spec = jobs.spec("pass")
    async with (
        derived_image(docker, "ENV PATH=/nowhere") as image,
        DockerRuntime(image_uri=image, local_container_update=False) as runtime,
    ):
        await runtime.prepare(spec)
        with pytest.raises(ContainerError, match="python3"):
            await runtime.start(spec)
        assert await job_containers(docker, spec.job_name) == []


async def test_a_python_that_dies_before_reading_its_files_fails_the_job_cleanly(
    jobs: JobFactory, docker: aiodocker.Docker, tmp_path: Path
) -> None:
    # The image's python3 exits at once, before it reads the job's files from its stdin:
    # the job fails with its exit code, nothing is left and nothing waits for the rest.
    (tmp_path / "big.bin").write_bytes(os.urandom(4 << 20))  # more than the buffers hold
    spec = jobs.spec("print('never')", input_data={"big": tmp_path / "big.bin"})
    files = {"/early/python3": b"#!/bin/sh\nexit 3\n"}
    async with (
        derived_image(docker, "ENV PATH=/early:/usr/bin:/bin", files) as image,
        DockerRuntime(image_uri=image, local_container_update=False) as runtime,
    ):
        await runtime.prepare(spec)
        with anyio.fail_after(30):  # the daemon would hold the rest unread for minutes
            record = await run_job(runtime, spec, tmp_path / "out")
        assert record.exit_code == 3
        assert record.lines == []
        assert await job_containers(docker, spec.job_name) == []


async def test_the_images_python_path_is_kept(
    jobs: JobFactory, docker: aiodocker.Docker, tmp_path: Path
) -> None:
    files = {"/extra/image_module.py": b"WHERE = 'from the image'\n"}
    spec = jobs.spec(
        """
        import os, image_module
        print(image_module.WHERE)
        print(os.environ["PYTHONPATH"])
        """
    )
    async with (
        derived_image(docker, "ENV PYTHONPATH=/extra", files) as image,
        DockerRuntime(image_uri=image, local_container_update=False) as runtime,
    ):
        record = await run_job(runtime, spec, tmp_path / "out")
    assert record.lines == ["from the image", "/opt/braket_async/lib:/extra"]


@pytest.mark.parametrize("user", ["", "65534"])
async def test_the_job_gets_its_files_whatever_user_the_image_runs_as(
    jobs: JobFactory, docker: aiodocker.Docker, tmp_path: Path, user: str
) -> None:
    # Root images unpack the job's files from stdin; others get them through the archive
    # API before the start (a non-root user could not write them where they go).
    (tmp_path / "input.txt").write_text("input data")
    spec = jobs.spec(
        """
        import json, os, sys
        from braket_async.jobs import save_job_result
        print("uid", os.getuid(), "cwd", os.getcwd(), "stdin", repr(sys.stdin.read()))
        print(open(os.environ["AMZN_BRAKET_INPUT_DIR"] + "/input/input.txt").read())
        os.makedirs("/opt/ml/model/deep", exist_ok=True)
        open("/opt/ml/model/deep/out.txt", "w").write("written")
        save_job_result({"user": os.getuid()})
        """,
        input_data={"input": tmp_path / "input.txt"},
    )
    change = f"USER {user}" if user else "ENV UNUSED=1"
    async with (
        derived_image(docker, change) as image,
        DockerRuntime(image_uri=image, local_container_update=False) as runtime,
    ):
        await runtime.prepare(spec)
        record = await run_job(runtime, spec, tmp_path / "out")
    uid = int(user or "0")
    assert record.exit_code == 0, record.lines
    # Nothing of how the files came is left on the job's standard input.
    assert record.lines[:2] == [f"uid {uid} cwd /opt/ml/code stdin ''", "input data"]
    assert (record.results / "deep" / "out.txt").read_text() == "written"
    assert json.loads((record.results / "results.json").read_text())["dataDictionary"] == {
        "user": uid
    }


async def test_collect_copes_with_folders_the_job_removed(jobs: JobFactory, run: Run) -> None:
    record = await run(
        jobs.spec(
            """
            import shutil
            shutil.rmtree("/opt/ml/model")
            shutil.rmtree("/opt/jobs/checkpoints")
            print("removed")
            """
        )
    )
    assert record.lines == ["removed"]
    assert record.exit_code == 0
    assert record.failure is None
    assert not (record.results / "results.json").exists()


async def test_failure_file_written_by_the_job_is_reported(jobs: JobFactory, run: Run) -> None:
    # The SageMaker convention: a job may write its own reason, over several lines.
    record = await run(
        jobs.spec(
            """
            with open("/opt/ml/output/failure", "w") as f:
                f.write("CustomError: first line\\nsecond line\\n")
            """
        )
    )
    assert record.exit_code == 0
    assert record.failure == "CustomError: first line"


async def test_collect_after_the_container_vanished_is_an_error(
    jobs: JobFactory, runtime: DockerRuntime, docker: aiodocker.Docker, tmp_path: Path
) -> None:
    execution = await runtime.start(jobs.spec("print('x')"))
    try:
        assert [line async for line in execution.output()] == ["x"]
        assert await execution.wait() == 0
        await docker.containers.container(execution.container_id).delete(force=True)
        with pytest.raises(ContainerError, match="No such container"):
            await execution.collect(tmp_path / "out")
    finally:
        await execution.aclose()  # the container is gone already: nothing to do


async def test_a_registry_that_does_not_answer_costs_at_most_the_pull_timeout(
    jobs: JobFactory, docker: aiodocker.Docker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="braket_async.runtimes._docker")
    held: list[anyio.abc.SocketStream] = []

    async def hold(stream: anyio.abc.SocketStream) -> None:
        held.append(stream)
        async for _ in stream:  # read the request, never answer
            pass

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        image = f"127.0.0.1:{port}/braket-async-silent:v1"
        await docker.images.tag(TEST_IMAGE, image.rpartition(":")[0], tag="v1")
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(listener.serve, hold)
                runtime = DockerRuntime(image_uri=image)
                runtime.pull_timeout = 1.0
                async with runtime:
                    spec = jobs.spec("print('ran anyway')")
                    with anyio.fail_after(10):
                        await runtime.prepare(spec)
                    record = await run_job(runtime, spec, tmp_path / "out")
                group.cancel_scope.cancel()
        finally:
            for stream in held:
                await stream.aclose()
            await docker.images.delete(image)
    assert record.lines == ["ran anyway"]
    assert held, "the daemon should have tried the registry"
    assert any("no answer within 1 s" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("native", [False, True], ids=["anyio-scope", "task-cancel"])
@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.3])
async def test_cancelling_start_at_any_point_leaves_no_container(
    jobs: JobFactory, runtime: DockerRuntime, docker: aiodocker.Docker, delay: float, native: bool
) -> None:
    # The delays land in different steps: creation, copy, attach, start (or after it).
    # asyncio.wait_for cancels with Task.cancel(), which anyio's shields do not stop.
    spec = jobs.spec(BLOCKING_JOB)
    execution = None
    if native:
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            execution = await asyncio.wait_for(runtime.start(spec), delay)
    else:
        with anyio.move_on_after(delay):
            execution = await runtime.start(spec)
    if execution is not None:
        await execution.aclose()
    assert await job_containers(docker, spec.job_name) == []


async def test_repeated_task_cancel_during_cleanup_still_removes_the_container(
    jobs: JobFactory, runtime: DockerRuntime, docker: aiodocker.Docker
) -> None:
    spec = jobs.spec(BLOCKING_JOB)
    ready = asyncio.Event()

    async def owner() -> None:
        execution = await runtime.start(spec)
        try:
            async for _ in execution.output():
                ready.set()
        finally:
            await execution.aclose()

    task = asyncio.ensure_future(owner())
    await ready.wait()
    for _ in range(5):  # cancel again while the cleanup is under way
        task.cancel()
        await anyio.lowlevel.checkpoint()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await job_containers(docker, spec.job_name) == []
