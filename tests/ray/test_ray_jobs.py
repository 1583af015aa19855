"""Local jobs on a real two-node Ray cluster, through the public API, as on the other
runtimes: the log live, result, metrics, checkpoints, download, cancel, requirements,
inputs that only the cluster's address carries; and the same program on the process
runtime, compared."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from support.owning import alive, first_line, wait_until
from support.ray_cluster import (
    SETSID_JOB,
    RayCluster,
    free_port,
    start_setsid_job,
    wait_until_gone,
)
from support.wheels import build_wheel

from braket_async import LocalQuantumJob, hybrid_job
from braket_async.errors import ConfigurationError, JobFailedError, RuntimeUnavailableError
from braket_async.runtimes import ProcessRuntime, RayRuntime

pytestmark = pytest.mark.anyio

LIFE = """
import os, time
from braket_async.jobs import get_hyperparameters, log_metric, save_job_checkpoint, save_job_result
hp = get_hyperparameters()
print("first line", flush=True)
while not os.path.exists(hp["gate"]):
    time.sleep(0.02)
log_metric("loss", 0.5, iteration_number=0)
save_job_checkpoint({"step": 1})
save_job_result({"secret": os.environ["MY_SECRET"], "x": hp["x"]})
print("last line")
"""

FAILING = """
import os, sys
from braket_async.jobs import save_job_result
os.symlink("/etc/passwd", os.path.join(os.environ["AMZN_BRAKET_JOB_RESULTS_DIR"], "escape"))
print("about to fail")
print("to stderr", file=sys.stderr)
save_job_result({"partial": True})
raise ValueError("bad input \\u00e9")
"""


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source))
    return path


async def log_lines(job: LocalQuantumJob) -> list[str]:
    return [event.message async for event in job.logs()]


async def test_a_jobs_life_as_on_the_process_runtime(
    runtime: RayRuntime, cluster: RayCluster, tmp_path: Path
) -> None:
    source = write(tmp_path / "algo.py", LIFE)
    outcomes = {}
    for name, job_runtime in (("ray", runtime), ("process", ProcessRuntime())):
        gate = tmp_path / f"gate-{name}"
        job = await LocalQuantumJob.create(
            "local:none/none",
            str(source),
            job_name=f"life-{name}",
            root=tmp_path / "jobs",
            runtime=job_runtime,
            hyperparameters={"gate": str(gate), "x": 3},
            environment={"MY_SECRET": "not-on-the-dashboard"},
        )
        # Live: the job waits at its gate after its first line.
        assert await first_line(job) == "first line"
        assert await job.state() == "RUNNING"
        if name == "ray":
            submission = (await job.metadata())["rayJob"]["submissionId"]
            shown = json.dumps(await asyncio.to_thread(cluster.job, submission))
            assert "not-on-the-dashboard" not in shown
        gate.touch()
        result = await job.result()
        await job.download_result(tmp_path / f"download-{name}")
        outcomes[name] = {
            "state": await job.state(),
            "result": result,
            "log": [
                re.sub(r"timestamp=[\d.]+", "timestamp=T", line) for line in await log_lines(job)
            ],
            "metrics": {
                key: value for key, value in (await job.metrics()).items() if key != "timestamp"
            },
            "results": (job.folder / "results.json").read_bytes(),
            "checkpoint": (job.folder / "checkpoints" / f"life-{name}.json").read_text(),
            "download": sorted(
                path.name for path in (tmp_path / f"download-{name}" / f"life-{name}").iterdir()
            ),
        }
    ray, process = outcomes["ray"], outcomes["process"]
    assert ray["state"] == "COMPLETED"
    assert ray["log"] == ["first line", ray["log"][1], "last line"]
    assert json.loads(ray["results"])["dataDictionary"] == {
        "secret": "not-on-the-dashboard",
        "x": "3",
    }
    assert ray["metrics"] == {"loss": [0.5], "iteration_number": [0.0]}
    assert ray == process


async def test_a_failure_reads_as_on_the_process_runtime(
    runtime: RayRuntime, tmp_path: Path
) -> None:
    source = write(tmp_path / "failing.py", FAILING)
    seen = {}
    for job_runtime in (runtime, ProcessRuntime()):
        job = await LocalQuantumJob.create(
            "local:none/none", str(source), root=tmp_path / job_runtime.name, runtime=job_runtime
        )
        with pytest.raises(JobFailedError) as failed:
            await job.result()
        lines = await log_lines(job)
        seen[job_runtime.name] = (
            failed.value.failure_reason,
            [line for line in lines if not line.startswith(("Traceback", "  "))],
            json.loads((job.folder / "results.json").read_text()),
        )
    # The link that leaves the job's folder is refused on both, the rest collected.
    assert seen["ray"][0] == (
        "AlgorithmError: ValueError: bad input \u00e9, exit code: 1; outputs refused: "
        "model/escape: a link to the absolute path '/etc/passwd'"
    )
    assert seen["ray"] == seen["process"]


async def test_cancel_ends_every_process_of_the_job_setsid_too(
    runtime: RayRuntime, tmp_path: Path
) -> None:
    job, submission, (user, grandchild) = await start_setsid_job(runtime, tmp_path)
    assert alive(user)
    assert alive(grandchild)
    assert await job.cancel(wait=True) == "CANCELLED"
    assert await job.state() == "CANCELLED"
    assert wait_until_gone(submission) == []
    assert not alive(user)
    assert not alive(grandchild)


async def test_requirements_go_into_an_environment_of_the_job(
    runtime: RayRuntime, cluster: RayCluster, tmp_path: Path
) -> None:
    code = tmp_path / "reqpkg"
    code.mkdir()
    wheel = build_wheel(code)
    (code / "requirements.txt").write_text(f"./{wheel.name}\n")
    write(
        code / "main.py",
        """
        import sys, tinypkg
        from braket_async.jobs import save_job_result
        save_job_result({"value": tinypkg.VALUE, "python": sys.executable})
        """,
    )
    job = await LocalQuantumJob.create(
        "local:none/none", str(code), entry_point="reqpkg.main", root=tmp_path, runtime=runtime
    )
    result = await job.result()
    assert result["value"] == 42
    # Never into the cluster's own interpreter.
    assert result["python"] != cluster.python
    plain = await asyncio.to_thread(
        subprocess.run, [cluster.python, "-c", "import tinypkg"], capture_output=True
    )
    assert plain.returncode != 0


async def test_90_mib_of_input_with_the_address_only(runtime: RayRuntime, tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(90 << 20))
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    write(
        tmp_path / "digest.py",
        """
        import hashlib, os
        from braket_async.jobs import get_input_data_dir, save_job_result
        path = os.path.join(get_input_data_dir("data"), "data.bin")
        save_job_result({"sha256": hashlib.sha256(open(path, "rb").read()).hexdigest()})
        """,
    )
    job = await LocalQuantumJob.create(
        "local:none/none",
        str(tmp_path / "digest.py"),
        root=tmp_path / "jobs",
        runtime=runtime,
        input_data={"data": str(data)},
    )
    assert await job.result() == {"sha256": digest}


async def test_a_job_too_big_for_a_package_is_refused_before_it_starts(
    runtime: RayRuntime, tmp_path: Path
) -> None:
    data = tmp_path / "big.bin"
    data.touch()
    os.truncate(data, 101 << 20)  # sparse: the size is what counts
    write(tmp_path / "algo.py", "print('never')\n")
    with pytest.raises(ConfigurationError, match=r"101\.\d MiB.*storage="):
        await LocalQuantumJob.create(
            "local:none/none",
            str(tmp_path / "algo.py"),
            root=tmp_path / "jobs",
            runtime=runtime,
            input_data={"data": str(data)},
        )
    assert not (tmp_path / "jobs").exists() or list((tmp_path / "jobs").iterdir()) == []


async def test_no_dashboard_is_refused_with_the_fix(tmp_path: Path) -> None:
    write(tmp_path / "algo.py", "print('never')\n")
    async with RayRuntime(f"http://127.0.0.1:{free_port()}") as nowhere:
        with pytest.raises(RuntimeUnavailableError, match="ray start --head"):
            await LocalQuantumJob.create(
                "local:none/none", str(tmp_path / "algo.py"), root=tmp_path, runtime=nowhere
            )


def test_bad_addresses_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    with pytest.raises(ConfigurationError, match="from RAY_ADDRESS"):
        RayRuntime()
    with pytest.raises(ConfigurationError, match="dashboard's HTTP address"):
        RayRuntime("ray://head:10001")
    with pytest.raises(ConfigurationError, match="start_timeout"):
        RayRuntime("http://head:8265", start_timeout=0)


OWNER = """
import asyncio, json, sys
from braket_async import LocalQuantumJob
from braket_async.runtimes import RayRuntime

