"""A disk that jobs fill: a small tmpfs of its own, filled on purpose, and what a job
that ended on it must have left (a valid final record, no partial file, nothing running).

Mounting needs root, as the tests run.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support.owning import alive

#: The size of the disk: what the outside probe of full disks used.
DISK_SIZE = "8m"

#: Prints 50 MB in lines of 100 bytes: six times the disk.
FLOOD = """
import sys
line = "x" * 99 + "\\n"
for _ in range(500_000):
    sys.stdout.write(line)
print("done")
"""

#: Saves a result of 50 MB.
SAVE = """
from braket_async.jobs import save_job_result
save_job_result({"blob": "y" * 50_000_000})
print("saved")
"""

#: Prints ``ready``, then waits until the file named by the hyperparameter ``gate``
#: exists (and never, without one).
GATED = """
import os, time
from braket_async.jobs import get_hyperparameters
gate = get_hyperparameters().get("gate", "/nonexistent/gate")
print("ready", flush=True)
while not os.path.exists(gate):
    time.sleep(0.02)
"""

#: Creates the job ``<name>`` from ``<source>`` under ``<root>`` with the JSON
#: ``<options>``, prints its name, then (unless detached) waits for it and prints its
#: final state.
CREATOR = textwrap.dedent(
    """
    import asyncio, json, sys
    from braket_async import LocalQuantumJob

    async def main(source, root, name, options):
        options = json.loads(options)
        job = await LocalQuantumJob.create(
            "local:none/none", source, job_name=name, root=root, **options
        )
        print(job.name, flush=True)
        if not options.get("detach"):
            print(await job.wait(), flush=True)

    asyncio.run(main(*sys.argv[1:]))
    """
)


@contextlib.contextmanager
def small_disk(path: Path, size: str = DISK_SIZE) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on the new folder ``path``, unmounted at the end."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], check=False).returncode != 0:
            # Something still has a file open there: the test fails on it anyway.
            subprocess.run(["umount", "--lazy", str(path)], check=True)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` with a file of its own; return the file."""
    path = disk / "filler"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    block = bytes(1 << 16)
    try:
        while True:
            try:
                os.write(descriptor, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    return path
                block = block[: len(block) // 2]
    finally:
        os.close(descriptor)


def start_creator(
    tmp_path: Path, source: Path, root: Path, name: str, **options: Any
) -> subprocess.Popen[str]:
    """Start :data:`CREATOR` and return once its job ``name`` exists (it said so)."""
    program = tmp_path / "creator.py"
    program.write_text(CREATOR)
    creator = subprocess.Popen(
        [sys.executable, str(program), str(source), str(root), name, json.dumps(options)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert creator.stdout is not None
    line = creator.stdout.readline().strip()
    if line != name:
        creator.kill()
        raise AssertionError(f"the creator said {line!r}: {creator.communicate()[1]}")
    return creator


def final_record(folder: Path) -> dict[str, Any]:
    """The job's record as a reader without the library sees it, checked to be a valid
    final one, with nothing beside it that a write left behind."""
    data: dict[str, Any] = json.loads((folder / "metadata.json").read_text())
    assert data["status"] in ("COMPLETED", "FAILED", "CANCELLED"), data
    assert data["endedAt"], data
    assert data["events"][-1]["eventType"] == data["status"], data
    partial = [str(path) for path in folder.rglob("*.partial")]
    assert partial == [], f"partial files left: {partial}"
    assert not (folder / ".braket_async" / "reserve").exists(), "the reserve was not released"
    return data


def nothing_runs(data: dict[str, Any]) -> bool:
    """Whether the supervisor and the job's process named in the record are gone."""
    pids = [data.get(key, {}).get("pid") for key in ("supervisor", "jobProcess")]
    return not any(alive(pid) for pid in pids if isinstance(pid, int))
