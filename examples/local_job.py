"""Run one local job on the process runtime: print its log live, then its result.

python examples/local_job.py [--runtime docker --image IMAGE]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from braket_async import LocalQuantumJob, MetricType

ALGORITHM = Path(__file__).parent / "algorithm" / "sweep_algorithm.py"


async def main(runtime: str, image: str | None) -> None:
    root = Path(tempfile.mkdtemp(prefix="braket-async-example-"))
    job = await LocalQuantumJob.create(
        device="local:braket/braket.local.qubit",
        source_module=ALGORITHM,
        hyperparameters={"steps": 8, "learning_rate": 0.4},
        runtime=runtime,  # type: ignore[arg-type]
        image_uri=image,
        network_mode="none" if runtime == "docker" else None,
        root=root,
    )
    print(f"{job.arn} is {await job.state()}; its log:")
    async for line in job.logs(wait=True):
        print(f"  | {line}")
    print("result:", await job.result())
    metrics = await job.metrics(MetricType.ITERATION_NUMBER)
    print("energy by iteration:", [round(value, 4) for value in metrics["energy"]])
    print("outputs in", job.folder)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=["process", "docker"], default="process")
    parser.add_argument("--image", help="container image for --runtime docker")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runtime, arguments.image))
