"""Functions that tests run as hybrid jobs; the jobs import this module by reference.

Its top level must import inside a job, where ``braket_async`` is the in-job library
only (plus the ``hybrid_job`` stand-in).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from braket_async import hybrid_job
from braket_async.jobs import PersistedJobDataFormat


def add(a: int, b: int = 10) -> int:
    return a + b


def echo(value: Any) -> Any:
    return value


def describe(*args: Any, scale: int = 1, **kwargs: Any) -> dict[str, Any]:
    return {"args": [arg * scale for arg in args], "kwargs": kwargs, "job": job_name()}


async def gathered(values: list[int]) -> dict[str, int]:
    async def square(value: int) -> int:
        await asyncio.sleep(0)
        return value * value

    squares = await asyncio.gather(*(square(value) for value in values))
    return {"sum": sum(squares)}


def job_name() -> str:
    return os.environ.get("AMZN_BRAKET_JOB_NAME", "")


def fail(message: str) -> None:
    raise ValueError(message)


def not_json() -> object:
    return {"value": object()}


def writes_a_file() -> str:
    # The official decorator runs the function in the results folder: files land there.
    with open("report.txt", "w") as file:
        file.write("written by the job")
    return os.getcwd()


def uses_extra() -> int:
    import hybrid_job_extra  # only in the job when include_modules brings it

    return hybrid_job_extra.EXTRA


def uses_tinypkg() -> int:
    import tinypkg  # installed in the job by dependencies=

    return int(tinypkg.VALUE)


def sleep_for(seconds: float) -> None:
    time.sleep(seconds)


def make_closure(offset: int) -> Any:
    def shifted(value: int) -> int:
        return value + offset

    return shifted


@hybrid_job(device=None, local=True)
def decorated_square(x: int) -> int:
    """Decorated where it is defined: the job finds the function behind the decorator."""
    return x * x


def calls_decorated_square(x: int) -> int:
    # A decorated name the function refers to is the plain function inside the job.
    return decorated_square(x) + 1  # type: ignore[operator]


def returns(value: Any) -> Any:
    """Return ``value``: what a job saves is then the decorator's doing alone."""
    return value


def record(a: int, b: str = "de(f)ault", *rest: Any, flag: bool = False, **extra: Any) -> int:
    return a


def positional(a: int, /, b: int = 2) -> int:
    return a + b


def save_progress(steps: int) -> dict[str, int]:
    """Checkpoint after each step, as the official notebooks do."""
    from braket_async.jobs import save_job_checkpoint

    for step in range(steps):
        save_job_checkpoint({"step": step}, data_format=PersistedJobDataFormat.PICKLED_V4)
    return {"steps": steps}


def resume(previous_job_name: str, more: int) -> dict[str, int]:
    """Continue from the checkpoint of the job ``previous_job_name``."""
    from braket_async.jobs import load_job_checkpoint

    checkpoint = load_job_checkpoint(previous_job_name, allow_pickle=True)
    return {"resumed_at": checkpoint["step"], "last": checkpoint["step"] + more}
