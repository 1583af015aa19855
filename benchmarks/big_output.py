"""Big lines, progress bars and big inputs: time and peak memory, beside the floor.

Run from the repository root::

    .venv/bin/python benchmarks/big_output.py [--runtime process|docker|both] [--mb 50]

Each case runs in a fresh interpreter of this script (``--case``), so that its peak RSS
is its own. It prints one table and a summary against targets with PASS/FAIL, and always
exits 0: it is a report, not a test.

- **Long line.** A job writes one line of ``--mb`` MB (default 50) without a line end
  and exits. *ours*: ``create()`` through ``wait()``, then the line's length in
  ``log.txt`` is checked. *floor*: the same program, its output read to the end through
  a pipe (``sys.executable`` as an asyncio subprocess; ``docker run --rm`` for Docker).
- **Progress bar.** A job writes 200,000 ``\\r``-separated updates (``\\rstep i/N``,
  about 3 MB with no line end until the last) and exits; ours and floor as above.
- **Big input.** A 1 GiB file as an input channel; the job checks its size. Reported:
  the peak RSS (``VmHWM``) of the creating process and of the job's supervisor (the
  process that streams the tree into the container), sampled while the job runs.
  Target: both under 150 MB. The peak RSS of both is shown for the other cases too.

The official SDK's local mode is not run (it needs an AWS session and the ECR image).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import DEFAULT_IMAGE, DEVICE, load_average, ms, progress, table

from braket_async import JobState, LocalQuantumJob

PROGRESS_UPDATES = 200_000
INPUT_BYTES = 1 << 30
RSS_TARGET_MB = 150.0

LINE_PROGRAM = "import sys; sys.stdout.write('x' * {size}); sys.stdout.flush()"
PROGRESS_PROGRAM = (
    "import sys\n"
    "for i in range({n}):\n"
    "    sys.stdout.write(f'\\rstep {{i}}/{n}')\n"
    "sys.stdout.write('\\n'); sys.stdout.flush()\n"
)
INPUT_JOB = """\
import os
from braket_async.jobs import get_input_data_dir, save_job_result
path = os.path.join(get_input_data_dir("big"), "big.bin")
save_job_result({"size": os.path.getsize(path)})
"""


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """The peak resident set (VmHWM) of a live process, in MB; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def runtime_options(runtime: str, image: str) -> dict[str, Any]:
    if runtime == "docker":
        return {"runtime": "docker", "image_uri": image, "network_mode": "none"}
    return {"runtime": "process"}


async def floor(runtime: str, image: str, program: str) -> float:
    """Seconds to run ``program`` and read all its output through a pipe."""
    if runtime == "docker":
        command = ["docker", "run", "--rm", "--network", "none", image, "python3", "-c", program]
    else:
        command = [sys.executable, "-c", program]
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    while await process.stdout.read(1 << 20):
        pass
    await process.wait()
    return time.perf_counter() - started


async def output_case(runtime: str, image: str, program: str, work: Path) -> dict[str, Any]:
    source = work / "emit.py"
    source.write_text(program + "\n")
    await floor(runtime, image, program)  # warm-up
    floor_seconds = await floor(runtime, image, program)
    started = time.perf_counter()
    job = await LocalQuantumJob.create(
        DEVICE, source, root=work / "jobs", **runtime_options(runtime, image)
    )
    supervisor_rss = await wait_sampling(job)
    ours_seconds = time.perf_counter() - started
    parent_rss = peak_rss_mb()  # before this script reads the log itself
    log = Path(job.folder) / "log.txt"
    longest = await asyncio.to_thread(
        lambda: max(len(line) for line in log.read_bytes().split(b"\n"))
    )
    return {
        "floor": floor_seconds,
        "ours": ours_seconds,
        "longest_line": longest,
        "parent_rss": parent_rss,
        "supervisor_rss": supervisor_rss,
    }


async def wait_sampling(job: LocalQuantumJob) -> float | None:
    """Wait for the job's final record; return its supervisor's peak RSS in MB (None
    when the job runs inside this process)."""
    supervisor = (await job.metadata()).get("supervisor", {})
    peak: float | None = None
    waiting = asyncio.ensure_future(job.wait())
    while not waiting.done():
        if not supervisor.get("inProcess"):
            peak = peak_rss_mb(supervisor["pid"]) or peak
        await asyncio.wait([waiting], timeout=0.02)
    state = await waiting
    if state is not JobState.COMPLETED:
        reason = (await job.metadata()).get("failureReason")
        raise RuntimeError(f"job {job.name} ended {state.value}: {reason}")
    return peak


