"""Run a function as local hybrid jobs with @hybrid_job, then print the results.

python examples/hybrid_job.py

The job imports this file as a module (not as ``__main__``), so its top level must work
inside a job: ``braket_async.hybrid_job`` and ``braket_async.jobs`` do, and the program
itself lives under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from pathlib import Path

from braket_async import hybrid_job
from braket_async.jobs import log_metric

# Where the jobs' folders go (results, log.txt); only a path, nothing is made here.
JOBS_ROOT = Path(tempfile.gettempdir()) / "braket-async-examples"


@hybrid_job(device="local:braket/braket.local.qubit", local=True, root=JOBS_ROOT)
def minimise(start: float, steps: int = 20, learning_rate: float = 0.5) -> dict[str, float]:
    """Gradient descent on cos(x): a stand-in for a variational algorithm."""
    x = start
    for step in range(steps):
        x += learning_rate * math.sin(x)  # the gradient of cos is -sin
        log_metric("energy", math.cos(x), iteration_number=step)
    return {"x": round(x, 6), "energy": round(math.cos(x), 6)}


async def main() -> None:
    job = await minimise(0.5, steps=10)
    print(f"{job.name} is {await job.state()}; its last log line:")
    lines = [event.message async for event in job.logs(wait=True)]
    print("  |", lines[-1])
    print("result:", await job.result())

    # One job per call: three at once, each with its own arguments and result.
    starts = (0.1, 1.0, 2.0)
    jobs = await asyncio.gather(*(minimise(start) for start in starts))
    results = await asyncio.gather(*(job.result() for job in jobs))
    for start, job, result in zip(starts, jobs, results, strict=True):
        print(f"start={start}: {job.name} -> {result}")

    # The function itself, called here.
    print("called directly:", minimise.__wrapped__(0.5, steps=3))


if __name__ == "__main__":
    asyncio.run(main())
