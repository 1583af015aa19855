"""A script whose decorated function runs as a job, by value (the default) or by
reference (``HYBRID_JOB_SERIALIZATION=json``: the job imports this file as a module);
either way the ``__main__`` block does not run again in the job (it would fail there).

HYBRID_JOB_ROOT=<root> python hybrid_job_script.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from braket_async import hybrid_job


@hybrid_job(
    device=None,
    local=True,
    root=os.environ.get("HYBRID_JOB_ROOT"),
    serialization=os.environ.get("HYBRID_JOB_SERIALIZATION", "cloudpickle"),  # type: ignore[arg-type]
)
def triple(value: int) -> dict[str, object]:
    return {"tripled": 3 * value, "module": __name__}


async def main() -> None:
    job = await triple(14)
    print(json.dumps({"name": job.name, "result": await job.result()}))


if __name__ == "__main__":
    if os.environ.get("AMZN_BRAKET_JOB_NAME"):
        sys.exit("the __main__ block ran inside the job")
    asyncio.run(main())
