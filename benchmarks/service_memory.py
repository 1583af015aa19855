"""Memory of the example service under rounds of concurrent log streams (SSE clients).

Starts ``examples/service/app.py`` as a process of its own, submits one job and waits
for it to end, then runs ``--rounds`` rounds of ``--clients`` concurrent clients that
each read the job's whole log stream (``GET /api/jobs/{name}/log``) to its ``end``
event. After each round it prints the service's RSS, its open file descriptors and its
threads, read from ``/proc``: a leak grows with every round, an allocator that keeps
freed memory for reuse levels off.

    .venv/bin/python benchmarks/service_memory.py [--rounds 20] [--clients 200] [--steps 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "examples" / "service" / "app.py"


def _status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            fields[key] = int(value.split()[0])
    fields["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return fields


@contextlib.asynccontextmanager
async def _service(root: Path, environment: dict[str, str]) -> AsyncIterator[tuple[int, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(APP), "--port", "0", "--root", str(root),
        stdout=asyncio.subprocess.PIPE, env=environment,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        line = (await process.stdout.readline()).decode()
        match = re.search(r"http://\S+/", line)
        if match is None:
            raise RuntimeError(f"the service printed {line!r}")
        yield process.pid, match.group(0)
    finally:
        process.terminate()
        await process.wait()


async def _read_stream(session: aiohttp.ClientSession, url: str) -> int:
    lines = 0
    async with session.get(url) as response:
        async for raw in response.content:
            if raw.startswith(b"event: line"):
                lines += 1
            elif raw.startswith(b"event: end"):
                break
    return lines


async def main(options: argparse.Namespace) -> None:
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"service-memory-{os.getpid()}"
    root.mkdir()
    environment = dict(os.environ)
    if options.malloc_arena_max:
        environment["MALLOC_ARENA_MAX"] = str(options.malloc_arena_max)
    async with _service(root, environment) as (pid, base):
        async with aiohttp.ClientSession(base) as session:
            body = {
                "algorithm": "optimise",
                "hyperparameters": {"steps": options.steps, "seconds_per_step": 0},
            }
            async with session.post("/api/jobs", json=body) as response:
                name = (await response.json())["name"]
            lines = await _read_stream(session, f"/api/jobs/{name}/log")  # until it ends
        print(
            f"service pid {pid}; job {name} ({lines} log lines); {options.clients} clients a round"
        )
        print(f"{'round':>5} {'RSS MB':>8} {'peak MB':>8} {'fds':>5} {'threads':>7} {'s':>6}")
        _print_row("start", _status(pid), None)
        for round_number in range(1, options.rounds + 1):
            began = time.monotonic()
            # A session a round: every connection is closed before the reading.
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(base, connector=connector) as session:
                counts = await asyncio.gather(
                    *(
                        _read_stream(session, f"/api/jobs/{name}/log")
                        for _ in range(options.clients)
                    )
                )
            if any(count != lines for count in counts):
                print(f"round {round_number}: a client got {min(counts)} lines, not {lines}")
            await asyncio.sleep(0.5)  # the service closes its side of the connections
            _print_row(str(round_number), _status(pid), time.monotonic() - began)


def _print_row(label: str, status: dict[str, int], seconds: float | None) -> None:
    took = "" if seconds is None else f"{seconds:6.2f}"
    print(
        f"{label:>5} {status['VmRSS'] / 1024:8.1f} {status['VmHWM'] / 1024:8.1f}"
        f" {status['fds']:5d} {status['Threads']:7d} {took:>6}",
        flush=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--steps", type=int, default=200, help="log lines of the job")
    parser.add_argument(
        "--malloc-arena-max", type=int, default=0, help="MALLOC_ARENA_MAX for the service"
    )
    asyncio.run(main(parser.parse_args()))
