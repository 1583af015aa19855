"""The options of ``@hybrid_job``, checked when it decorates (no I/O, nothing imported
that the options do not name)."""

from __future__ import annotations

import enum
import logging
import os
import types
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ._names import validate_job_name
from ._rules import check_logger, check_tags
from ._targets import REMOTE_ONLY_OPTIONS, check, is_remote
from .errors import ConfigurationError
from .jobs import PersistedJobDataFormat

__all__ = ["SERIALIZATIONS", "HybridJobOptions", "checked_options", "resolve_data_format"]

SERIALIZATIONS = ("cloudpickle", "json")
_NO_DEVICE = "local:none/none"
# The decorator's names for the result's format, as the official decorator takes them
# (any case); the enum's members and values are taken too.
_DATA_FORMAT_ALIASES = {
    "pickle": PersistedJobDataFormat.PICKLED_V4,
    "plaintext": PersistedJobDataFormat.PLAINTEXT,
}
# Options LocalQuantumJob.create has no use for; a local job refuses them rather than
# dropping them silently as the official local mode does.
_LOCAL_ONLY = ("root", "environment", "network_mode", "detach")
_LOCAL_ARN_PREFIX = "local:job/"


@attrs.frozen
class HybridJobOptions:
    """What ``@hybrid_job(...)`` was given, checked."""

    device: str
    target: Any  # a _targets.Target, or None: remote, with a session of the job's own
    serialization: str
    data_format: PersistedJobDataFormat
    include_modules: tuple[str | types.ModuleType, ...]
    dependencies: str | os.PathLike[str] | tuple[str, ...] | None
    job_name: str | None
    wait_until_complete: bool
    input_data: object | None
    logger: logging.Logger | logging.LoggerAdapter[Any]
    #: Passed to the target's ``create()`` as they are.
    create_options: Mapping[str, Any]

    @property
    def is_local(self) -> bool:
        """Whether the jobs run on a local runtime."""
        return self.target is not None and not is_remote(self.target)


def checked_options(
    *,
    device: str | None,
    include_modules: object,
    dependencies: object,
    local: bool,
    job_name: str | None,
    image_uri: str | None,
    input_data: object | None,
    wait_until_complete: bool,
    copy_checkpoints_from_job: object,
    aws_session: object | None,
    tags: Mapping[str, str] | None,
    logger: object,
    quiet: bool | None,
    data_format: object,
    target: object,
    runtime: object,
    serialization: str,
    create_options: Mapping[str, Any],
) -> HybridJobOptions:
    """The decorator's options, checked.

    ``create_options`` are the ones passed on to ``create()`` unchanged when given
    (``None``: not given).

    Raises:
        ConfigurationError: An option is invalid or does not apply to the target.
    """
    if device is not None and (not isinstance(device, str) or not device):
        raise ConfigurationError("device must be a non-empty string or None")
    if serialization not in SERIALIZATIONS:
        raise ConfigurationError(
            f"serialization must be 'cloudpickle' or 'json', not {serialization!r}"
        )
    if job_name is not None:
        validate_job_name(job_name)
    for flag, value in (("local", local), ("wait_until_complete", wait_until_complete)):
        if not isinstance(value, bool):
            raise ConfigurationError(f"{flag} must be True or False, not {value!r}")
    if quiet is not None and not isinstance(quiet, bool):
        raise ConfigurationError(f"quiet must be True, False or None, not {quiet!r}")
    logger = check_logger(logger)
    if runtime is None and local and image_uri is not None:
        runtime = "docker"  # the official local mode runs the image in Docker
    chosen = _choose_target(target, local, runtime, aws_session)
    is_local = chosen is not None and not is_remote(chosen)
    given = {
        **create_options,
        "image_uri": image_uri,
        "tags": check_tags(tags) if tags is not None else None,
        "copy_checkpoints_from_job": _checkpoints_source(copy_checkpoints_from_job, is_local),
    }
    options = {key: value for key, value in given.items() if value is not None}
    for option in REMOTE_ONLY_OPTIONS if is_local else _LOCAL_ONLY:
        if option in options:
            kind = "remote" if is_local else "local"
            raise ConfigurationError(f"{option}= applies to {kind} jobs only")
    if is_local and aws_session is not None:
        options["aws_session"] = aws_session  # the job's credentials
    return HybridJobOptions(
        device=device or _NO_DEVICE,
        target=chosen,
        serialization=serialization,
        data_format=resolve_data_format(data_format),
        include_modules=_checked_modules(include_modules),
        dependencies=_checked_dependencies(dependencies),
        job_name=job_name,
        wait_until_complete=wait_until_complete,
        input_data=input_data,
        logger=logger,
        create_options=options,
    )


