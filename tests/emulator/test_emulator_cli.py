"""``braket-async emulator`` as a real process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import aiobotocore.session
import anyio
import pytest
from support.shell import LAST_LINE, bare_shell, paste

from braket_async.__main__ import main
from braket_async.emulator.testing import clean_aws_environment

pytestmark = pytest.mark.anyio


async def start_emulator() -> asyncio.subprocess.Process:
    """``braket-async emulator`` with a fake runner on a free port, its stdout piped."""
    return await asyncio.create_subprocess_exec(
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


async def test_emulator_command_serves_until_terminated() -> None:
    process = await start_emulator()
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
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err


async def test_a_shell_with_only_the_printed_lines_runs_a_job(tmp_path: Path) -> None:
    """What a new user does: start the emulator, paste its lines, create a job."""
    process = await start_emulator()
    try:
        assert process.stdout is not None
        # A shell of the user's: no AWS settings at all but what the emulator printed
        # (the jobs role is found in IAM).
        lines = []
        with anyio.fail_after(30):
            while not (lines and lines[-1].startswith(LAST_LINE)):
                line = (await process.stdout.readline()).decode()
                assert line, "the emulator exited before printing its lines"
                lines.append(line)
        shell = paste(bare_shell(), lines)
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(shell)
        source = tmp_path / "algo.py"
        source.write_text("print('hello')\n")
        program = textwrap.dedent(
            f"""
            import asyncio
            from braket_async.aws import AwsQuantumJob
            async def main():
                job = await AwsQuantumJob.create(
                    "arn:aws:braket:::device/quantum-simulator/amazon/sv1", {str(source)!r})
                async with job:
                    print(await job.wait(poll_interval_seconds=0.1))
            asyncio.run(main())
            """
        )
        user = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            program,
            env=shell,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        with anyio.fail_after(60):
            out, err = await user.communicate()
        assert user.returncode == 0, err.decode()
        assert out.decode().strip() == "COMPLETED"
    finally:
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            await process.wait()


def test_without_moto_the_emulator_says_how_to_install_it(tmp_path: Path) -> None:
    # A user who installed the package without the emulator extra: moto is not there.
    hidden = tmp_path / "no-moto" / "moto"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'moto'\", name='moto')\n"
    )
    environment = clean_aws_environment()
    environment["PYTHONPATH"] = str(hidden.parent)
    result = subprocess.run(
        [sys.executable, "-m", "braket_async", "emulator", "--port", "0"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
    assert "pip install 'braket-async[emulator]'" in result.stderr
