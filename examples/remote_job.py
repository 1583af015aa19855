"""A job on Amazon Braket, or on the local emulator: start ``braket-async emulator`` in
another shell, paste the lines it prints into this one, then

python examples/remote_job.py

The same program runs against the real service with your AWS credentials.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from braket_async.aws import AwsQuantumJob, AwsSession

ALGORITHM = Path(__file__).parent / "algorithm" / "sweep_algorithm.py"
SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


async def main() -> None:
    async with AwsSession() as session:
        job = await AwsQuantumJob.create(
            SV1, ALGORITHM, hyperparameters={"steps": 4}, aws_session=session
        )
        print(f"created {job.arn}")
        # Remote logs are read from CloudWatch Logs; poll every second here.
        async for event in job.logs(wait=True, poll_interval_seconds=1):
            print("  |", event.message)
        print("state:", await job.state())
        print("result:", await job.result(poll_interval_seconds=1))


if __name__ == "__main__":
    asyncio.run(main())
