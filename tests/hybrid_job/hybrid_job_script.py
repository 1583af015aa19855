"""A script whose decorated function runs as a job: the job imports this file without
running the ``__main__`` block again (it would fail there).

python hybrid_job_script.py <root>
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from braket_async import hybrid_job


@hybrid_job(device=None, local=True, root=os.environ.get("HYBRID_JOB_ROOT"))
def triple(value: int) -> dict[str, object]:
    return {"tripled": 3 * value, "module": __name__}


async def main() -> None:
    job = await triple(14)
    print(json.dumps({"name": job.name, "result": await job.result()}))


if __name__ == "__main__":
    if os.environ.get("AMZN_BRAKET_JOB_NAME"):
        sys.exit("the __main__ block ran inside the job")
    asyncio.run(main())
