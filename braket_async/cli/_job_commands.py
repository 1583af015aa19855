"""``status``, ``logs``, ``result`` and ``cancel``: one job, named by its ARN or name."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ._common import (
    EXIT_ERROR,
    EXIT_OK,
    CliError,
    exit_code_of,
    metadata_summary,
    open_job,
    print_json,
    say,
)

if TYPE_CHECKING:
    from typing import TextIO

    from .._quantum_job import QuantumJob

__all__ = ["cancel", "follow", "logs", "result", "status"]


async def status(options: argparse.Namespace) -> int:
    """Print the job's state (and failure reason); ``--json``: its whole description."""
    async with open_job(options.job, root=options.root, region=options.region) as job:
        metadata = await job.metadata()
    if options.json:
        metadata.pop("supervisor", None)  # a local job's process bookkeeping
        print_json(metadata)
    else:
        print(metadata_summary(metadata))
    return EXIT_OK


async def follow(job: QuantumJob, *, poll_interval: float, file: TextIO | None = None) -> int:
    """Print the job's log until it ends; the exit code of its final state."""
    out = file or sys.stdout
    async for event in job.logs(wait=True, poll_interval_seconds=poll_interval):
        print(event.message, file=out, flush=True)
    state = await job.wait(poll_interval_seconds=poll_interval)
    metadata = await job.metadata(use_cached_value=True)
    say(f"job {metadata_summary(metadata)}")
    return exit_code_of(state)


async def logs(options: argparse.Namespace) -> int:
    """Print the job's log; with ``-f`` follow it and exit as the job ended."""
    async with open_job(options.job, root=options.root, region=options.region) as job:
        if options.follow:
            return await follow(job, poll_interval=options.poll_interval)
        async for event in job.logs(wait=False):
            print(event.message, flush=True)
    return EXIT_OK


async def result(options: argparse.Namespace) -> int:
    """Wait for the job, then print its result as JSON (exit code: its final state)."""
    async with open_job(options.job, root=options.root, region=options.region) as job:
        if options.no_wait:
            state = await job.state()
            if not state.is_terminal:
                raise CliError(f"job {job.name} is {state}: it has no result yet")
        state = await job.wait(poll_interval_seconds=options.poll_interval)
        if state.value != "COMPLETED":
            say(f"job {metadata_summary(await job.metadata(use_cached_value=True))}")
            return exit_code_of(state)
        value = await job.result(allow_pickle=options.allow_pickle)
        if options.download is not None:
            folder = await job.download_result(options.download)
            say(f"outputs of {job.name} are in {folder}")
    print_json(value)
    return EXIT_OK


async def cancel(options: argparse.Namespace) -> int:
    """Cancel the job (``--wait``: until it has stopped); print its state."""
    async with open_job(options.job, root=options.root, region=options.region) as job:
        before = await job.state()
        if before.is_terminal:
            say(f"job {job.name} had ended already: {before}")
            state = before
        else:
            state = await job.cancel(wait=options.wait, poll_interval_seconds=options.poll_interval)
    if options.json:
        print_json({"jobArn": job.arn, "jobName": job.name, "status": state.value})
    else:
        print(f"{job.name} {state}")
    return EXIT_OK if not before.is_terminal or before.value == "CANCELLED" else EXIT_ERROR
