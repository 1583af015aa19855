"""One rule for ``cancel()`` on both handles: once it returns, ``state()`` never reports
an earlier state than it returned, in this process or (local jobs) in any other; a job
that runs nothing any more is not ``CANCELLING`` but final when it returns.

The same program runs on a local job and on a remote one, whose service (the emulator
behind a proxy) lags: GetJob keeps answering ``RUNNING`` a few times after CancelJob.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.aws import SV1, session_for
from support.cli import acli
from support.jobs import write_module
from support.owning import alive, eventually, record
from support.poller import denying_proxy

from braket_async import JobState, LocalQuantumJob, QuantumJob
from braket_async.aws import AwsQuantumJob, AwsSession
from braket_async.emulator.testing import EmulatorStack
from braket_async.runtimes import ProcessRuntime

pytestmark = pytest.mark.anyio

DEVICE = "local:none/none"
ORDER = [JobState.QUEUED, JobState.RUNNING, JobState.CANCELLING, JobState.CANCELLED]

#: Runs until cancelled; a SIGTERM is taken as a request to stop once the file named by
#: the hyperparameter ``gate`` exists (the job is CANCELLING for as long as the test
#: looks).
STUBBORN = """
import os, signal, time
from braket_async.jobs import get_hyperparameters
gate = get_hyperparameters().get("gate", "/nonexistent/gate")
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
print("ready", os.getpid(), flush=True)
while not (stopping and os.path.exists(gate)):
    time.sleep(0.02)
"""

#: Cancels the local job ``<name>`` under ``<root>`` from another process and prints
#: what ``cancel()`` returned and what ``state()`` said right after.
CANCELLER = textwrap.dedent(
    """
    import asyncio, json, sys
    from braket_async import LocalQuantumJob

    async def main(name, root):
        job = LocalQuantumJob(f"local:job/{name}", root=root)
        returned = await job.cancel()
        print(json.dumps([returned.value, (await job.state()).value]))

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def until_ready(job: QuantumJob) -> int:
    """Until the job printed ``ready``: it runs, and takes SIGTERM its own way. The pid
    of its user code."""
    async for event in job.logs(wait=True, poll_interval_seconds=0.05):
        if event.message.startswith("ready "):
            return int(event.message.split()[1])
    raise AssertionError("the job ended without being ready")


async def cancel_then_watch(job: QuantumJob, gate: Path) -> list[JobState]:
    """The program: cancel a running job, look at its state until it ends, cancel it
    again. Returns what it saw, asserting that nothing went back."""
    await until_ready(job)
    assert await job.state() is JobState.RUNNING
    returned = await job.cancel()
    assert returned in (JobState.CANCELLING, JobState.CANCELLED)
    seen = [returned]
    for _ in range(5):  # the remote service still says RUNNING for a while
        seen += [await job.state(), await job.state(use_cached_value=True)]
    gate.touch()
    while not seen[-1].is_terminal:
        seen.append(await job.next_state(0.05))
    assert await job.wait(poll_interval_seconds=0.05) is JobState.CANCELLED
    assert await job.cancel() is JobState.CANCELLED  # an ended job is left as it is
    assert await job.cancel(wait=True) is JobState.CANCELLED
    assert all(ORDER.index(later) >= ORDER.index(returned) for later in seen), seen
    return seen


class Lagging:
    """A service in front of the emulator that, after each CancelJob, answers the job's
    next :attr:`LAG` GetJob calls with its last answer from before."""

    LAG = 3

    def __init__(self) -> None:
        self.stale_answers = 0
        self._last: dict[str, bytes] = {}
        self._lagging: dict[str, int] = {}

    def rewrite(self, method: str, path: str, body: bytes) -> bytes:
        if method == "PUT" and path.endswith("/cancel"):
            self._lagging[path.removesuffix("/cancel")] = self.LAG
        elif method == "GET" and path.startswith("/job/"):
            if self._lagging.get(path, 0) > 0 and path in self._last:
                self._lagging[path] -= 1
                self.stale_answers += 1
                return self._last[path]
            self._last[path] = body
        return body


@pytest.fixture
async def lagging() -> Lagging:
    return Lagging()


@pytest.fixture
async def lagging_session(stack: EmulatorStack, lagging: Lagging) -> AsyncIterator[AwsSession]:
    """A session on the emulator through the :class:`Lagging` proxy."""
    async with (
        denying_proxy(
            stack.emulator.endpoint_url, lambda method, path: False, lagging.rewrite
        ) as proxy,
        session_for(stack, braket_url=proxy.url) as session,
    ):
        yield session


