"""A local job on a full disk: how soon it is FAILED (and not hung).

Run as root (it mounts a tmpfs) from the repository root::

    .venv/bin/python benchmarks/disk_full.py [--runtime process|docker|both] [--repeat N]

The job root is a tmpfs of 8 MB, mounted for each run and unmounted after. Cases, each
timed until ``metadata.json`` says ``FAILED`` (medians and maxima of ``--repeat`` runs,
default 3):

- **flood**: a job prints 50 MB; from ``create()`` (in this process) on;
- **save**: a job saves a 50 MB result; from ``create()`` on;
- **cancel**: a detached job waits, the disk is filled, and ``braket-async cancel
  --wait`` runs in another process; from starting that command on (its interpreter's
  start included);
- **owner death**: the disk is filled under a waiting job, and its creator is killed
  with SIGKILL; from the kill on.

It reads files every 5 ms where another process is at work. It always exits 0: it is a
report, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import functools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import DEFAULT_IMAGE, load_average, ms, progress, table

from braket_async import LocalQuantumJob

FLOOD = 'import sys\nfor _ in range(500_000):\n    sys.stdout.write("x" * 99 + "\\n")\n'
SAVE = 'from braket_async.jobs import save_job_result\nsave_job_result({"b": "y" * 50_000_000})\n'
WAITING = 'import time\nprint("ready", flush=True)\ntime.sleep(600)\n'
CREATOR = textwrap.dedent(
    """
    import asyncio, json, sys
    from braket_async import LocalQuantumJob

    async def main(source, root, options):
        options = json.loads(options)
        job = await LocalQuantumJob.create(
            "local:none/none", source, job_name="job", root=root, **options
        )
        print(job.folder, flush=True)
        if not options.get("detach"):
            await job.wait()

    asyncio.run(main(*sys.argv[1:]))
    """
)
BRAKET_ASYNC = str(Path(sys.executable).parent / "braket-async")


@contextlib.contextmanager
def small_disk() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="disk-full-") as work:
        disk = Path(work) / "disk"
        disk.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], check=True)
        try:
            yield disk
        finally:
            subprocess.run(["umount", "--lazy", str(disk)], check=True)


def fill(disk: Path) -> None:
    descriptor = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    block = bytes(1 << 16)
    try:
        while block:
            try:
                os.write(descriptor, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                block = block[: len(block) // 2]
    finally:
        os.close(descriptor)


def status(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / "metadata.json").read_text())["status"])
    except (OSError, ValueError, KeyError):
        return None


def until(condition: Callable[[], bool], timeout: float = 120) -> None:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"not within {timeout} s")
        time.sleep(0.005)


def write_source(disk: Path, text: str) -> Path:
    source = disk.parent / "job.py"
    source.write_text(text)
    return source


def in_a_loop(text: str, options: dict[str, Any], disk: Path) -> tuple[float, str]:
    return asyncio.run(created_to_failed(disk, text, options))


async def created_to_failed(disk: Path, text: str, options: dict[str, Any]) -> tuple[float, str]:
    source = write_source(disk, text)
    started = time.perf_counter()
    job = await LocalQuantumJob.create(
        "local:none/none", source, job_name="job", root=disk, **options
    )
    state = await job.wait(poll_interval_seconds=0.05)
    elapsed = time.perf_counter() - started
    return elapsed, f"{state}: {(await job.metadata()).get('failureReason')}"


def start_creator(disk: Path, options: dict[str, Any]) -> tuple[subprocess.Popen[str], Path]:
    source = write_source(disk, WAITING)
    program = disk.parent / "creator.py"
    program.write_text(CREATOR)
    creator = subprocess.Popen(
        [sys.executable, str(program), str(source), str(disk), json.dumps(options)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert creator.stdout is not None
    folder = Path(creator.stdout.readline().strip())
    until(lambda: (folder / "log.txt").read_text().startswith("ready"))
    return creator, folder


def cancelled_to_failed(disk: Path, options: dict[str, Any]) -> tuple[float, str]:
    creator, folder = start_creator(disk, {**options, "detach": True})
    creator.communicate()
    fill(disk)
    started = time.perf_counter()
    subprocess.run(
        [BRAKET_ASYNC, "cancel", "--wait", "--root", str(disk), "job"],
        capture_output=True,
        check=True,
    )
    until(lambda: status(folder) == "FAILED")
    elapsed = time.perf_counter() - started
    return elapsed, f"FAILED: {json.loads((folder / 'metadata.json').read_text())['failureReason']}"


def killed_to_failed(disk: Path, options: dict[str, Any]) -> tuple[float, str]:
    creator, folder = start_creator(disk, options)
    fill(disk)
    started = time.perf_counter()
    creator.send_signal(signal.SIGKILL)
    creator.communicate()
    until(lambda: status(folder) == "FAILED")
    elapsed = time.perf_counter() - started
    reason = json.loads((folder / "metadata.json").read_text())["failureReason"]
    return elapsed, f"FAILED: {reason.split(' (pid')[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", choices=["process", "docker", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    arguments = parser.parse_args()
    runtimes = ["process", "docker"] if arguments.runtime == "both" else [arguments.runtime]
    print(f"python {sys.version.split()[0]}; at the start: {load_average()}")
    rows = []
    for runtime in runtimes:
        options: dict[str, Any] = {"runtime": runtime}
        if runtime == "docker":
            options |= {"image_uri": arguments.image, "network_mode": "none"}
            options["local_container_update"] = False
        cases: dict[str, Callable[[Path], tuple[float, str]]] = {
            "flood": functools.partial(in_a_loop, FLOOD, options),
            "save": functools.partial(in_a_loop, SAVE, options),
            "cancel": functools.partial(cancelled_to_failed, options=options),
            "owner death": functools.partial(killed_to_failed, options=options),
        }
        for case, run in cases.items():
            times, outcomes = [], set()
            for index in range(arguments.repeat):
                progress(f"{runtime} {case}: run {index + 1}/{arguments.repeat}")
                with small_disk() as disk:
                    elapsed, outcome = run(disk)
                times.append(elapsed)
                outcomes.add(outcome.replace(str(disk), "<disk>"))
            rows.append(
                [
                    runtime,
                    case,
                    ms(statistics.median(times)),
                    ms(max(times)),
                    "; ".join(sorted(outcomes)),
                ]
            )
    table(
        f"a job on a full 8 MB disk, {arguments.repeat} runs (ms until the record is FAILED)",
        ["runtime", "case", "median", "max", "outcome"],
        rows,
    )


if __name__ == "__main__":
    main()
