"""The owner of a local job killed with SIGKILL: how soon the job is over and gone.

Run from the repository root::

    .venv/bin/python benchmarks/owner_death.py [--runtime process|docker|both] [--repeat N]

An owner program creates a job (``detach=False``, the default) whose entry point starts
a ``setsid`` grandchild and then sleeps, prints the job's folder once the job has printed
its first line, and waits. This script kills the owner with SIGKILL and, from outside,
times (medians of ``--repeat`` runs, default 5):

- **final record**: until ``metadata.json`` says ``FAILED``;
- **nothing left**: until the supervisor, the job's process, the grandchild and (Docker)
  the container are all gone.

It reads files and ``/proc`` every 5 ms: there is nothing to await from another process.
It always exits 0: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from _common import DEFAULT_IMAGE, load_average, ms, progress, table

OWNER = textwrap.dedent(
    """
    import asyncio, json, sys
    from braket_async import LocalQuantumJob

    async def main(source, root, options):
        job = await LocalQuantumJob.create(
            "local:none/none", source, job_name="owned", root=root, **json.loads(options)
        )
        async for event in job.logs(wait=True):
            break
        print(job.folder, flush=True)
        await job.wait()

    asyncio.run(main(*sys.argv[1:]))
    """
)

JOB = textwrap.dedent(
    """
    import os, subprocess, time
    child = subprocess.Popen(["sleep", "300"], start_new_session=True)
    print("started", child.pid, os.getpid(), flush=True)
    time.sleep(300)
    """
)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def container_exists(name: str) -> bool:
    found = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=braket-async.job={name}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return bool(found.stdout.strip())


def until(condition: Callable[[], bool], timeout: float = 60) -> float:
    """Seconds until ``condition`` holds, read every 5 ms."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("not within 60 s")
        time.sleep(0.005)
    return time.perf_counter() - started


def one_run(runtime: str, image: str, work: Path) -> tuple[float, float, str]:
    source = work / "sleeper.py"
    source.write_text(JOB)
    (work / "owner.py").write_text(OWNER)
    options: dict[str, object] = {"runtime": runtime}
    if runtime == "docker":
        options |= {"image_uri": image, "network_mode": "none", "local_container_update": False}
    root = work / "jobs"
    owner = subprocess.Popen(
        [sys.executable, str(work / "owner.py"), str(source), str(root), json.dumps(options)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    folder = Path(owner.stdout.readline().strip())
    record = json.loads((folder / "metadata.json").read_text())
    supervisor = int(record["supervisor"]["pid"])
    pids = [supervisor]
    if runtime == "process":
        log = (folder / "log.txt").read_text().split()
        pids += [int(log[1]), int(log[2])]  # the grandchild, the entry point
    killed = time.perf_counter()
    owner.send_signal(signal.SIGKILL)
    owner.wait()

    def final() -> bool:
        try:
            status: object = json.loads((folder / "metadata.json").read_text())["status"]
            return status == "FAILED"
        except (OSError, ValueError):
            return False

    def gone() -> bool:
        if any(alive(pid) for pid in pids):
            return False
        return runtime != "docker" or not container_exists("owned")

    until(final)
    recorded = time.perf_counter() - killed
    until(gone)
    cleaned = time.perf_counter() - killed
    reason = json.loads((folder / "metadata.json").read_text()).get("failureReason", "")
    return recorded, cleaned, reason


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", choices=["process", "docker", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    options = parser.parse_args()
    runtimes = ["process", "docker"] if options.runtime == "both" else [options.runtime]
    print(f"python {sys.version.split()[0]}; at the start: {load_average()}")
    rows = []
    for runtime in runtimes:
        recorded, cleaned, reasons = [], [], set()
        for index in range(options.repeat):
            progress(f"{runtime}: run {index + 1}/{options.repeat}")
            with tempfile.TemporaryDirectory(prefix="owner-death-") as work:
                record_s, clean_s, reason = one_run(runtime, options.image, Path(work))
            recorded.append(record_s)
            cleaned.append(clean_s)
            reasons.add(reason.split(" (pid")[0])
        rows.append(
            [
                runtime,
                ms(statistics.median(recorded)),
                ms(max(recorded)),
                ms(statistics.median(cleaned)),
                ms(max(cleaned)),
                "; ".join(sorted(reasons)),
            ]
        )
    table(
        f"kill -9 of the owner, {options.repeat} runs (ms after the kill)",
        ["runtime", "final record", "max", "nothing left", "max", "failure reason"],
        rows,
    )


if __name__ == "__main__":
    main()