async def stubborn_local_job(tmp_path: Path, **options: Any) -> tuple[LocalQuantumJob, Path]:
    """A local STUBBORN job, given 60 s to stop after SIGTERM; and its gate."""
    gate = tmp_path / "gate"
    job = await LocalQuantumJob.create(
        DEVICE,
        write_module(tmp_path / "src", "stubborn", STUBBORN),
        hyperparameters={"gate": str(gate)},
        root=tmp_path,
        runtime=ProcessRuntime(kill_grace_seconds=60),
        **options,
    )
    return job, gate


async def test_cancel_rules_of_a_local_job(tmp_path: Path) -> None:
    job, gate = await stubborn_local_job(tmp_path)
    seen = await cancel_then_watch(job, gate)
    # Its processes are slow to stop: the record said so in the meantime.
    assert seen[0] is JobState.CANCELLING


async def test_cancel_rules_of_a_remote_job(
    lagging_session: AwsSession, lagging: Lagging, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    job = await AwsQuantumJob.create(
        SV1,
        write_module(tmp_path / "src", "stubborn", STUBBORN),
        hyperparameters={"gate": str(gate)},
        aws_session=lagging_session,
    )
    seen = await cancel_then_watch(job, gate)
    assert seen[0] is JobState.CANCELLING
    # The service lagged (three stale answers), and the handle did not report it.
    assert lagging.stale_answers == Lagging.LAG
    assert JobState.RUNNING not in seen


async def test_another_process_cancels_a_local_job(tmp_path: Path) -> None:
    job, gate = await stubborn_local_job(tmp_path, detach=True)
    await until_ready(job)
    program = tmp_path / "canceller.py"
    program.write_text(CANCELLER)
    done = await acli_python(program, job.name, str(tmp_path))
    # Both processes, and the record, say CANCELLING from the moment cancel() returned.
    assert json.loads(done) == ["CANCELLING", "CANCELLING"]
    assert record(job.folder)["status"] == "CANCELLING"
    assert await job.state() is JobState.CANCELLING
    gate.touch()
    assert await job.wait() is JobState.CANCELLED


@pytest.mark.parametrize("where", ["here", "elsewhere"])
async def test_cancelling_a_job_whose_supervisor_died_gives_its_end(
    tmp_path: Path, where: str
) -> None:
    job, _ = await stubborn_local_job(tmp_path, detach=True)
    user_code = await until_ready(job)
    data = record(job.folder)
    # The supervisor and the job's first process die; the user code it forked lives on.
    for process in (data["supervisor"], data["jobProcess"]):
        os.kill(process["pid"], signal.SIGKILL)
    if where == "here":  # the creator's handle, whichever of its tasks sees it first
        assert await job.cancel() is JobState.FAILED
    else:
        program = tmp_path / "canceller.py"
        program.write_text(CANCELLER)
        done = await acli_python(program, job.name, str(tmp_path))
        assert json.loads(done) == ["FAILED", "FAILED"]
    assert await job.state() is JobState.FAILED
    assert (await job.metadata())["failureReason"].startswith("The supervisor of this job")
    await eventually(lambda: not alive(user_code))  # ended by who found the job ownerless


async def test_another_process_cancels_a_queued_job(tmp_path: Path) -> None:
    source = write_module(tmp_path / "src", "stubborn", STUBBORN)
    async with ProcessRuntime(max_concurrent_jobs=1) as runtime:
        running = await LocalQuantumJob.create(DEVICE, source, root=tmp_path, runtime=runtime)
        queued = await LocalQuantumJob.create(
            DEVICE, source, job_name="queued", root=tmp_path, runtime=runtime
        )
        assert await queued.state() is JobState.QUEUED
        # The process that holds it queued takes the request: nothing runs to stop.
        done = await acli("cancel", "--root", str(tmp_path), "queued")
        assert (done.code, done.out, done.err) == (0, "queued CANCELLED\n", "")
        assert await queued.state() is JobState.CANCELLED
        assert await running.cancel(wait=True) is JobState.CANCELLED


async def acli_python(program: Path, *arguments: str) -> str:
    """Run ``program`` with this interpreter without blocking the loop; its stdout."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(program),
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert (process.returncode, err) == (0, b""), err.decode()
    return out.decode()
