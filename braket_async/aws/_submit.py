"""Exactly-once CreateJob: one job per ``create()``, whatever the network does.

Every attempt of one ``create()`` sends the same ``clientToken``, so the service makes
one job however many attempts reach it. What the token cannot settle is the last
attempt: when the retry budget runs out after an *ambiguous* failure (a dropped
connection, a 5xx, a timeout: the service may have acted), the job may exist although
no answer said so. Before giving up, :func:`submit_job` looks for it: the request
carries the token as the tag :data:`CLIENT_TOKEN_TAG`, and SearchJobs summaries carry
tags, so the jobs created since the first attempt are read (a ``createdAt`` window,
newest first) and the one with our name and token is the answer. Only when no such job
exists, or the search itself fails, does the error reach the caller, naming the job and
the token.

A create that uploads a source archive takes its CreateJob rate slot *before* it tars
and uploads the source (:func:`hold_create_slot`), so that hundreds of creates waiting
for the rate limit hold no archives and no worker threads; the first attempt of
:func:`submit_job` then uses that slot instead of waiting for another.
"""

from __future__ import annotations

import datetime
import weakref
from typing import TYPE_CHECKING, Any

from .._braket import CLIENT_TOKEN_TAG
from ..errors import ServiceError
from ._errors import is_transient
from ._times import service_time

if TYPE_CHECKING:
    from ._session import AwsSession

__all__ = ["CLIENT_TOKEN_TAG", "hold_create_slot", "release_create_slot", "submit_job"]

#: How far before the first attempt the search starts: the service's clock may differ
#: from ours.
_CLOCK_SLACK = datetime.timedelta(minutes=5)
# How far back a reused clientToken is looked up: a job's longest life (5 days) and more.
_TOKEN_LIFETIME = datetime.timedelta(days=7)
_PAGE_SIZE = 100
_CREATE_JOB = "CreateJob"
# The client tokens of creates holding a CreateJob slot they have not used yet, by
# session; a weak map so that sessions are not kept alive by it.
_HELD_SLOTS: weakref.WeakKeyDictionary[AwsSession, set[str]] = weakref.WeakKeyDictionary()


async def hold_create_slot(session: AwsSession, token: str) -> None:
    """Wait for ``session``'s next CreateJob rate slot and take it for the create with
    ``token``: the first attempt of its :func:`submit_job` uses it.

    Call :func:`release_create_slot` if the create ends before :func:`submit_job`.
    """
    await session.limiter.acquire(_CREATE_JOB)
    _HELD_SLOTS.setdefault(session, set()).add(token)


def release_create_slot(session: AwsSession, token: str) -> bool:
    """Forget the slot held for ``token``; whether there was one."""
    held = _HELD_SLOTS.get(session)
    if held is None or token not in held:
        return False
    held.discard(token)
    return True


async def submit_job(session: AwsSession, request: dict[str, Any]) -> str:
    """Call CreateJob with ``request`` and return the job's ARN, exactly once.

    Args:
        session: The session whose retry policy and rate limits apply.
        request: The CreateJob input, with ``clientToken`` and ``jobName``; the token
            tag is added to its ``tags``.

    Raises:
        ServiceError: CreateJob failed and no job with the token exists (or the search
            for it failed); the message names the job and the client token.
    """
    token = str(request["clientToken"])
    name = str(request["jobName"])
    tagged = {**request, "tags": {**request.get("tags", {}), CLIENT_TOKEN_TAG: token}}
    since = datetime.datetime.now(datetime.timezone.utc) - _CLOCK_SLACK
    try:
        response = await session.call(
            "braket", "create_job", slot_held=release_create_slot(session, token), **tagged
        )
    except ServiceError as error:
        if error.code == "ConflictException":
            # The token was used before: by this same create, retried (a resumed sweep),
            # the job is the one with this name and token, however long ago it was made.
            since = datetime.datetime.now(datetime.timezone.utc) - _TOKEN_LIFETIME
        elif not is_transient(error):
            raise _naming(error, name, token, "") from error
        try:
            arn = await find_job_by_token(session, name, token, since)
        except ServiceError as search_error:
            raise _naming(
                error,
                name,
                token,
                f"; whether the job exists is unknown (SearchJobs failed: {search_error})",
            ) from error
        if arn is None:
            if error.code == "ConflictException":
                raise _naming(error, name, token, "") from error
            raise _naming(error, name, token, "; no job was created") from error
        return arn
    return str(response["jobArn"])


async def find_job_by_token(
    session: AwsSession, name: str, token: str, since: datetime.datetime
) -> str | None:
    """The ARN of the job named ``name`` tagged with ``token``, created after ``since``."""
    params: dict[str, Any] = {
        "filters": [{"name": "createdAt", "operator": "GTE", "values": [service_time(since)]}],
        "maxResults": _PAGE_SIZE,
    }
    while True:
        page = await session.call("braket", "search_jobs", **params)
        for summary in page.get("jobs", ()):
            tags = summary.get("tags") or {}
            if summary.get("jobName") == name and tags.get(CLIENT_TOKEN_TAG) == token:
                return str(summary["jobArn"])
        next_token = page.get("nextToken")
        if not next_token:
            return None
        params["nextToken"] = next_token


def _naming(error: ServiceError, name: str, token: str, outcome: str) -> ServiceError:
    """``error`` again, with a message that names the job and its client token."""
    return type(error)(
        error.code,
        f"{error.message} (creating job {name!r} with clientToken {token}{outcome})",
        operation=error.operation,
        request_id=error.request_id,
        status=error.status,
    )