def resolve_data_format(data_format: object) -> PersistedJobDataFormat:
    """The format the job saves its result in: ``"pickle"`` or ``"plaintext"`` (any
    case), or a ``PersistedJobDataFormat`` member (ours or the official SDK's), as the
    official decorator takes it.

    Raises:
        ConfigurationError: Anything else (the official decorator raises a ValueError
            too, when the function is called).
    """
    if isinstance(data_format, PersistedJobDataFormat):
        return data_format
    if isinstance(data_format, enum.Enum) and type(data_format).__module__.startswith("braket."):
        return PersistedJobDataFormat(data_format.value)  # the official enum: same values
    if isinstance(data_format, str) and data_format.lower() in _DATA_FORMAT_ALIASES:
        return _DATA_FORMAT_ALIASES[data_format.lower()]
    raise ConfigurationError(
        f"Unknown data_format {data_format!r}: use 'plaintext' (the default: JSON), "
        "'pickle', or a PersistedJobDataFormat"
    )


def _choose_target(target: object, local: bool, runtime: object, aws_session: object) -> Any:
    if target is not None:
        if local or runtime is not None:
            raise ConfigurationError("pass target=, or local= and runtime=, not both")
        check(target)
        if is_remote(target) and aws_session not in (None, target):
            raise ConfigurationError("target= is an AwsSession already: leave aws_session out")
        return target
    if not local:
        if runtime is not None:
            raise ConfigurationError("runtime= is for local jobs: add local=True")
        if aws_session is not None and not is_remote(aws_session):
            raise ConfigurationError(
                f"aws_session must be a braket_async.aws.AwsSession, not {aws_session!r}"
            )
        return aws_session  # None: each job opens (and closes) a session of its own
    chosen = "process" if runtime is None else runtime
    check(chosen)
    if is_remote(chosen):
        raise ConfigurationError("runtime= is a local runtime; pass an AwsSession as target=")
    return chosen


def _checkpoints_source(job: object, is_local: bool) -> str | None:
    """``copy_checkpoints_from_job`` as ``create()`` takes it: a local job also by its
    name, a remote one by its ARN."""
    if job is None:
        return None
    if not isinstance(job, str):
        arn = getattr(job, "arn", None)  # a job handle
        if not isinstance(arn, str):
            raise ConfigurationError(
                f"copy_checkpoints_from_job takes a job's ARN (or a local job's name), not {job!r}"
            )
        job = arn
    if is_local and ":" not in job:
        return _LOCAL_ARN_PREFIX + validate_job_name(job)
    if not is_local and not job.startswith("arn:"):
        raise ConfigurationError(
            f"copy_checkpoints_from_job {job!r}: a remote job is named by its ARN "
            "(job names are not unique on Braket)"
        )
    return job


def _checked_modules(modules: object) -> tuple[str | types.ModuleType, ...]:
    if modules is None:
        return ()
    items: list[object]
    if isinstance(modules, (str, types.ModuleType)):
        items = [modules]
    elif isinstance(modules, Iterable):
        items = list(modules)
    else:
        items = [modules]
    checked: list[str | types.ModuleType] = []
    for item in items:
        if isinstance(item, types.ModuleType) or (
            isinstance(item, str) and all(part.isidentifier() for part in item.split("."))
        ):
            checked.append(item)
        else:
            raise ConfigurationError(
                f"include_modules takes modules or dotted module names, not {item!r}"
            )
    return tuple(checked)


def _checked_dependencies(
    dependencies: object,
) -> str | os.PathLike[str] | tuple[str, ...] | None:
    if dependencies is None or isinstance(dependencies, (str, os.PathLike)):
        return dependencies
    if not isinstance(dependencies, Iterable):
        raise ConfigurationError(
            f"dependencies takes a requirements file or a list of lines, not {dependencies!r}"
        )
    lines = tuple(dependencies)
    for line in lines:
        if not isinstance(line, str) or not line.strip() or "\n" in line or "\r" in line:
            raise ConfigurationError(
                f"dependencies takes requirement lines (non-empty, one line each), not {line!r}"
            )
    return lines
