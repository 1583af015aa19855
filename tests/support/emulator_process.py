"""``braket-async emulator`` as a real process, and its ``show`` / ``set`` commands."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import attrs

from braket_async.aws import AwsSession
from braket_async.emulator.testing import clean_aws_environment

COMMAND = (sys.executable, "-m", "braket_async", "emulator")


@attrs.define
class EmulatorProcess:
    """A running ``braket-async emulator`` and what it printed."""

    process: asyncio.subprocess.Process
    exports: dict[str, str]
    unset: list[str]
    notes: dict[str, str]  # "# name: value" lines

    @property
    def url(self) -> str:
        return self.exports["AWS_ENDPOINT_URL_BRAKET"]

    def shell(self) -> dict[str, str]:
        """A user's shell with nothing of AWS but the printed lines."""
        shell = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "BRAKET_"))
        }
        shell["AWS_CONFIG_FILE"] = shell["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        shell.update(self.exports)
        for name in self.unset:
            shell.pop(name, None)
        return shell

    def session(self, **options: Any) -> AwsSession:
        """An AwsSession as a user's program in :meth:`shell` gets one."""
        moto = self.exports["AWS_ENDPOINT_URL"]
        endpoints = {"braket": self.url, "s3": moto, "logs": moto, "sts": moto, "iam": moto}
        return AwsSession(
            region=self.exports["AWS_DEFAULT_REGION"], endpoint_urls=endpoints, **options
        )  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def emulator_process(
    *options: str, environment: Mapping[str, str] | None = None
) -> AsyncIterator[EmulatorProcess]:
    """Start ``braket-async emulator <options>``, read its lines, stop it on exit."""
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *options,
        stdout=asyncio.subprocess.PIPE,
        env=dict(environment) if environment is not None else clean_aws_environment(),
    )
    try:
        assert process.stdout is not None
        running = EmulatorProcess(process, {}, [], {})
        with anyio.fail_after(30):
            while True:
                line = (await process.stdout.readline()).decode().rstrip("\n")
                assert line, "the emulator exited before printing its lines"
                if line.startswith("export "):
                    name, value = line.removeprefix("export ").split("=", 1)
                    running.exports[name] = value
                elif line.startswith("unset "):
                    running.unset.extend(line.split()[1:])
                elif line.startswith("# "):
                    name, value = line.removeprefix("# ").split(": ", 1)
                    running.notes[name] = value
                    if name == "call counters":
                        break
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            with anyio.move_on_after(30):
                await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def emulator_command(*arguments: str, environment: Mapping[str, str]) -> tuple[int, str, str]:
    """Run ``braket-async emulator <arguments>`` to its end: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(environment),
    )
    with anyio.fail_after(30):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
