"""The ``braket-async`` console script as users run it: a real process, its exit code,
stdout and stderr."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import anyio
import attrs

#: The console script pip installed next to the interpreter.
BRAKET_ASYNC = str(Path(sys.executable).parent / "braket-async")

#: A job that prints a line, then waits until the file its ``gate`` names exists (or
#: ``x`` is 0); saves ``x`` doubled, logs a metric, fails for ``x == 3``.
GATED = textwrap.dedent(
    """
    import os, time
    from braket_async.jobs import get_hyperparameters, log_metric, save_job_result
    hyperparameters = get_hyperparameters()
    x = int(hyperparameters.get("x", "1"))
    print(f"started x={x}", flush=True)
    gate = hyperparameters.get("gate")
    while gate and not os.path.exists(gate):
        time.sleep(0.02)
    if x == 3:
        raise ValueError("three is not allowed")
    for i in range(3):
        log_metric("cost", x / (i + 1), iteration_number=i)
    print(f"done x={x}", flush=True)
    save_job_result({"doubled": 2 * x})
    """
)


@attrs.frozen
class Finished:
    """A command that ended."""

    code: int
    out: str
    err: str


def cli(
    *arguments: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> Finished:
    """Run ``braket-async`` to its end (for tests with nothing in their own loop)."""
    done = subprocess.run(
        [BRAKET_ASYNC, *arguments],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Finished(done.returncode, done.stdout, done.stderr)


async def acli(
    *arguments: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    seconds: float = 120,
) -> Finished:
    """Run ``braket-async`` to its end without blocking the loop (an emulator may run in it)."""
    process = await start(*arguments, cwd=cwd, env=env)
    with anyio.fail_after(seconds):
        out, err = await process.communicate()
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


async def start(
    *arguments: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start ``braket-async`` with piped stdout and stderr."""
    return await asyncio.create_subprocess_exec(
        BRAKET_ASYNC,
        *arguments,
        cwd=cwd,
        env=dict(env) if env is not None else dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def one_line_error(finished: Finished) -> str:
    """The command's error line; asserts it is one line, with no traceback."""
    lines = finished.err.strip().splitlines()
    assert lines, "no error message"
    assert "Traceback" not in finished.err, finished.err
    assert lines[-1].startswith("braket-async: error: "), finished.err
    return lines[-1]
