"""A program that removes a job's folder and exits: no traceback at its exit, on both
runtimes, whether the job had ended or still ran (then its processes are ended).

Each is a real program in a subprocess; its stderr must be empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from support.docker import LOCAL_RUNTIMES
from support.owning import alive, wait_until

PRINTS_A_LOT = """
for i in range(100_000):
    print(f"line {i}")
"""

GATED = """
import time
print("ready", flush=True)
while True:
    time.sleep(1)
"""

#: Follows the job to the end of its log (or its first line), removes its folder and
#: returns from asyncio.run; prints the lines it read and the job's process.
PROGRAM = textwrap.dedent(
    """
    import asyncio, json, shutil, sys
    from braket_async import LocalQuantumJob

    async def main(source, root, options, lines):
        job = await LocalQuantumJob.create("local:none/none", source, root=root, **options)
        read = 0
        async for event in job.logs(wait=True):
            read += 1
            if read == lines:
                break
        record = await job.metadata()
        shutil.rmtree(job.folder)
        print(json.dumps({"read": read, "process": record.get("jobProcess")}), flush=True)

    source, root, options, lines = sys.argv[1:]
    asyncio.run(main(source, root, json.loads(options), int(lines)))
    """
)


def run(tmp_path: Path, source: str, options: dict[str, Any], lines: int) -> dict[str, Any]:
    (tmp_path / "job.py").write_text(textwrap.dedent(source))
    (tmp_path / "program.py").write_text(PROGRAM)
    root = tmp_path / "jobs"
    root.mkdir(exist_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            str(tmp_path / "program.py"),
            str(tmp_path / "job.py"),
            str(root),
            json.dumps(options),
            str(lines),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert list(root.iterdir()) == []
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("options", LOCAL_RUNTIMES)
def test_removing_the_folder_of_a_job_that_ended_then_exiting(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    # The job's owner task outlives the end of the log a moment (the supervisor
    # removes the container, closes its runtime): it finds the folder gone.
    for _ in range(2):
        assert run(tmp_path, PRINTS_A_LOT, options, lines=0)["read"] == 100_000


@pytest.mark.parametrize("options", LOCAL_RUNTIMES)
def test_removing_the_folder_of_a_running_job_then_exiting(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    result = run(tmp_path, GATED, options, lines=1)
    assert result["read"] == 1
    process = result["process"]
    if process is not None:  # the process runtime's: ended with its job
        wait_until(lambda: not alive(process["pid"]))
