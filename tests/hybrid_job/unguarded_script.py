"""A script without ``if __name__ == "__main__":``: its program is its top level.

python unguarded_script.py ROOT MARKER COUNT

It appends one line to MARKER each time its top level runs, reads ``sys.argv`` there
(an IndexError anywhere it runs without those arguments, as in a job that imported it),
and awaits COUNT decorated calls at once, printing their results as JSON.
"""

import asyncio
import json
import os
import sys

from braket_async import hybrid_job

root, marker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(marker, "a") as file:
    file.write(f"top level ran in pid {os.getpid()}\n")


@hybrid_job(device=None, local=True, root=root)
def square(x):
    return {"square": x * x, "job": os.environ["AMZN_BRAKET_JOB_NAME"]}


async def run_all():
    jobs = await asyncio.gather(*(square(x) for x in range(count)))
    results = await asyncio.gather(*(job.result() for job in jobs))
    return [{"name": job.name, "result": result} for job, result in zip(jobs, results, strict=True)]


print(json.dumps(asyncio.run(run_all())))