async def main(source, root, address, python, hyperparameters, detach):
    async with RayRuntime(address, python=python) as runtime:
        job = await LocalQuantumJob.create(
            "local:none/none", source, job_name="owned", root=root, runtime=runtime,
            hyperparameters=json.loads(hyperparameters), environment={"MY_SECRET": "s"},
            detach=detach == "detach",
        )
        print(job.name, flush=True)
        if detach != "detach":
            await job.wait()

asyncio.run(main(*sys.argv[1:]))
"""


def owner_command(
    cluster: RayCluster, tmp_path: Path, source: Path, hyperparameters: dict[str, Any], how: str
) -> list[str]:
    """A program that creates the job ``owned`` on the cluster and waits for it (or,
    ``how="detach"``, returns at once)."""
    write(tmp_path / "owner.py", OWNER)
    return [
        sys.executable, str(tmp_path / "owner.py"), str(source), str(tmp_path / "jobs"),
        cluster.address, cluster.python, json.dumps(hyperparameters), how,
    ]  # fmt: skip


async def test_a_detached_job_is_reattached_from_another_process(
    cluster: RayCluster, tmp_path: Path
) -> None:
    source = write(tmp_path / "algo.py", LIFE)
    gate = tmp_path / "gate"
    command = owner_command(cluster, tmp_path, source, {"gate": str(gate), "x": 1}, "detach")
    created = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120
    )
    assert created.stdout.strip() == "owned", created.stderr
    job = LocalQuantumJob("local:job/owned", root=tmp_path / "jobs")
    assert await first_line(job) == "first line"
    assert await job.state() == "RUNNING"
    gate.touch()
    assert await job.result() == {"secret": "s", "x": "1"}
    assert (await log_lines(job))[-1] == "last line"


async def test_an_owner_killed_with_sigkill_ends_its_job_on_the_cluster(
    cluster: RayCluster, tmp_path: Path
) -> None:
    source = write(tmp_path / "algo.py", SETSID_JOB)
    pids = tmp_path / "pids"
    command = owner_command(cluster, tmp_path, source, {"pids": str(pids)}, "wait")
    owner = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
    assert owner.stdout is not None
    assert owner.stdout.readline().strip() == "owned"
    wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2, timeout=60)
    user, grandchild = (int(pid) for pid in pids.read_text().split())
    owner.kill()
    owner.wait()
    owner.stdout.close()
    job = LocalQuantumJob("local:job/owned", root=tmp_path / "jobs")
    assert await job.wait() == "FAILED"
    reason = (await job.metadata())["failureReason"]
    assert f"(pid {owner.pid}) exited before the job ended" in reason
    submission = (await job.metadata())["rayJob"]["submissionId"]
    assert wait_until_gone(submission) == []
    assert not alive(user)
    assert not alive(grandchild)


async def test_a_hybrid_job_runs_on_the_cluster(runtime: RayRuntime, tmp_path: Path) -> None:
    offset = 10

    @hybrid_job(device="local:none/none", local=True, runtime=runtime, root=tmp_path)
    def add(x: int) -> dict[str, int]:
        print("adding", x)
        return {"sum": x + offset}

    job = await add(5)
    assert await job.result() == {"sum": 15}
    assert (await log_lines(job))[0] == "adding 5"
