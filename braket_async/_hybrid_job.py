"""``@hybrid_job``: a function whose awaited call is a hybrid job that runs it.

The official decorator's parameters, with its meaning, plus ``await``. The decorator
only records its options (checked, without I/O: ``_hybrid_job_options``). Each
``await f(...)`` binds the arguments, checks that the job's Python can load what is
pickled (``_hybrid_job_python``), writes a source package into a private temporary
folder (``_hybrid_job_source``; local input data, ``_hybrid_job_input``), creates the
job on its target, and removes the folder again, whatever happens. Nothing is written
into the current folder, nothing process-wide is changed, and nothing is shared between
calls, so calls from many tasks at once make as many independent jobs.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import shutil
import tempfile
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec

import anyio.to_thread

from ._creation import JobCreation
from ._hybrid_job_input import plan_input_data
from ._hybrid_job_options import HybridJobOptions, checked_options
from ._hybrid_job_python import check_job_python
from ._hybrid_job_source import (
    ENTRY_POINT,
    call_hyperparameters,
    plan_call,
    read_requirements,
    write_source,
)
from ._names import default_job_name
from ._quantum_job import QuantumJob
from ._shield import finish
from ._states import JobState
from ._targets import create_on
from .jobs import PersistedJobDataFormat

if TYPE_CHECKING:
    from .aws import AwsSession
    from .config import CheckpointConfig
    from .runtimes import JobRuntime

__all__ = ["HybridJobFunction", "hybrid_job"]

P = ParamSpec("P")

Serialization = Literal["cloudpickle", "json"]
_LOGGER = logging.getLogger(__name__)


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

    def __init__(self, function: Callable[P, Any], options: HybridJobOptions) -> None:
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
        if options.serialization == "cloudpickle":
            image_uri = options.create_options.get("image_uri")
            await check_job_python(function.__qualname__, options.target, image_uri)
        name = options.job_name or default_job_name(function.__name__)
        cwd = Path.cwd()  # relative input data paths are the caller's, as given
        # Made here, not in the thread: a cancelled thread call loses its return value.
        folder = Path(tempfile.mkdtemp(prefix="braket-async-hybrid-job-"))
        try:
            # A cancel waits for the thread: files it wrote after the folder was removed
            # would be left behind.
            source, input_data = await finish(
                anyio.to_thread.run_sync(_stage, folder, cwd, function, bound, options)
            )
            create_options = dict(options.create_options)
            if input_data is not None:
                create_options["input_data"] = input_data
            job = await _create_job(
                options,
                source,
                create_options,
                job_name=name,
                hyperparameters=call_hyperparameters(signature, bound),
            )
            options.logger.info("Created hybrid job %s for %s", job.arn, function.__qualname__)
            if options.is_local and not options.wait_until_complete:
                await _until_code_is_copied(job)
        finally:
            await finish(anyio.to_thread.run_sync(shutil.rmtree, folder, True))
        return job


def _stage(
    folder: Path,
    cwd: Path,
    function: types.FunctionType,
    bound: inspect.BoundArguments,
    options: HybridJobOptions,
) -> tuple[Path, Mapping[str, object] | None]:
    """Check the call and write its source package (and staged input data) into
    ``folder``; the package's path and the ``input_data`` for ``create()`` (in a thread:
    it looks modules and files up, pickles, reads and copies files)."""
    staging = folder / "input"
    inputs = plan_input_data(options.input_data, cwd=cwd, staging=staging)
    for note in inputs.notes:
        options.logger.info("%s", note)
    plan = plan_call(
        function,
        bound,
        serialization=options.serialization,
        data_format=options.data_format.value,
        include_modules=options.include_modules,
        links=[link.to_json() for link in inputs.links],
    )
    source = folder / "source"
    source.mkdir()
    return write_source(source, plan, read_requirements(options.dependencies)), inputs.channels


async def _create_job(
    options: HybridJobOptions,
    source: Path,
    create_options: Mapping[str, Any],
    **call_options: Any,
) -> QuantumJob:
    arguments = {
        "entry_point": ENTRY_POINT,
        "wait_until_complete": options.wait_until_complete,
        **create_options,
        **call_options,
    }
    if options.target is None:
        from .aws import AwsQuantumJob

        return await AwsQuantumJob.create(options.device, source, **arguments)
    return await create_on(options.target, options.device, source, **arguments)


async def _until_code_is_copied(job: QuantumJob) -> None:
    """Wait while the local job is QUEUED: it copies its code and input data from the
    source folder when it starts. A job whose creator gives up meanwhile is cancelled:
    nobody got it, and its code is about to be removed."""
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
    copy_checkpoints_from_job: str | QuantumJob | None = None,
    checkpoint_config: CheckpointConfig | object | None = None,
    role_arn: str | None = None,
    stopping_condition: object | None = None,
    output_data_config: object | None = None,
    aws_session: AwsSession | None = None,
    tags: Mapping[str, str] | None = None,
    logger: logging.Logger | logging.LoggerAdapter[Any] = _LOGGER,
    quiet: bool | None = None,
    reservation_arn: str | None = None,
    data_format: PersistedJobDataFormat | str = PersistedJobDataFormat.PLAINTEXT,
    target: Literal["process", "docker"] | JobRuntime | AwsSession | None = None,
    runtime: Literal["process", "docker"] | JobRuntime | None = None,
    root: str | os.PathLike[str] | None = None,
    environment: Mapping[str, str] | None = None,
    network_mode: str | None = None,
    detach: bool = False,
    serialization: Serialization = "cloudpickle",
) -> Callable[[Callable[P, Any]], HybridJobFunction[P]]:
    """Make a function a hybrid job: each awaited call creates a job that runs it.

    The official decorator (``braket.jobs.hybrid_job``), plus ``await``:
    ``job = await f(*args, **kwargs)`` creates a job that calls ``f`` with those
    arguments and saves its return value as the job's result (a dict as it is, any other
    value as ``{"result": value}``, ``None`` not at all, in ``data_format``), and returns
    the job's handle; ``await job.result()`` reads the result. Decorating does nothing
    but check the options: no AWS call, no file, no import.

    Where the job runs: as in the official SDK, ``local=True`` for a local job (on
    ``runtime=``: ``"process"`` by default, ``"docker"`` when ``image_uri`` is given) and
    otherwise a remote one (on ``aws_session``, or a session of the job's own); or
    ``target=`` (``"process"``, ``"docker"``, a
    :class:`~braket_async.runtimes.JobRuntime`, or an
    :class:`~braket_async.aws.AwsSession` for Amazon Braket).

    The other options are the official decorator's, passed to ``create()`` of
    :class:`~braket_async.LocalQuantumJob` or :class:`~braket_async.aws.AwsQuantumJob`;
    an option that does not apply to the target (``tags=`` on a local job) is a
    ``ConfigurationError``. The ones that differ or are added:

    Args:
        device: The device ARN the job gets (``None``: ``"local:none/none"``).
        include_modules: Modules (or their names) the job needs that it cannot install:
            each one's top-level module file or package folder is copied into the job.
        dependencies: A requirements file's path, or a list of requirement lines; the
            job installs them before it runs.
        job_name: The name of every job (local jobs need one of their own each).
            Default: from the function's name, the time and a random part.
        input_data: A local path, an S3 URI or an ``S3DataSourceConfig`` (channel
            ``"input"``), or a dict of channel name to one of those. A local path given
            relative to the current folder is also found by the function at that path
            (a file, a folder, or every match of a prefix), as the official decorator
            arranges.
        wait_until_complete: Print the job's log and return when it ends.
        copy_checkpoints_from_job: The job whose checkpoints the job starts with: a
            remote job's ARN; a local job's ARN (``local:job/<name>``) or name.
        logger: Where the decorator tells what it did (the jobs it created, input data
            it could not link); messages at INFO level.
        quiet: Accepted as the official decorator takes it; nothing here reports queue
            positions, which is all it quiets there.
        data_format: The format of the saved result: ``"plaintext"`` (default: JSON) or
            ``"pickle"`` (``PersistedJobDataFormat.PICKLED_V4``: any picklable value;
            reading it needs ``job.result(allow_pickle=True)``).
        serialization: ``"cloudpickle"`` (default, as the official decorator): the
            function goes by value with its arguments, so functions of scripts,
            notebooks, closures and lambdas work and nothing of the caller's script runs
            in the job; the job must run the same Python minor version (checked where it
            can be known before the job runs). ``"json"``: the job imports the function
            from a copy of its module (a script's top level runs there too) and the
            arguments go as JSON: for jobs on another Python.
        target: Where the jobs run (instead of ``local``/``runtime``/``aws_session``).
        runtime: With ``local=True``: ``"process"``, ``"docker"`` or a ``JobRuntime``.
        root: Local jobs: the folder their folders go in (default: the current one).
        environment: Local jobs: extra environment variables.
        network_mode: Local Docker jobs: the container's network.
        detach: Local jobs: let them run on when this program exits.

    Returns:
        The decorator; the decorated function is a :class:`HybridJobFunction`.

    Raises:
        ConfigurationError: An option is invalid or does not apply to the target.
    """
    options = checked_options(
        device=device,
        include_modules=include_modules,
        dependencies=dependencies,
        local=local,
        job_name=job_name,
        image_uri=image_uri,
        input_data=input_data,
        wait_until_complete=wait_until_complete,
        copy_checkpoints_from_job=copy_checkpoints_from_job,
        aws_session=aws_session,
        tags=tags,
        logger=logger,
        quiet=quiet,
        data_format=data_format,
        target=target,
        runtime=runtime,
        serialization=serialization,
        create_options={
            "checkpoint_config": checkpoint_config,
            "role_arn": role_arn,
            "output_data_config": output_data_config,
            "instance_config": instance_config,
            "distribution": distribution,
            "stopping_condition": stopping_condition,
            "reservation_arn": reservation_arn,
            "root": root,
            "environment": environment,
            "network_mode": network_mode,
            "detach": detach or None,
        },
    )

    def decorate(function: Callable[P, Any]) -> HybridJobFunction[P]:
        if not isinstance(function, types.FunctionType):
            raise TypeError(f"@hybrid_job decorates functions (def or async def), not {function!r}")
        return HybridJobFunction(function, options)

    return decorate
