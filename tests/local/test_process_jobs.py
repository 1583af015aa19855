"""LocalQuantumJob on the process runtime: the whole life of a job, for real."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from braket_async import (
    CheckpointConfig,
    ConfigurationError,
    JobCancelledError,
    JobFailedError,
    JobNotFoundError,
    JobState,
    JobTimeoutError,
    LocalQuantumJob,
    MetricType,
)
from braket_async.runtimes import ProcessRuntime

pytestmark = pytest.mark.anyio

DEVICE = "local:braket/braket.local.qubit"
WriteModule = Callable[[str, str], Path]

BLOCKING_JOB = """
    import os, sys, time
    print("pid", os.getpid(), flush=True)
    from braket_async.jobs import save_job_checkpoint
    save_job_checkpoint({"step": 1})
    print("ready", flush=True)
    while True:
        time.sleep(3600)  # the job itself waits; the test waits on its log line
"""


async def wait_for_line(job: LocalQuantumJob, prefix: str) -> str:
    async for event in job.logs(wait=True):
        if event.message.startswith(prefix):
            return event.message
    raise AssertionError(f"the job ended without printing {prefix!r}")


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_job_runs_and_returns_its_result(write_module: WriteModule, jobs_root: Path) -> None:
    source = write_module(
        "algo",
        """
        from braket_async.jobs import get_hyperparameters, get_job_name, save_job_result
        hp = get_hyperparameters()
        print("hello from", get_job_name())
        save_job_result({"doubled": int(hp["x"]) * 2})
        """,
    )
    job = await LocalQuantumJob.create(
        DEVICE, source, job_name="hello", hyperparameters={"x": 21}, root=jobs_root
    )
    assert job.arn == "local:job/hello"
    assert await job.result() == {"doubled": 42}
    assert await job.state() == JobState.COMPLETED == "COMPLETED"
    assert await job.logs().lines() == ["hello from hello"]
    assert (jobs_root / "hello" / "results.json").is_file()
    assert (jobs_root / "hello" / "log.txt").read_text() == "hello from hello\n"
    metadata = await job.metadata()
    assert metadata["jobName"] == "hello"
    assert metadata["jobArn"] == "local:job/hello"
    assert metadata["status"] == "COMPLETED"
    assert metadata["hyperParameters"] == {"x": "21"}
    assert metadata["deviceConfig"] == {"device": DEVICE}
    assert metadata["createdAt"] <= metadata["startedAt"] <= metadata["endedAt"]
    assert "failureReason" not in metadata


async def test_function_entry_point_gets_typed_hyperparameters(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module(
        "fn_algo",
        """
        from braket_async.jobs import save_job_result
        def start(shots: int, angle: float, name="x"):
            save_job_result({"shots": shots * 2, "angle": angle / 2, "name": name})
        """,
    )
    job = await LocalQuantumJob.create(
        DEVICE,
        source,
        entry_point="fn_algo:start",
        hyperparameters={"shots": 50, "angle": 1.5, "name": "q"},
        root=jobs_root,
    )
    assert await job.result() == {"shots": 100, "angle": 0.75, "name": "q"}


async def test_failing_job_raises_with_its_failure_reason(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module("bad", 'raise ValueError("bad input")\n')
    job = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    with pytest.raises(JobFailedError) as caught:
        await job.result()
    assert isinstance(caught.value, RuntimeError)
    assert caught.value.state == "FAILED"
    assert caught.value.failure_reason is not None
    assert "ValueError: bad input" in caught.value.failure_reason
    assert await job.state() == JobState.FAILED
    assert "Traceback" in job.run_log
    assert (await job.metadata())["failureReason"] == caught.value.failure_reason


async def test_cancel_stops_the_process_and_keeps_checkpoints(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module("blocking", BLOCKING_JOB)
    job = await LocalQuantumJob.create(DEVICE, source, job_name="blocker", root=jobs_root)
    pid = int((await wait_for_line(job, "pid")).split()[1])
    await wait_for_line(job, "ready")
    assert await job.state() == JobState.RUNNING
    assert await job.cancel(wait=True) == JobState.CANCELLED
    assert process_gone(pid)
    checkpoint = jobs_root / "blocker" / "checkpoints" / "blocker.json"
    assert json.loads(checkpoint.read_text())["dataDictionary"] == {"step": 1}
    with pytest.raises(JobCancelledError):
        await job.result()


async def test_cancelling_the_awaiting_task_leaves_no_process(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module("blocking", BLOCKING_JOB)
    task = asyncio.create_task(
        LocalQuantumJob.create(
            DEVICE, source, job_name="waited", root=jobs_root, wait_until_complete=True
        )
    )
    log = jobs_root / "waited" / "log.txt"
    # Follow the job through a second handle until it is ready, then cancel the waiter.
    while True:
        try:
            watcher = LocalQuantumJob("local:job/waited", root=jobs_root)
            break
        except JobNotFoundError:
            await asyncio.sleep(0)
    pid = int((await wait_for_line(watcher, "pid")).split()[1])
    await wait_for_line(watcher, "ready")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert process_gone(pid)
    assert await watcher.state() == JobState.CANCELLED
    assert "ready" in log.read_text()


async def test_leaving_the_scope_cancels_a_running_job(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module("blocking", BLOCKING_JOB)
    async with LocalQuantumJob.create(DEVICE, source, root=jobs_root) as job:
        pid = int((await wait_for_line(job, "pid")).split()[1])
    assert process_gone(pid)
    assert await job.state() == JobState.CANCELLED


async def test_timeout_raises_and_leaves_the_job_running(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module("blocking", BLOCKING_JOB)
    async with LocalQuantumJob.create(DEVICE, source, root=jobs_root) as job:
        await wait_for_line(job, "ready")
        with pytest.raises(JobTimeoutError) as caught:
            await job.result(poll_timeout_seconds=0.05)
        assert isinstance(caught.value, TimeoutError)
        assert await job.state() == JobState.RUNNING


async def test_every_log_line_reaches_every_follower_in_order(
    write_module: WriteModule, jobs_root: Path
) -> None:
    count = 20_000
    source = write_module("chatty", f"for i in range({count}):\n    print(i)\n")
    job = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    live = await job.logs(wait=True).lines()
    expected = [str(i) for i in range(count)]
    assert live == expected
    assert await job.logs(wait=True).lines() == expected
    reattached = LocalQuantumJob(job.arn, root=jobs_root)
    assert await reattached.logs().lines() == expected
    assert (job.folder / "log.txt").read_text().splitlines() == expected


async def test_printing_logs_writes_them_to_stdout(
    write_module: WriteModule, jobs_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_module("two_lines", 'print("one")\nprint("two")\n')
    job = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    await job.logs(wait=True)
    assert capsys.readouterr().out == "one\ntwo\n"


async def test_reattaching_after_the_end_reads_the_folder(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module(
        "result", "from braket_async.jobs import save_job_result\nsave_job_result(7)\n"
    )
    job = await LocalQuantumJob.create(DEVICE, source, job_name="later", root=jobs_root)
    await job.result()
    del job
    again = LocalQuantumJob("local:job/later", root=jobs_root)
    assert await again.state() == JobState.COMPLETED
    assert await again.result() == {"result": 7}
    assert (await again.metadata())["jobName"] == "later"
    with pytest.raises(JobNotFoundError):
        LocalQuantumJob("local:job/nothing-here", root=jobs_root)


async def test_input_data_and_checkpoint_path_reach_the_job(
    write_module: WriteModule, jobs_root: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "numbers.txt").write_text("1 2 3")
    single = tmp_path / "single.txt"
    single.write_text("x")
    source = write_module(
        "reader",
        """
        import os
        from braket_async.jobs import get_input_data_dir, save_job_result, get_checkpoint_dir
        with open(os.path.join(get_input_data_dir("numbers"), "numbers.txt")) as f:
            numbers = f.read()
        with open(os.path.join(get_input_data_dir("one"), "single.txt")) as f:
            single = f.read()
        save_job_result({"numbers": numbers, "single": single,
                         "checkpoints": get_checkpoint_dir().endswith("/opt/my/ckpt")})
        """,
    )
    job = await LocalQuantumJob.create(
        DEVICE,
        source,
        input_data={"numbers": data, "one": single},
        checkpoint_config=CheckpointConfig(local_path="/opt/my/ckpt"),
        root=jobs_root,
    )
    assert await job.result() == {"numbers": "1 2 3", "single": "x", "checkpoints": True}


async def test_metrics_are_parsed_from_the_log(write_module: WriteModule, jobs_root: Path) -> None:
    source = write_module(
        "metric",
        """
        from braket_async.jobs import log_metric
        for i in range(3):
            log_metric("energy", -i * 0.5, timestamp=100 + i, iteration_number=i)
        """,
    )
    job = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    await job.wait()
    by_iteration = await job.metrics(MetricType.ITERATION_NUMBER)
    assert by_iteration["iteration_number"] == [0, 1, 2]
    assert by_iteration["energy"] == [0.0, -0.5, -1.0]


async def test_pickled_results_need_allow_pickle(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module(
        "pickled",
        """
        from braket_async.jobs import save_job_result, PersistedJobDataFormat
        save_job_result({"value": {1, 2}}, data_format=PersistedJobDataFormat.PICKLED_V4)
        """,
    )
    job = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    with pytest.raises(RuntimeError, match="allow_pickle"):
        await job.result()
    assert await job.result(allow_pickle=True) == {"value": {1, 2}}


async def test_download_result_copies_outputs_elsewhere(
    write_module: WriteModule, jobs_root: Path, tmp_path: Path
) -> None:
    source = write_module(
        "result", "from braket_async.jobs import save_job_result\nsave_job_result(1)\n"
    )
    job = await LocalQuantumJob.create(DEVICE, source, job_name="copied", root=jobs_root)
    target = await job.download_result(tmp_path / "elsewhere")
    assert target == tmp_path / "elsewhere" / "copied"
    assert json.loads((target / "results.json").read_text())["dataDictionary"] == {"result": 1}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"job_name": "-bad"}, "Invalid job name"),
        ({"job_name": "x" * 51}, "Invalid job name"),
        ({"entry_point": "other"}, "not found in source_module"),
        ({"entry_point": "algo:"}, "Invalid entry point"),
        ({"input_data": "s3://bucket/key"}, "is in S3"),
        ({"input_data": {"../up": "."}}, "Invalid input channel name"),
        ({"input_data": "/does/not/exist"}, "does not exist"),
        ({"runtime": "vm"}, "Unknown runtime"),
        ({"environment": {"A=B": "x"}}, "Invalid environment variable"),
        ({"checkpoint_config": CheckpointConfig(local_path="relative")}, "absolute"),
    ],
)
async def test_bad_arguments_are_refused_before_anything_starts(
    write_module: WriteModule, jobs_root: Path, arguments: dict[str, object], message: str
) -> None:
    source = write_module("algo", "print('never')\n")
    with pytest.raises(ConfigurationError, match=message):
        await LocalQuantumJob.create(DEVICE, source, root=jobs_root, **arguments)  # type: ignore[arg-type]
    assert os.listdir(jobs_root) == []


async def test_an_existing_job_folder_is_refused(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module("algo", "print('once')\n")
    job = await LocalQuantumJob.create(DEVICE, source, job_name="twice", root=jobs_root)
    await job.wait()
    with pytest.raises(ConfigurationError, match="exists already"):
        await LocalQuantumJob.create(DEVICE, source, job_name="twice", root=jobs_root)


async def test_default_names_are_unique(write_module: WriteModule, jobs_root: Path) -> None:
    source = write_module("algo", "pass\n")
    jobs = await asyncio.gather(
        *(LocalQuantumJob.create(DEVICE, source, root=jobs_root) for _ in range(5))
    )
    assert len({job.name for job in jobs}) == 5
    assert all(job.name.startswith("process-") for job in jobs)
    for job in jobs:
        assert await job.wait() == JobState.COMPLETED


async def test_twenty_jobs_share_a_bounded_runtime(
    write_module: WriteModule, jobs_root: Path
) -> None:
    go = jobs_root / "go"
    source = write_module(
        "square",
        f"""
        import os, time
        from braket_async.jobs import get_hyperparameters, save_job_result
        n = int(get_hyperparameters()["n"])
        while not os.path.exists({str(go)!r}):  # held until the test has looked
            time.sleep(0.01)
        save_job_result({{"square": n * n}})
        """,
    )
    async with ProcessRuntime(max_concurrent_jobs=4) as runtime:
        jobs = [
            await LocalQuantumJob.create(
                DEVICE, source, hyperparameters={"n": n}, runtime=runtime, root=jobs_root
            )
            for n in range(20)
        ]
        states = [await job.state() for job in jobs]
        assert states.count(JobState.RUNNING) == 4
        assert states.count(JobState.QUEUED) == 16
        go.touch()
        results = await asyncio.gather(*(job.result() for job in jobs))
    assert [result["square"] for result in results] == [n * n for n in range(20)]


@pytest.mark.parametrize("shared", [True, False], ids=["waiting-for-a-slot", "own-runtime"])
async def test_a_create_cancelled_at_any_step_leaves_no_live_job(
    write_module: WriteModule, jobs_root: Path, shared: bool
) -> None:
    """Cancelled before ``create()`` returned, the caller holds no handle: whatever
    step the cancellation hit, the job it may have made must end, not wait on."""
    source = write_module("blocking", BLOCKING_JOB)
    async with ProcessRuntime(max_concurrent_jobs=1) as runtime:
        blocker = await LocalQuantumJob.create(DEVICE, source, runtime=runtime, root=jobs_root)
        # Every step while the job waits for the slot; steps further apart while a
        # supervisor of its own starts (each tried step starts and stops one).
        for steps in sorted({0, *(int(1.25**k) for k in range(80))}):
            call = asyncio.create_task(
                LocalQuantumJob.create(
                    DEVICE, source, runtime=runtime if shared else "process", root=jobs_root
                )
            )
            for _ in range(steps):
                await asyncio.sleep(0)  # a later step of the create each time
            if call.done():
                break  # every step before the create's end has been tried
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            for name in set(os.listdir(jobs_root)) - {blocker.name}:
                left = LocalQuantumJob(f"local:job/{name}", root=jobs_root)
                assert await left.state() is JobState.CANCELLED, (steps, name)
        else:
            raise AssertionError("the create never ended")
        assert steps > 2
        await (await call).cancel(wait=True)
        await blocker.cancel(wait=True)
