"""A user's program in a shell with ``braket-async emulator``'s printed lines runs quantum
tasks and prices them with the official SDK, as it would against AWS."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap

import anyio
import pytest
from support.emulator_process import emulator_process

pytestmark = pytest.mark.anyio

PROGRAM = """
    import json

    from braket.aws import AwsDevice
    from braket.circuits import Circuit
    from braket.tracking import Tracker

    with Tracker() as tracker:
        device = AwsDevice("arn:aws:braket:us-east-1::device/qpu/braket-async/Emu-9")
        result = device.run(Circuit().h(0).cnot(0, 1), shots=50).result()
    print(json.dumps({"counts": result.measurement_counts, "cost": str(tracker.qpu_tasks_cost())}))
"""


async def test_the_printed_lines_run_and_price_quantum_tasks() -> None:
    async with emulator_process("--port", "0", "--moto-port", "0") as emulator:
        assert emulator.exports["BRAKET_PRICE_OFFERS_URL"] == (
            f"{emulator.url}/offers/v1.0/aws/AmazonBraket/current/index.csv"
        )
        user = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            textwrap.dedent(PROGRAM),
            stdout=asyncio.subprocess.PIPE,
            env=emulator.shell(),
        )
        with anyio.fail_after(120):
            out, _ = await user.communicate()
    assert user.returncode == 0
    answer = json.loads(out.decode().splitlines()[-1])
    assert set(answer["counts"]) <= {"00", "11"}
    assert sum(answer["counts"].values()) == 50
    assert answer["cost"] == "1.0000000000"  # Emu-9: 0.5 a task and 0.01 a shot (test prices)
