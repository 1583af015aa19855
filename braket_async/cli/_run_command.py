"""``run`` (and what ``sweep`` shares with it): a job's options from the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from .._braket import LOCAL_DEVICE
from .._names import validate_channel_name
from ._common import (
    EXIT_OK,
    CliError,
    key_values,
    print_json,
    read_json,
    remote_session,
    say,
    uncancel,
)
from ._job_commands import follow

__all__ = ["create_options", "hyperparameters", "run", "target_of"]


def hyperparameters(options: argparse.Namespace) -> dict[str, str]:
    """``--hyperparameters FILE`` overlaid with each ``-H NAME=VALUE``."""
    values: dict[str, str] = {}
    if options.hyperparameters is not None:
        loaded = read_json(options.hyperparameters, "--hyperparameters")
        if not isinstance(loaded, dict):
            raise CliError(f"--hyperparameters {options.hyperparameters}: not a JSON object")
        values.update({str(name): _as_text(value) for name, value in loaded.items()})
    values.update(key_values(options.hyperparameter, "hyperparameter"))
    return values


def _as_text(value: object) -> str:
    # What a job receives is text; JSON keeps lists and objects parseable in the job.
    return value if isinstance(value, str) else json.dumps(value)


def _input_data(entries: list[str]) -> dict[str, str] | None:
    """``--input PATH`` (channel ``input``) or ``--input CHANNEL=PATH``."""
    channels: dict[str, str] = {}
    for entry in entries:
        channel, equals, path = entry.partition("=")
        if not equals or not _is_channel_name(channel) or os.path.exists(entry):
            channel, path = "input", entry
        if channel in channels:
            raise CliError(f"--input: channel {channel!r} given twice")
        channels[channel] = path
    return channels or None


def _is_channel_name(name: str) -> bool:
    try:
        validate_channel_name(name)
    except ValueError:
        return False
    return True


def create_options(options: argparse.Namespace) -> dict[str, Any]:
    """The ``create()`` keyword arguments ``run`` and ``sweep`` share, for the target."""
    remote = options.target == "remote"
    created: dict[str, Any] = {"entry_point": options.entry_point}
    if options.image_uri is not None:
        created["image_uri"] = options.image_uri
    input_data = _input_data(options.input)
    if input_data is not None:
        created["input_data"] = input_data
    tags = key_values(options.tag, "--tag")
    local_only = {"--network": options.network, "--ray-address": options.ray_address}
    remote_only = {"--role-arn": options.role_arn, "--tag": tags or None}
    for flag, value in (remote_only if not remote else local_only).items():
        if value is not None:
            where = "remote" if not remote else "local"
            raise CliError(f"{flag} is for {where} jobs (--target {options.target} was given)")
    if remote:
        created.update(role_arn=options.role_arn, tags=tags or None)
    else:
        created.update(root=options.root, network_mode=options.network)
        if options.network is not None and options.target != "docker":
            raise CliError("--network is for --target docker")
        if options.ray_address is not None and options.target != "ray":
            raise CliError("--ray-address is for --target ray")
    return created


@contextlib.asynccontextmanager
async def target_of(options: argparse.Namespace) -> AsyncIterator[object]:
    """What ``create_on`` takes for ``--target``: a runtime's name, a Ray runtime or an
    AWS session."""
    if options.target == "ray":
        from ..runtimes import RayRuntime

        async with RayRuntime(options.ray_address) as runtime:
            yield runtime
        return
    if options.target != "remote":
        yield options.target
        return
    async with remote_session(options.region) as session:
        yield session


def device_of(options: argparse.Namespace) -> str:
    """``--device``, or the local default; a remote job must name one."""
    if options.device is not None:
        return str(options.device)
    if options.target == "remote":
        raise CliError("--device is required with --target remote (a device ARN)")
    return LOCAL_DEVICE


async def run(options: argparse.Namespace) -> int:
    """Create the job, then follow its log until it ends (or return at once)."""
    from .._targets import create_on

    remote = options.target == "remote"
    device = device_of(options)
    created = create_options(options)
    if not remote:
        created["detach"] = options.detach or options.no_follow
    elif options.detach:
        raise CliError("--detach is for local jobs: a remote job always runs on")
    values = hyperparameters(options)
    async with target_of(options) as target:
        job = await create_on(
            target,
            device,
            options.source,
            job_name=options.name,
            hyperparameters=values or None,
            **created,
        )
        try:
            where = job.arn if remote else f"{job.arn} in {job.folder.parent}"  # type: ignore[attr-defined]
            say(f"created job {job.name} ({where})")
            if options.no_follow:
                code = EXIT_OK
                if options.json:
                    print_json({"jobArn": job.arn, "jobName": job.name})
                else:
                    print(job.arn)
            else:
                code = await follow(
                    job,
                    poll_interval=options.poll_interval,
                    file=sys.stderr if options.json else None,
                )
                if options.json:
                    metadata = await job.metadata(use_cached_value=True)
                    print_json(
                        {
                            "jobArn": job.arn,
                            "jobName": job.name,
                            "status": metadata.get("status"),
                            "failureReason": metadata.get("failureReason"),
                        }
                    )
        except asyncio.CancelledError:
            uncancel()
            await _interrupted(job, options)
            raise
        finally:
            if not created.get("detach"):  # a detached local job outlives this command
                await job.aclose()
    return code


async def _interrupted(job: Any, options: argparse.Namespace) -> None:
    """Ctrl-C: end the local job this command owns; leave a remote or detached one."""
    if options.target == "remote":
        say(
            f"interrupted: remote job {job.arn} runs on; 'braket-async cancel {job.arn}' cancels it"
        )
    elif options.detach or options.no_follow:
        say(
            f"interrupted: local job {job.name} runs on (detached); "
            f"'braket-async cancel {job.name} --root {options.root}' cancels it"
        )
    else:
        state = await job.cancel(wait=True)
        say(f"interrupted: cancelled local job {job.name} ({state}; its processes are gone)")