def write_input(path: Path) -> None:
    with open(path, "wb") as file:
        block = os.urandom(1 << 20)
        for _ in range(INPUT_BYTES >> 20):
            file.write(block)


async def input_case(runtime: str, image: str, work: Path) -> dict[str, Any]:
    data = work / "data"
    data.mkdir()
    await asyncio.to_thread(write_input, data / "big.bin")
    source = work / "check_input.py"
    source.write_text(INPUT_JOB)
    before = peak_rss_mb()
    started = time.perf_counter()
    job = await LocalQuantumJob.create(
        DEVICE,
        source,
        input_data={"big": data},
        root=work / "jobs",
        **runtime_options(runtime, image),
    )
    supervisor_peak = await wait_sampling(job)
    result = await job.result()
    return {
        "ours": time.perf_counter() - started,
        "size_ok": result == {"size": INPUT_BYTES},
        "parent_rss_before": before,
        "parent_rss": peak_rss_mb(),
        "supervisor_rss": supervisor_peak,
    }


async def run_case(case: str, runtime: str, image: str, size_mb: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="big-output-") as work:
        if case == "line":
            program = LINE_PROGRAM.format(size=size_mb * 1_000_000)
            return await output_case(runtime, image, program, Path(work))
        if case == "progress":
            program = PROGRESS_PROGRAM.format(n=PROGRESS_UPDATES)
            return await output_case(runtime, image, program, Path(work))
        return await input_case(runtime, image, Path(work))


def in_fresh_interpreter(case: str, runtime: str, options: argparse.Namespace) -> dict[str, Any]:
    progress(f"{runtime}: {case}")
    command = [
        sys.executable,
        __file__,
        "--case",
        case,
        "--runtime",
        runtime,
        "--image",
        options.image,
        "--mb",
        str(options.mb),
    ]
    finished = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", choices=["process", "docker", "both"], default="both")
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--mb", type=int, default=50, help="size of the long line in MB")
    parser.add_argument("--case", choices=["line", "progress", "input"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    runtimes = ["process", "docker"] if options.runtime == "both" else [options.runtime]
    if options.case:
        result = asyncio.run(run_case(options.case, runtimes[0], options.image, options.mb))
        print(json.dumps(result))
        return

    print(f"python {sys.version.split()[0]}; at the start: {load_average()}")
    rows = []
    summary = []
    for runtime in runtimes:
        for case, label in (("line", f"{options.mb} MB line"), ("progress", "progress bar")):
            result = in_fresh_interpreter(case, runtime, options)
            expected = options.mb * 1_000_000 if case == "line" else None
            whole = expected is None or result["longest_line"] == expected
            rows.append(
                [
                    runtime,
                    label,
                    ms(result["floor"]),
                    ms(result["ours"]),
                    f"{result['ours'] / result['floor']:.2f}x",
                    mb(result["parent_rss"]),
                    mb(result["supervisor_rss"]),
                    "OK" if whole else f"FAIL ({result['longest_line']} bytes)",
                ]
            )
            summary.append(
                (f"{runtime} {label}: the line arrives whole", "OK" if whole else "FAIL")
            )
        result = in_fresh_interpreter("input", runtime, options)
        rows.append(
            [
                runtime,
                "1 GiB input",
                "-",
                ms(result["ours"]),
                "-",
                mb(result["parent_rss"]),
                mb(result["supervisor_rss"]),
                "OK" if result["size_ok"] else "FAIL",
            ]
        )
        peaks = [value for value in (result["parent_rss"], result["supervisor_rss"]) if value]
        within = bool(peaks) and max(peaks) < RSS_TARGET_MB
        summary.append(
            (
                f"{runtime} 1 GiB input: peak RSS {mb(max(peaks) if peaks else None)} MB"
                f" < {RSS_TARGET_MB:.0f} MB",
                "PASS" if within and result["size_ok"] else "FAIL",
            )
        )
    table(
        "Big output and input (ms; peak RSS in MB)",
        ["runtime", "case", "floor", "ours", "ratio", "parent RSS", "supervisor RSS", "check"],
        rows,
    )
    table("Summary", ["what", "result"], summary)


if __name__ == "__main__":
    main()
