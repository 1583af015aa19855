"""``@hybrid_job`` on local process jobs, end to end: real supervisors and processes."""

from __future__ import annotations

import asyncio
import copyreg
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hybrid_job_functions as functions
import pytest
from support.owning import eventually

from braket_async import JobFailedError, JobState, LocalQuantumJob, hybrid_job
from braket_async.errors import ConfigurationError
from braket_async.jobs import PersistedJobDataFormat
from braket_async.runtimes import ProcessRuntime

Staged = Callable[[], list[str]]

pytestmark = pytest.mark.anyio

HERE = Path(__file__).parent


def local(root: Path, **options: Any) -> Any:
    return hybrid_job(device=None, local=True, root=root, **options)


RETURNS = [
    (3, {"result": 3}),
    ([1, "two", None], {"result": [1, "two", None]}),
    ({"energy": -1.5, "nested": {"a": [1]}}, {"energy": -1.5, "nested": {"a": [1]}}),
    (None, {}),
    ("text", {"result": "text"}),
]


async def test_the_return_value_is_the_result_as_the_official_decorator_saves_it(
    jobs_root: Path, staged: Staged
) -> None:
    run = local(jobs_root)(functions.echo)
    jobs = await asyncio.gather(*(run(value) for value, _ in RETURNS))
    assert all(isinstance(job, LocalQuantumJob) for job in jobs)
    for job, (_, saved) in zip(jobs, RETURNS, strict=True):
        assert await job.result() == saved, job.run_log
    assert staged() == []


async def test_arguments_reach_the_function_as_given(jobs_root: Path) -> None:
    run = local(jobs_root)(functions.describe)
    job = await run(1, 2, scale=3, label="x")
    assert await job.result() == {"args": [3, 6], "kwargs": {"label": "x"}, "job": job.name}
    metadata = await job.metadata()
    # As the official decorator records them: named arguments and **kwargs, as text.
    assert metadata["hyperParameters"] == {"scale": "3", "label": "x"}
    assert metadata["algorithmSpecification"]["scriptModeConfig"]["entryPoint"] == (
        "_braket_async_hybrid_job.entry:main"
    )
    assert job.name.startswith("describe-")


async def test_an_async_function_is_run_to_its_end(jobs_root: Path) -> None:
    job = await local(jobs_root)(functions.gathered)([1, 2, 3])
    assert await job.result() == {"sum": 14}


async def test_a_function_decorated_where_it_is_defined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # its jobs use the default root, the current folder
    job = await functions.decorated_square(9)
    assert await job.result() == {"result": 81}
    assert (tmp_path / job.name / "results.json").is_file()
    assert functions.decorated_square.__wrapped__(9) == 81
    assert functions.decorated_square.__name__ == "decorated_square"
    assert "Decorated where it is defined" in (functions.decorated_square.__doc__ or "")
    # A decorated name that the function refers to is the plain function in the job.
    again = await local(tmp_path)(functions.calls_decorated_square)(4)
    assert await again.result() == {"result": 17}


async def test_the_function_runs_in_the_results_folder(jobs_root: Path) -> None:
    job = await local(jobs_root)(functions.writes_a_file)()
    result = await job.result()
    assert Path(result["result"]).name == "model"
    assert (job.folder / "report.txt").read_text() == "written by the job"


async def test_a_failing_function_fails_the_job_with_its_message(jobs_root: Path) -> None:
    job = await local(jobs_root)(functions.fail)("bad input")
    with pytest.raises(JobFailedError) as failed:
        await job.result()
    assert failed.value.failure_reason == "AlgorithmError: ValueError: bad input, exit code: 1"


async def test_a_result_that_is_not_json_fails_the_job_naming_the_fix(jobs_root: Path) -> None:
    job = await local(jobs_root)(functions.not_json)()
    with pytest.raises(JobFailedError) as failed:
        await job.result()
    reason = failed.value.failure_reason or ""
    assert "the return value of not_json is not JSON" in reason
    assert "data_format='pickle'" in reason


