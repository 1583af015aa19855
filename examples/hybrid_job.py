"""Run a function as local hybrid jobs with @hybrid_job, then print the results.

python examples/hybrid_job.py

The official decorator's parameters, plus ``await``. The function goes to each job by
value (as the official decorator sends it), so nothing of this script runs in a job;
its input file is found in the job at the relative path the function opens.
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
from pathlib import Path

from braket_async import hybrid_job
from braket_async.jobs import log_metric

# Where the jobs' folders go (results, log.txt); only a path, nothing is made here.
JOBS_ROOT = Path(tempfile.gettempdir()) / "braket-async-examples"
STEPS_FILE = "steps.txt"  # read by the job, at this relative path


@hybrid_job(
    device="local:braket/default",
    local=True,
    root=JOBS_ROOT,
    input_data=STEPS_FILE,
    data_format="pickle",  # any picklable result; reading it needs allow_pickle=True
)
def minimise(start: float, learning_rate: float = 0.5) -> dict[str, object]:
    """Gradient descent on cos(x): a stand-in for a variational algorithm."""
    with open(STEPS_FILE) as file:
        steps = int(file.read())
    x = start
    for step in range(steps):
        x += learning_rate * math.sin(x)  # the gradient of cos is -sin
        log_metric("energy", math.cos(x), iteration_number=step)
    return {"x": round(x, 6), "energy": round(math.cos(x), 6), "path": (start, x)}


async def main() -> None:
    job = await minimise(0.5)
    print(f"{job.name} is {await job.state()}; its last log line:")
    lines = [event.message async for event in job.logs(wait=True)]
    print("  |", lines[-1])
    print("result:", await job.result(allow_pickle=True))

    # One job per call: three at once, each with its own arguments and result.
    starts = (0.1, 1.0, 2.0)
    jobs = await asyncio.gather(*(minimise(start) for start in starts))
    results = await asyncio.gather(*(job.result(allow_pickle=True) for job in jobs))
    for start, job, result in zip(starts, jobs, results, strict=True):
        print(f"start={start}: {job.name} -> {result}")

    # The function itself, called here.
    print("called directly:", minimise.__wrapped__(0.5))


if __name__ == "__main__":
    # The input data, in a folder of its own: relative paths are the caller's.
    with tempfile.TemporaryDirectory(prefix="braket-async-example-") as folder:
        os.chdir(folder)
        Path(STEPS_FILE).write_text("10")
        asyncio.run(main())
