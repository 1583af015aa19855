"""Running a program that awaits a local job, and pressing Ctrl-C in it.

Shared by the process and Docker tests; imported by module name (``tests/`` is on
``sys.path`` through its ``conftest.py``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

PROGRAM = textwrap.dedent(
    """
    import asyncio, sys
    from braket_async import LocalQuantumJob

    async def main(source, root, runtime, image):
        job = await LocalQuantumJob.create(
            "local:none/none", source, job_name="interrupted", root=root,
            runtime=runtime, image_uri=image or None, local_container_update=False,
            network_mode="none" if runtime == "docker" else None,
        )
        async for line in job.logs(wait=True):
            print(line, flush=True)

    asyncio.run(main(*sys.argv[1:]))
    """
)

JOB = textwrap.dedent(
    """
    import os, time
    print("job-pid", os.getpid(), flush=True)
    while True:
        time.sleep(3600)
    """
)


def run_and_interrupt(tmp_path: Path, runtime: str, image: str = "") -> tuple[int, str]:
    """Start the program, wait for the job's first line, send SIGINT; return its pid."""
    (tmp_path / "program.py").write_text(PROGRAM)
    (tmp_path / "blocking.py").write_text(JOB)
    root = tmp_path / "jobs"
    root.mkdir()
    with subprocess.Popen(
        [
            sys.executable,
            str(tmp_path / "program.py"),
            str(tmp_path / "blocking.py"),
            str(root),
            runtime,
            image,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as program:
        assert program.stdout is not None
        first = program.stdout.readline()
        assert first.startswith("job-pid"), first + program.communicate()[1]
        program.send_signal(signal.SIGINT)
        _, errors = program.communicate(timeout=60)
    assert program.returncode != 0
    assert "KeyboardInterrupt" in errors
    metadata = json.loads((root / "interrupted" / "metadata.json").read_text())
    assert metadata["status"] == "CANCELLED"
    return int(first.split()[1]), errors