@pytest.mark.parametrize("data_format", ["pickle", "PICKLE", PersistedJobDataFormat.PICKLED_V4])
async def test_a_pickled_result_needs_allow_pickle(jobs_root: Path, data_format: Any) -> None:
    job = await local(jobs_root, data_format=data_format)(functions.echo)({1, (2, 3)})
    with pytest.raises(RuntimeError, match="allow_pickle"):
        await job.result()
    assert await job.result(allow_pickle=True) == {"result": {1, (2, 3)}}
    saved = json.loads((job.folder / "results.json").read_text())
    assert saved["dataFormat"] == "pickled_v4"


@pytest.mark.parametrize(
    ("serialization", "module"), [("cloudpickle", "__main__"), ("json", "hybrid_job_script")]
)
def test_a_script_function_runs_without_its_main_block(
    tmp_path: Path, staged: Staged, private_tempdir: Path, serialization: str, module: str
) -> None:
    # The block exits non-zero inside a job. By value nothing of the script runs there;
    # with "json" the job imports the script as a module (its top level runs, not the
    # block).
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = subprocess.run(
        [sys.executable, str(HERE / "hybrid_job_script.py")],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={
            **os.environ,
            "HYBRID_JOB_ROOT": str(tmp_path / "jobs"),
            "HYBRID_JOB_SERIALIZATION": serialization,
            "TMPDIR": str(private_tempdir),
        },
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["result"] == {"tripled": 42, "module": module}
    assert os.listdir(tmp_path / "jobs") == [output["name"]]
    assert os.listdir(cwd) == []
    assert staged() == []


async def test_fifty_calls_from_fifty_tasks_make_fifty_jobs(
    jobs_root: Path, staged: Staged
) -> None:
    runtime = ProcessRuntime(max_concurrent_jobs=4)
    run = hybrid_job(device=None, target=runtime, root=jobs_root)(functions.describe)

    async def one(n: int) -> tuple[str, dict[str, Any]]:
        job = await run(n, scale=2)
        return job.name, await job.result(poll_interval_seconds=0.5)

    async with runtime:
        outcomes = await asyncio.gather(*(asyncio.create_task(one(n)) for n in range(50)))
    names = [name for name, _ in outcomes]
    assert len(set(names)) == 50
    for n, (name, result) in enumerate(outcomes):
        assert result == {"args": [2 * n], "kwargs": {}, "job": name}
    assert sorted(os.listdir(jobs_root)) == sorted(names)
    assert staged() == []


async def test_decorating_and_calling_write_nothing_in_the_current_folder(
    tmp_path: Path, jobs_root: Path, monkeypatch: pytest.MonkeyPatch, staged: Staged
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "mine.txt").write_text("the user's")
    monkeypatch.chdir(cwd)
    before = sorted(os.listdir(cwd))
    run = local(jobs_root, include_modules="hybrid_job_extra")(functions.add)
    assert sorted(os.listdir(cwd)) == before
    assert staged() == []
    job = await run(1, b=2)
    assert await job.result() == {"result": 3}
    assert sorted(os.listdir(cwd)) == before
    assert staged() == []


def process_wide_state() -> tuple[object, ...]:
    """What registering picklers, importing, or changing the environment would change."""
    import cloudpickle

    return (
        dict(copyreg.dispatch_table),
        dict(pickle._Pickler.dispatch),  # type: ignore[attr-defined]
        dict(cloudpickle.CloudPickler.dispatch_table),
        cloudpickle.list_registry_pickle_by_value(),
        sorted(sys.modules),
        sorted(os.environ.items()),
        list(sys.path),
        os.getcwd(),
    )


async def test_a_pickled_call_changes_no_process_wide_state(jobs_root: Path) -> None:
    run = local(jobs_root, include_modules="hybrid_job_extra")(functions.add)
    await (await run(0)).result()  # imports whatever a call imports
    code = functions.add.__code__
    before = process_wide_state()
    job = await run(5, b=6)
    assert await job.result() == {"result": 11}
    assert process_wide_state() == before
    assert functions.add.__code__ is code
    assert functions.add.__module__ == "hybrid_job_functions"


async def test_closures_lambdas_and_any_argument_go_by_value(
    jobs_root: Path, staged: Staged
) -> None:
    shifted = functions.make_closure(100)
    job = await local(jobs_root)(shifted)(1)
    assert await job.result() == {"result": 101}
    job = await local(jobs_root)(lambda x: x * 2)(21)
    assert await job.result() == {"result": 42}
    # Values JSON cannot carry reach the function unchanged; the result is pickled when
    # data_format says so.
    job = await local(jobs_root, data_format="pickle")(functions.echo)({1, (2, 3)})
    assert await job.result(allow_pickle=True) == {"result": {1, (2, 3)}}
    # A decorated global of a function pickled by value is the plain function.
    job = await local(jobs_root)(functions.calls_decorated_square)(3)
    assert await job.result() == {"result": 10}
    assert staged() == []


async def test_by_reference_refuses_what_it_cannot_import(jobs_root: Path) -> None:
    shifted = functions.make_closure(100)
    by_reference = local(jobs_root, serialization="json")
    with pytest.raises(ConfigurationError, match="serialization='cloudpickle'") as refused:
        await by_reference(shifted)(1)
    assert "defined inside another function" in str(refused.value)
    with pytest.raises(ConfigurationError, match="is a lambda"):
        await by_reference(lambda: 1)()
    assert os.listdir(jobs_root) == []
    job = await by_reference(functions.describe)(1, 2, scale=3)
    assert (await job.result())["args"] == [3, 6]


async def test_cloudpickle_missing_is_a_clear_error(
    jobs_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "cloudpickle", None)  # what an import without it sees
    run = local(jobs_root)(functions.add)
    with pytest.raises(ConfigurationError, match="pip install cloudpickle"):
        await run(1)
    assert os.listdir(jobs_root) == []
    # By reference needs no cloudpickle.
    job = await local(jobs_root, serialization="json")(functions.add)(1)
    assert await job.result() == {"result": 11}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (((1, 2),), r"argument 'value' of echo would reach the job changed by JSON"),
        (({1: "a"},), r"argument 'value' of echo would reach the job changed by JSON"),
        (({1, 2},), r"argument 'value' of echo is not plain JSON \(Object of type set"),
        ((float("nan"),), r"argument 'value' of echo is not plain JSON"),
        ((object(),), r"argument 'value' of echo is not plain JSON"),
    ],
)
async def test_by_reference_an_argument_that_is_not_json_is_refused_before_any_job(
    jobs_root: Path, staged: Staged, arguments: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as refused:
        await local(jobs_root, serialization="json")(functions.echo)(*arguments)
    assert "serialization='cloudpickle'" in str(refused.value)
    assert os.listdir(jobs_root) == []
    assert staged() == []


async def test_arguments_that_do_not_fit_the_signature_are_a_type_error(jobs_root: Path) -> None:
    run = local(jobs_root)(functions.add)
    with pytest.raises(TypeError, match="missing a required argument: 'a'"):
        await run()
    with pytest.raises(TypeError, match="unexpected keyword argument 'c'"):
        await run(1, c=2)
    assert os.listdir(jobs_root) == []


async def test_a_call_cancelled_while_its_job_waits_for_a_slot_leaves_nothing(
    jobs_root: Path, staged: Staged
) -> None:
    runtime = ProcessRuntime(max_concurrent_jobs=1)
    async with runtime:
        blocker = await hybrid_job(device=None, target=runtime, root=jobs_root)(
            functions.sleep_for
        )(600)
        run = hybrid_job(device=None, target=runtime, root=jobs_root)(functions.add)
        call = asyncio.create_task(run(1))
        # The call returns only once its job copied its code, which needs a slot.
        await eventually(lambda: len(os.listdir(jobs_root)) == 2)
        assert not call.done()
        assert len(staged()) == 1
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert staged() == []
        (queued,) = set(os.listdir(jobs_root)) - {blocker.name}
        job = LocalQuantumJob(f"local:job/{queued}", root=jobs_root)
        assert await job.state() is JobState.CANCELLED
        await blocker.cancel(wait=True)


async def test_a_call_cancelled_at_once_leaves_no_source_folder(
    jobs_root: Path, staged: Staged
) -> None:
    for steps in range(5):
        call = asyncio.create_task(local(jobs_root)(functions.add)(1))
        for _ in range(steps + 1):
            await asyncio.sleep(0)  # a different step of the call each time
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert staged() == []


async def test_dependencies_are_installed_in_the_job(tmp_path: Path, jobs_root: Path) -> None:
    from support.wheels import build_wheel

    wheel = build_wheel(tmp_path)
    runtime = ProcessRuntime(environment_cache=tmp_path / "environments")
    async with runtime:
        run = hybrid_job(
            device=None, target=runtime, root=jobs_root, dependencies=["--no-index", str(wheel)]
        )(functions.uses_tinypkg)
        job = await run()
        assert await job.result() == {"result": 42}, job.run_log
        assert "Successfully installed tinypkg-1.0" in (job.run_log or "")
        requirements = tmp_path / "requirements.txt"
        requirements.write_text(f"--no-index\n{wheel}\n")
        from_file = hybrid_job(
            device=None, target=runtime, root=jobs_root, dependencies=requirements
        )
        job = await from_file(functions.uses_tinypkg)()
        assert await job.result() == {"result": 42}
        missing = hybrid_job(device=None, target=runtime, dependencies=tmp_path / "missing.txt")
        with pytest.raises(ConfigurationError, match="is not a readable requirements file"):
            await missing(functions.uses_tinypkg)()


async def test_include_modules_copies_what_the_job_imports(jobs_root: Path) -> None:
    import hybrid_job_extra

    without = await local(jobs_root)(functions.uses_extra)()
    with pytest.raises(JobFailedError, match="No module named 'hybrid_job_extra'"):
        await without.result()
    for included in ("hybrid_job_extra", hybrid_job_extra, ["hybrid_job_extra"]):
        job = await local(jobs_root, include_modules=included)(functions.uses_extra)()
        assert await job.result() == {"result": 7}
    with pytest.raises(ConfigurationError, match="'no_such_module_xyz' is not found"):
        await local(jobs_root, include_modules="no_such_module_xyz")(functions.add)(1)
    with pytest.raises(ConfigurationError, match="part of the standard library"):
        await local(jobs_root, include_modules="json")(functions.add)(1)


async def test_wait_until_complete_returns_the_ended_job(jobs_root: Path) -> None:
    job = await local(jobs_root, wait_until_complete=True)(functions.describe)("printed")
    assert await job.state(use_cached_value=True) is JobState.COMPLETED
    assert await job.result() == {"args": ["printed"], "kwargs": {}, "job": job.name}


def test_a_function_of_an_interactive_session_runs_by_value(tmp_path: Path) -> None:
    # ``python -c``: __main__ has no file, as in a notebook or the REPL.
    code = (
        "import asyncio\n"
        "from braket_async import hybrid_job\n"
        "OFFSET = 5\n"
        "def f(x):\n"
        "    return x + OFFSET\n"
        "async def main():\n"
        f"    job = await hybrid_job(device=None, local=True, root={str(tmp_path)!r})(f)(1)\n"
        "    print(await job.result())\n"
        "    try:\n"
        f"        await hybrid_job(device=None, local=True, root={str(tmp_path)!r},\n"
        "                         serialization='json')(f)(1)\n"
        "    except ValueError as error:\n"
        "        print(error)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines()[0] == "{'result': 6}"
    assert "__main__.f is not defined in a module file (a notebook" in done.stdout
    assert "serialization='cloudpickle'" in done.stdout


async def test_a_function_compiled_elsewhere_is_not_imported_by_reference(
    jobs_root: Path,
) -> None:
    namespace: dict[str, Any] = {"__name__": functions.__name__}
    exec("def made():\n    return 2\n", namespace)
    with pytest.raises(ConfigurationError, match="was not compiled from"):
        await local(jobs_root, serialization="json")(namespace["made"])()
    job = await local(jobs_root)(namespace["made"])()
    assert await job.result() == {"result": 2}


async def test_a_job_continues_from_a_local_jobs_checkpoints(jobs_root: Path) -> None:
    first = await local(jobs_root)(functions.save_progress)(3)
    await first.result()
    # By name, by ARN, or by the handle.
    for source in (first.name, first.arn, first):
        run = local(jobs_root, copy_checkpoints_from_job=source)(functions.resume)
        job = await run(first.name, 10)
        assert await job.result() == {"resumed_at": 2, "last": 12}, job.run_log
    with pytest.raises(ConfigurationError, match="holds no checkpoints"):
        await local(jobs_root, copy_checkpoints_from_job="no-such-job")(functions.resume)("x", 1)
    with pytest.raises(ConfigurationError, match="Invalid job name"):
        local(jobs_root, copy_checkpoints_from_job="../up")
