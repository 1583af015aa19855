"""Quickstart: one local job, its log as it runs, its result.

python examples/quickstart.py
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from braket_async import LocalQuantumJob

ALGORITHM = Path(__file__).parent / "algorithm" / "sweep_algorithm.py"


async def main() -> None:
    job = await LocalQuantumJob.create(
        "local:braket/braket.local.qubit",
        ALGORITHM,
        hyperparameters={"steps": 5},
        root=tempfile.mkdtemp(prefix="braket-async-quickstart-"),
    )
    await job.logs(wait=True)  # prints each line as the job prints it
    print("result:", await job.result())


if __name__ == "__main__":
    asyncio.run(main())
