"""``ls``: local jobs under a folder, or remote jobs found with SearchJobs."""

from __future__ import annotations

import argparse
import datetime
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import (
    EXIT_OK,
    CliError,
    checked_root,
    key_values,
    print_json,
    remote_session,
    say,
)

if TYPE_CHECKING:
    from ..local._folder import JobRecordError

__all__ = ["UNREADABLE", "ls", "parse_since"]

_STATES = ("QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED")
_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PAGE = 100
#: The state ``ls`` shows for a local job whose record cannot be read.
UNREADABLE = "UNREADABLE"


def parse_since(text: str, now: datetime.datetime | None = None) -> datetime.datetime:
    """``--since``: an age (``30m``, ``2h``, ``7d``) or an ISO 8601 time (UTC if naive)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    age = _AGE.fullmatch(text.strip())
    if age:
        return now - datetime.timedelta(seconds=float(age[1]) * _UNIT_SECONDS[age[2]])
    try:
        when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"--since {text!r} is neither an age (30m, 2h, 7d) nor an ISO time"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


async def ls(options: argparse.Namespace) -> int:
    """Print one line per job (name, state, created, ARN), newest first.

    A local job whose record cannot be read is listed too, as ``UNREADABLE`` (its
    state and time unknown, so only ``--name-contains`` filters it), with its record's
    path and the problem: in ``--json`` as ``path`` and ``problem``, else on stderr.
    """
    for state in options.state:
        if state not in _STATES:
            raise CliError(f"--state {state!r} is not one of {', '.join(_STATES)}")
    if options.limit < 1:
        raise CliError("--limit must be at least 1")
    since = parse_since(options.since) if options.since is not None else None
    tags = key_values(options.tag, "--tag")
    if options.remote:
        jobs = await _remote_jobs(options, since, tags)
    else:
        if tags:
            raise CliError("--tag filters remote jobs (local jobs have no tags)")
        jobs = await _local_jobs(checked_root(options.root), options, since)
    if options.json:
        print_json(jobs)
    else:
        _print_table(jobs)
        for job in jobs:
            if job["status"] == UNREADABLE:
                say(f"{job['path']} is not a readable job record: {job['problem']}")
    return EXIT_OK


def _print_table(jobs: list[dict[str, Any]]) -> None:
    rows = [
        (str(job["jobName"]), str(job["status"]), _short_time(job.get("createdAt")), job["jobArn"])
        for job in jobs
    ]
    widths = [
        max([len(header), *(len(row[i]) for row in rows)])
        for i, header in enumerate(("NAME", "STATE", "CREATED", "ARN"))
    ]
    for row in [("NAME", "STATE", "CREATED", "ARN"), *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _short_time(value: object) -> str:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return str(value or "")


def _created(value: object) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, str):
        try:
            return _created(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _wanted(
    job: dict[str, Any], options: argparse.Namespace, since: datetime.datetime | None
) -> bool:
    if options.state and job["status"] not in options.state:
        return False
    if options.name_contains and options.name_contains not in job["jobName"]:
        return False
    created = _created(job.get("createdAt"))
    return since is None or (created is not None and created >= since)


async def _local_jobs(
    root: Path, options: argparse.Namespace, since: datetime.datetime | None
) -> list[dict[str, Any]]:
    import anyio.to_thread

    from ..errors import JobNotFoundError
    from ..local import LocalQuantumJob
    from ..local._folder import ARN_PREFIX, JobRecordError

    names = await anyio.to_thread.run_sync(_job_folder_names, root)
    jobs = []
    for name in names:
        try:
            job = LocalQuantumJob(ARN_PREFIX + name, root=root)
            metadata = await job.metadata()
        except JobRecordError as exc:
            if not options.name_contains or options.name_contains in name:
                jobs.append(_unreadable(ARN_PREFIX + name, name, exc))
            continue
        except JobNotFoundError:  # removed meanwhile, or not a job after all
            continue
        summary = _summary(metadata, job.arn, name)
        if _wanted(summary, options, since):
            jobs.append(summary)
    # Newest first; records that cannot be read (no time) last.
    jobs.sort(key=lambda job: str(job.get("createdAt") or ""), reverse=True)
    return jobs[: options.limit]


def _unreadable(arn: str, name: str, error: JobRecordError) -> dict[str, Any]:
    return {
        "jobName": name,
        "jobArn": arn,
        "status": UNREADABLE,
        "createdAt": None,
        "path": str(error.path),
        "problem": error.problem,
    }


def _job_folder_names(root: Path) -> list[str]:
    from ..local._follow import is_job_folder

    return sorted(
        entry.name
        for entry in root.iterdir()
        if _is_job_name(entry.name)
        and not entry.is_symlink()
        and entry.is_dir()
        and is_job_folder(entry)
    )


def _is_job_name(name: str) -> bool:
    from .._names import validate_job_name
    from ..errors import ConfigurationError

    try:
        validate_job_name(name)
    except ConfigurationError:
        return False
    return True


def _summary(metadata: dict[str, Any], arn: str, name: str) -> dict[str, Any]:
    summary = {
        "jobName": metadata.get("jobName", name),
        "jobArn": metadata.get("jobArn", arn),
        "status": metadata.get("status"),
        "createdAt": metadata.get("createdAt"),
    }
    for key in ("endedAt", "failureReason", "device", "tags"):
        if metadata.get(key) is not None:
            summary[key] = metadata[key]
    return summary


async def _remote_jobs(
    options: argparse.Namespace, since: datetime.datetime | None, tags: dict[str, str]
) -> list[dict[str, Any]]:
    # SearchJobs filters on jobArn (a UUID, not the name) and createdAt only: names,
    # states and tags are filtered on the summaries.
    filters: list[dict[str, Any]] = []
    if since is not None:
        filters.append({"name": "createdAt", "operator": "GTE", "values": [since.isoformat()]})
    jobs: list[dict[str, Any]] = []
    async with remote_session(options.region) as session:
        token: str | None = None
        while len(jobs) < options.limit:
            params: dict[str, Any] = {"filters": filters, "maxResults": _PAGE}
            if token:
                params["nextToken"] = token
            page = await session.call("braket", "search_jobs", **params)
            jobs.extend(
                job
                for job in page.get("jobs", ())
                if _wanted(job, options, since) and _has_tags(job, tags.items())
            )
            token = page.get("nextToken")
            if not token:
                break
    return jobs[: options.limit]


def _has_tags(job: dict[str, Any], tags: Iterable[tuple[str, str]]) -> bool:
    have = job.get("tags") or {}
    return all(have.get(key) == value for key, value in tags)
