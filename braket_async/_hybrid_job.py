"""``@hybrid_job``: a function whose awaited call is a hybrid job that runs it.

The decorator only records its options (checked, without I/O). Each ``await f(...)``
binds the arguments, writes a source package into a private temporary folder (see
``_hybrid_job_source``), creates the job on its target, and removes the folder again,
whatever happens. Nothing is written into the current folder, nothing process-wide is
changed, and nothing is shared between calls, so calls from many tasks at once make as
many independent jobs.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import tempfile
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar

import anyio.to_thread
import attrs

from ._creation import JobCreation
from ._hybrid_job_source import (
    ENTRY_POINT,
    call_hyperparameters,
    plan_call,
    read_requirements,
    write_source,
)
from ._names import default_job_name, validate_job_name
from ._quantum_job import QuantumJob
from ._shield import finish
from ._states import JobState
from ._targets import check, create_on, is_remote
from .errors import ConfigurationError

if TYPE_CHECKING:
    from .aws import AwsSession
    from .config import CheckpointConfig
    from .runtimes import JobRuntime

__all__ = ["HybridJobFunction", "hybrid_job"]

P = ParamSpec("P")
R = TypeVar("R")

Serialization = Literal["json", "cloudpickle"]
_SERIALIZATIONS = ("json", "cloudpickle")
_NO_DEVICE = "local:none/none"
# Options LocalQuantumJob.create has no use for; a local job refuses them rather than
# dropping them silently.
_REMOTE_ONLY = ("instance_config", "distribution", "stopping_condition", "tags", "reservation_arn")
_LOCAL_ONLY = ("root", "environment", "network_mode", "detach")


@attrs.frozen
class _Options:
    device: str
    target: Any  # a _targets.Target, or None: remote, with a session of the job's own
    serialization: str
    include_modules: tuple[str | types.ModuleType, ...]
    dependencies: str | os.PathLike[str] | tuple[str, ...] | None
    job_name: str | None
    wait_until_complete: bool
    create_options: Mapping[str, Any]

    @property
    def is_local(self) -> bool:
        return self.target is not None and not is_remote(self.target)


class HybridJobFunction(Generic[P]):
    """A function decorated with :func:`hybrid_job`: ``await`` a call to run it as a job.

    ``await f(*args, **kwargs)`` returns the job's handle (a
    :class:`~braket_async.QuantumJob`); ``async with f(...) as job:`` works as with
    ``create()``. ``f.__wrapped__`` is the function itself, to call it directly.
    """

    # _hybrid_job_source.MARKER: how a job (or a pickler) tells this object from the
    # function behind it.
    _braket_async_hybrid_job = True
    __wrapped__: Callable[P, Any]

    def __init__(self, function: Callable[P, Any], options: _Options) -> None:
        functools.update_wrapper(self, function)
        self.__wrapped__ = function
        self._options = options

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> JobCreation[QuantumJob]:
        """Create a job that runs the function with these arguments; await it."""
        return JobCreation[QuantumJob](self._create(args, kwargs))

    def __repr__(self) -> str:
        return f"<hybrid job {self.__wrapped__.__module__}.{self.__wrapped__.__qualname__}>"

    async def _create(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> QuantumJob:
        options = self._options
        function = self.__wrapped__
        assert isinstance(function, types.FunctionType)
        signature = inspect.signature(function)
        bound = signature.bind(*args, **kwargs)  # a TypeError, before anything else
        name = options.job_name or default_job_name(function.__name__)
        # Made here, not in the thread: a cancelled thread call loses its return value.
        folder = Path(tempfile.mkdtemp(prefix="braket-async-hybrid-job-"))
        try:
            source = await anyio.to_thread.run_sync(_stage, folder, function, bound, options)
            job = await _create_job(
                options,
                source,
                job_name=name,
                hyperparameters=call_hyperparameters(signature, bound),
            )
            if options.is_local and not options.wait_until_complete:
                await _until_code_is_copied(job)
        finally:
            await finish(anyio.to_thread.run_sync(shutil.rmtree, folder, True))
        return job


def _stage(
    folder: Path, function: types.FunctionType, bound: inspect.BoundArguments, options: _Options
) -> Path:
    """Check the call and write its source package into ``folder`` (in a thread: it
    looks modules up, pickles, reads and copies files)."""
    plan = plan_call(
        function,
        bound,
        serialization=options.serialization,
        include_modules=options.include_modules,
    )
    return write_source(folder, plan, read_requirements(options.dependencies))


async def _create_job(options: _Options, source: Path, **call_options: Any) -> QuantumJob:
    create_options = {
        "entry_point": ENTRY_POINT,
        "wait_until_complete": options.wait_until_complete,
        **options.create_options,
        **call_options,
    }
    if options.target is None:
        from .aws import AwsQuantumJob

        return await AwsQuantumJob.create(options.device, source, **create_options)
    return await create_on(options.target, options.device, source, **create_options)


async def _until_code_is_copied(job: QuantumJob) -> None:
    """Wait while the local job is QUEUED: it copies its code from the source folder
    when it starts. A job whose creator gives up meanwhile is cancelled: nobody got it,
    and its code is about to be removed."""
    try:
        while await job.state() is JobState.QUEUED:
            await job.next_state(poll_interval_seconds=1)
    except BaseException:
        await finish(job.cancel(wait=True))
        raise


def hybrid_job(
    *,
    device: str | None,
    include_modules: str | types.ModuleType | Iterable[str | types.ModuleType] | None = None,
    dependencies: str | os.PathLike[str] | Iterable[str] | None = None,
    local: bool = False,
    job_name: str | None = None,
    image_uri: str | None = None,
    input_data: object | None = None,
    wait_until_complete: bool = False,
    instance_config: object | None = None,
    distribution: str | None = None,
    copy_checkpoints_from_job: str | None = None,
    checkpoint_config: CheckpointConfig | object | None = None,
    role_arn: str | None = None,
    stopping_condition: object | None = None,
    output_data_config: object | None = None,
    aws_session: AwsSession | None = None,
    tags: Mapping[str, str] | None = None,
    reservation_arn: str | None = None,
    target: Literal["process", "docker"] | JobRuntime | AwsSession | None = None,
    runtime: Literal["process", "docker"] | JobRuntime | None = None,
    root: str | os.PathLike[str] | None = None,
    environment: Mapping[str, str] | None = None,
    network_mode: str | None = None,
    detach: bool = False,
    serialization: Serialization = "json",
) -> Callable[[Callable[P, Any]], HybridJobFunction[P]]:
    """Make a function a hybrid job: each awaited call creates a job that runs it.

    ``job = await f(*args, **kwargs)`` creates a job that calls ``f`` with those
    arguments and saves its return value as the job's result (a dict as it is, any other
    value as ``{"result": value}``, ``None`` not at all), and returns the job's handle;
    ``await job.result()`` reads the result. Decorating does nothing but check the
    options: no AWS call, no file, no import.

    Where the job runs: ``target=`` (``"process"``, ``"docker"``, a
    :class:`~braket_async.runtimes.JobRuntime`, or an
    :class:`~braket_async.aws.AwsSession` for Amazon Braket), or, as in the official
    SDK, ``local=True`` (with ``runtime=``, default ``"process"``) for a local job and
    otherwise a remote one (on ``aws_session``, or a session of the job's own).

    The other options are those of ``LocalQuantumJob.create`` / ``AwsQuantumJob.create``;
    the ones that differ:

    Args:
        device: The device ARN the job gets (``None``: ``"local:none/none"``).
        include_modules: Modules (or their names) the job needs that it cannot install:
            each one's top-level module file or package folder is copied into the job.
        dependencies: A requirements file's path, or a list of requirement lines; the
            job installs them before it runs.
        job_name: The name of every job (local jobs need one of their own each).
            Default: from the function's name, the time and a random part.
        wait_until_complete: Print the job's log and return when it ends.
        serialization: ``"json"`` (default): the job imports the function from a copy of
            its module, and the arguments travel as JSON. ``"cloudpickle"`` (extra
            ``braket-async[pickle]``): the function goes by value and the arguments and
            the result are pickled, for closures, lambdas, notebook functions and any
            value; the job must run the same Python minor version, and
            ``job.result(allow_pickle=True)`` reads the result.

    Returns:
        The decorator; the decorated function is a :class:`HybridJobFunction`.

    Raises:
        ConfigurationError: An option is invalid or does not apply to the target.
    """
    if device is not None and (not isinstance(device, str) or not device):
        raise ConfigurationError("device must be a non-empty string or None")
    if serialization not in _SERIALIZATIONS:
        raise ConfigurationError(
            f"serialization must be 'json' or 'cloudpickle', not {serialization!r}"
        )
    if job_name is not None:
        validate_job_name(job_name)
    for flag, value in (("local", local), ("wait_until_complete", wait_until_complete)):
        if not isinstance(value, bool):
            raise ConfigurationError(f"{flag} must be True or False, not {value!r}")
    chosen = _choose_target(target, local, runtime, aws_session)
    given = {
        "image_uri": image_uri,
        "input_data": input_data,
        "copy_checkpoints_from_job": copy_checkpoints_from_job,
        "checkpoint_config": checkpoint_config,
        "role_arn": role_arn,
        "output_data_config": output_data_config,
        "instance_config": instance_config,
        "distribution": distribution,
        "stopping_condition": stopping_condition,
        "tags": dict(_checked_tags(tags)) if tags is not None else None,
        "reservation_arn": reservation_arn,
        "root": root,
        "environment": environment,
        "network_mode": network_mode,
        "detach": detach or None,
    }
    create_options = {key: value for key, value in given.items() if value is not None}
    is_local = chosen is not None and not is_remote(chosen)
    for option in _REMOTE_ONLY if is_local else _LOCAL_ONLY:
        if option in create_options:
            kind = "remote" if is_local else "local"
            raise ConfigurationError(f"{option}= applies to {kind} jobs only")
    if is_local and aws_session is not None:
        create_options["aws_session"] = aws_session  # the job's credentials
    options = _Options(
        device=device or _NO_DEVICE,
        target=chosen,
        serialization=serialization,
        include_modules=_checked_modules(include_modules),
        dependencies=_checked_dependencies(dependencies),
        job_name=job_name,
        wait_until_complete=wait_until_complete,
        create_options=create_options,
    )

    def decorate(function: Callable[P, Any]) -> HybridJobFunction[P]:
        if not isinstance(function, types.FunctionType):
            raise TypeError(f"@hybrid_job decorates functions (def or async def), not {function!r}")
        return HybridJobFunction(function, options)

    return decorate


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


def _checked_modules(
    modules: str | types.ModuleType | Iterable[str | types.ModuleType] | None,
) -> tuple[str | types.ModuleType, ...]:
    if modules is None:
        return ()
    items = [modules] if isinstance(modules, (str, types.ModuleType)) else list(modules)
    for item in items:
        valid_name = isinstance(item, str) and all(p.isidentifier() for p in item.split("."))
        if not (valid_name or isinstance(item, types.ModuleType)):
            raise ConfigurationError(
                f"include_modules takes modules or dotted module names, not {item!r}"
            )
    return tuple(items)


def _checked_dependencies(
    dependencies: str | os.PathLike[str] | Iterable[str] | None,
) -> str | os.PathLike[str] | tuple[str, ...] | None:
    if dependencies is None or isinstance(dependencies, (str, os.PathLike)):
        return dependencies
    lines = tuple(dependencies)
    for line in lines:
        if not isinstance(line, str) or not line.strip() or "\n" in line or "\r" in line:
            raise ConfigurationError(
                f"dependencies takes requirement lines (non-empty, one line each), not {line!r}"
            )
    return lines


def _checked_tags(tags: Mapping[str, str]) -> Mapping[str, str]:
    if not isinstance(tags, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in tags.items()
    ):
        raise ConfigurationError(f"tags must be a dict of strings to strings, not {tags!r}")
    return tags
