"""Start-up: ``import braket_async`` and the command line against starting Python itself.

Run from the repository root::

    .venv/bin/python benchmarks/startup.py [--repeat N]

Each command is started as a new process ``--repeat`` times (default 30), one run of the
floor (``python -c pass`` with the same interpreter) alternating with one run of each of
ours, after one untimed warm-up of each; the medians are compared. The targets are the
performance issue's: ``import braket_async`` and ``braket-async --help`` within 100 ms of
the floor. Then the largest imports of ``import braket_async`` and of ``braket-async
--help`` (``-X importtime``). It always exits 0: it is a report, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from _common import load_average, table

TARGET_SECONDS = 0.100  # over the floor
PYTHON = sys.executable
SCRIPT = str(Path(PYTHON).with_name("braket-async"))
COMMANDS = {
    "floor: python -c pass": [PYTHON, "-c", "pass"],
    "python -c 'import braket_async'": [PYTHON, "-c", "import braket_async"],
    "braket-async --help": [SCRIPT, "--help"],
    "braket-async run --help": [SCRIPT, "run", "--help"],
    "braket-async emulator --help": [SCRIPT, "emulator", "--help"],
}
TARGETS = ("python -c 'import braket_async'", "braket-async --help")


def wall(command: Sequence[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def largest_imports(command: Sequence[str], count: int = 6) -> str:
    """The ``count`` largest top-level imports of ``command`` (cumulative, ms)."""
    environment = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if name.startswith("  ") or not cumulative.strip().isdigit():
            continue  # nested, or the header
        rows.append((int(cumulative) / 1000, name.strip()))
    rows.sort(reverse=True)
    return ", ".join(f"{name} {milliseconds:.1f}" for milliseconds, name in rows[:count])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    options = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]} ({PYTHON}); {load_average()} at the start")
    for command in COMMANDS.values():
        wall(command)  # warm-up: the page cache, the bytecode caches
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(options.repeat):
        for name, command in COMMANDS.items():
            times[name].append(wall(command))
    floor = statistics.median(times["floor: python -c pass"])
    rows = []
    for name, samples in times.items():
        median = statistics.median(samples)
        rows.append(
            [
                name,
                f"{median * 1000:.1f}",
                f"{min(samples) * 1000:.1f}",
                f"{(median - floor) * 1000:+.1f}",
            ]
        )
    table(
        f"Start-up, median of {options.repeat} (ms)",
        ["command", "median", "min", "vs floor"],
        rows,
    )
    checks = []
    for name in TARGETS:
        over = statistics.median(times[name]) - floor
        verdict = "PASS" if over <= TARGET_SECONDS else "FAIL"
        checks.append(
            [
                name,
                f"floor {over * 1000:+.1f} ms",
                f"<= floor + {TARGET_SECONDS * 1000:.0f} ms",
                verdict,
            ]
        )
    table("Summary", ["target", "measured", "target value", "result"], checks)
    table(
        "Largest imports (PYTHONPROFILEIMPORTTIME, cumulative ms)",
        ["command", "imports"],
        [
            ["import braket_async", largest_imports([PYTHON, "-c", "import braket_async"])],
            ["braket-async --help", largest_imports([SCRIPT, "--help"])],
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
