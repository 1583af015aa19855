"""A program that creates a local job and waits for it: the owner that tests kill.

Shared by the process and Docker lifecycle tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

OWNER = textwrap.dedent(
    """
    import asyncio, json, sys
    from braket_async import LocalQuantumJob

    async def main(source, root, options):
        job = await LocalQuantumJob.create(
            "local:none/none", source, job_name="owned", root=root, **json.loads(options)
        )
        print(job.name, flush=True)
        await job.wait()

    asyncio.run(main(*sys.argv[1:]))
    """
)


def start_owner(tmp_path: Path, source: Path, root: Path, **options: Any) -> subprocess.Popen[str]:
    """Start the owner program and return once its job ``owned`` exists."""
    program = tmp_path / "owner.py"
    program.write_text(OWNER)
    owner = subprocess.Popen(
        [sys.executable, str(program), str(source), str(root), json.dumps(options)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    assert owner.stdout.readline().strip() == "owned", owner.communicate()[1]
    return owner


async def first_line(job: Any) -> str:
    """The first line a job (a ``QuantumJob``) prints, once it has printed it."""
    async for event in job.logs(wait=True):
        return str(event.message)
    raise AssertionError("the job printed nothing")


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Poll what another process does (there is nothing to await on) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def record(folder: Path) -> dict[str, Any]:
    """The job's record as a reader without the library sees it."""
    data: dict[str, Any] = json.loads((folder / "metadata.json").read_text())
    return data


async def eventually(condition: Callable[[], bool], timeout: float = 30) -> None:
    """:func:`wait_until` for tests whose own event loop serves the other process (an
    emulator): the loop keeps running while it waits."""
    import anyio

    with anyio.fail_after(timeout):
        while not condition():  # noqa: ASYNC110 - another process's files: nothing to await
            await anyio.sleep(0.05)
