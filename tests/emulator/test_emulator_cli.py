"""``braket-async emulator`` as a real process."""

from __future__ import annotations

import asyncio
import signal
import sys

import aiobotocore.session
import anyio
import pytest

from braket_async.__main__ import main
from braket_async.emulator.testing import clean_aws_environment

pytestmark = pytest.mark.anyio


async def test_emulator_command_serves_until_terminated() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "braket_async",
        "emulator",
        "--port",
        "0",
        "--fake-runner",
        stdout=asyncio.subprocess.PIPE,
        env=clean_aws_environment(),
    )
    try:
        assert process.stdout is not None
        exports = {}
        with anyio.fail_after(30):
            while len(exports) < 2:
                line = (await process.stdout.readline()).decode()
                assert line, "the emulator exited before printing its endpoints"
                if line.startswith("export "):
                    name, value = line.removeprefix("export ").strip().split("=", 1)
                    exports[name] = value
        url = exports["AWS_ENDPOINT_URL_BRAKET"]
        assert url.startswith("http://127.0.0.1:")
        session = aiobotocore.session.get_session()
        async with session.create_client(
            "braket", endpoint_url=url, region_name="us-east-1"
        ) as braket:
            devices = await braket.search_devices(filters=[])
        assert devices["devices"]

        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_command_line_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert main(["nonsense"]) == 2
    assert "unknown command" in capsys.readouterr().err
