"""Supervisors are forked by one warm launcher per creating process: what a user could
do to it (kill it, change the environment under it, start many jobs at once) must not
show in the jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.owning import alive, record, start_owner, wait_until

from braket_async import JobState, LocalQuantumJob

pytestmark = pytest.mark.anyio

DEVICE = "local:none/none"
WriteModule = Callable[[str, str], Path]


def launchers_of(parent: int) -> list[int]:
    """The live launcher processes whose parent is ``parent``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            command = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        parent_pid = int(stat.rsplit(") ", 1)[1].split()[1])
        launcher = b"braket_async.local._launcher" in command
        if launcher and parent_pid == parent and alive(int(name)):
            found.append(int(name))
    return found


def wait_for_exit(pid: int, timeout: float = 30) -> None:
    """Block until process ``pid`` has ended (a pidfd becomes readable at its exit)."""
    import select

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"process {pid} still runs after {timeout} s"
    finally:
        os.close(fd)


async def test_a_killed_launcher_is_replaced_for_the_next_job(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module("hello", "print('hello')\n")
    first = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    assert await first.wait() is JobState.COMPLETED
    (launcher,) = launchers_of(os.getpid())
    os.kill(launcher, signal.SIGKILL)
    wait_for_exit(launcher)
    second = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    assert await second.wait() is JobState.COMPLETED
    assert await second.logs().lines() == ["hello"]
    assert launchers_of(os.getpid()) not in ([], [launcher])


async def test_the_environment_at_create_time_reaches_the_job(
    write_module: WriteModule, jobs_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_module(
        "env", "import os\nprint(os.environ.get('LATE'), os.environ.get('GONE'))\n"
    )
    monkeypatch.setenv("GONE", "was here")
    warm = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    await warm.wait()
    assert launchers_of(os.getpid())  # started with GONE set, and without LATE
    monkeypatch.setenv("LATE", "set after the launcher started")
    monkeypatch.delenv("GONE")
    job = await LocalQuantumJob.create(DEVICE, source, root=jobs_root)
    assert await job.wait() is JobState.COMPLETED
    assert await job.logs().lines() == ["set after the launcher started None"]


async def test_fifty_jobs_created_at_once_get_fifty_supervisors(
    write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module(
        "name", "from braket_async.jobs import get_job_name\nprint(get_job_name())\n"
    )
    jobs = await asyncio.gather(
        *(LocalQuantumJob.create(DEVICE, source, root=jobs_root) for _ in range(50))
    )
    states = await asyncio.gather(*(job.wait() for job in jobs))
    assert set(states) == {JobState.COMPLETED}
    for job in jobs:
        assert await job.logs().lines() == [job.name]
    supervisors = {record(jobs_root / job.name)["supervisor"]["pid"] for job in jobs}
    assert len(supervisors) == 50


async def test_the_owners_death_ends_its_launcher(
    tmp_path: Path, write_module: WriteModule, jobs_root: Path
) -> None:
    source = write_module(
        "sleeper", "import time\nprint('started', flush=True)\ntime.sleep(3600)\n"
    )
    owner = start_owner(tmp_path, source, jobs_root, detach=False)
    (launcher,) = launchers_of(owner.pid)
    owner.kill()
    owner.communicate()
    started = time.monotonic()
    wait_for_exit(launcher)
    assert time.monotonic() - started < 10
    job = LocalQuantumJob("local:job/owned", root=jobs_root)
    assert await job.wait(poll_timeout_seconds=30) is JobState.FAILED
    wait_until(lambda: not alive(record(jobs_root / "owned")["supervisor"]["pid"]))
