"""``status``, ``logs``, ``result`` and ``cancel``: one job, named by its ARN or name."""

from __future__ import annotations

import argparse
import json
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

    from .._logs import LogEvent
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


def print_event(event: LogEvent, *, as_json: bool, file: TextIO | None = None) -> None:
    """A log line as text, or as one JSON object (``--json``: JSON lines)."""
    line = json.dumps(event._asdict(), ensure_ascii=False) if as_json else event.message
    print(line, file=file or sys.stdout, flush=True)


async def follow(
    job: QuantumJob, *, poll_interval: float, file: TextIO | None = None, as_json: bool = False
) -> int:
    """Print the job's log until it ends; the exit code of its final state."""
    async for event in job.logs(wait=True, poll_interval_seconds=poll_interval):
        print_event(event, as_json=as_json, file=file)
    state = await job.wait(poll_interval_seconds=poll_interval)
    metadata = await job.metadata(use_cached_value=True)
    say(f"job {metadata_summary(metadata)}")
    return exit_code_of(state)


async def logs(options: argparse.Namespace) -> int:
    """Print the job's log (``--json``: a JSON object a line); with ``-f`` follow it and
    exit as the job ended."""
    async with open_job(options.job, root=options.root, region=options.region) as job:
        if options.follow:
            return await follow(job, poll_interval=options.poll_interval, as_json=options.json)
        async for event in job.logs(wait=False):
            print_event(event, as_json=options.json)
    return EXIT_OK


async def result(options: argparse.Namespace) -> int:
    """Wait for the job, then print its result as JSON (exit code: its final state).

    ``--json`` prints a document instead: the job's ARN, name, state, failure reason and
    result (``null`` unless it COMPLETED), also for a job that failed.
    """
    async with open_job(options.job, root=options.root, region=options.region) as job:
        if options.no_wait:
            state = await job.state()
            if not state.is_terminal:
                raise CliError(f"job {job.name} is {state}: it has no result yet")
        state = await job.wait(poll_interval_seconds=options.poll_interval)
        metadata = await job.metadata(use_cached_value=True)
        value = None
        if state.value != "COMPLETED":
            say(f"job {metadata_summary(metadata)}")
        else:
            value = await job.result(allow_pickle=options.allow_pickle)
            if options.download is not None:
                folder = await job.download_result(options.download)
                say(f"outputs of {job.name} are in {folder}")
    if options.json:
        print_json(
            {
                "jobArn": job.arn,
                "jobName": job.name,
                "status": state.value,
                "failureReason": metadata.get("failureReason"),
                "result": value,
            }
        )
    elif state.value == "COMPLETED":
        print_json(value)
    return exit_code_of(state)


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
