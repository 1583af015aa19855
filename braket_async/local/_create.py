"""Starting a local job: from ``LocalQuantumJob.create()``'s arguments to a job that runs
(or waits for a runtime slot), with its folder, first record and supervisor."""

from __future__ import annotations

import asyncio
import datetime
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from .._braket import CLIENT_TOKEN_TAG
from .._config_objects import read_checkpoint_config, read_input_data, read_output_data_config
from .._names import default_job_name, validate_client_token, validate_job_name
from .._rules import check_device, check_hyperparameters, check_role_arn, parse_s3_uri
from .._shield import finish
from .._source import resolve_source
from .._states import JobState
from ..errors import (
    ConfigurationError,
    ContainerError,
)
from ..runtimes import JobRuntime, JobSpec, ProcessRuntime
from ._credentials import session_environment
from ._description import JobDescription, runtime_config
from ._folder import (
    ARN_PREFIX,
    failed_write,
    hold_lock,
    job_folder,
    metadata_to_json,
    private_folder,
    process_identity,
    reserve_room,
    write_metadata,
)
from ._owner import (
    ChangeSignal,
    SupervisedRun,
    register,
    unregister,
    watch_cancel_request,
)
from ._run import LocalJobRun

__all__ = ["launch_job"]


async def launch_job(
    *,
    device: str,
    source_module: str | os.PathLike[str],
    entry_point: str | None,
    image_uri: str | None,
    job_name: str | None,
    code_location: str | None,
    role_arn: str | None,
    hyperparameters: Mapping[str, Any] | None,
    input_data: object,
    output_data_config: object | None,
    checkpoint_config: object | None,
    local_container_update: bool,
    runtime: Literal["process", "docker"] | JobRuntime,
    root: str | os.PathLike[str] | None,
    environment: Mapping[str, str] | None,
    network_mode: str | None,
    detach: bool,
    aws_session: object | None,
    copy_checkpoints_from_job: str | None,
    client_token: str | None = None,
) -> tuple[str, Path]:
    """Check the arguments, make the job's folder and record, and start the job (its
    supervisor, or a task of this process for runtimes that cannot be rebuilt).

    Returns:
        The job's ARN and folder.
    """
    check_device(device)
    _check_remote_only_places(code_location, role_arn, output_data_config)
    checkpoints = read_checkpoint_config(checkpoint_config)
    channels = _input_channels(input_data)
    parameters = check_hyperparameters(hyperparameters)
    job_runtime, owns_runtime = _make_runtime(
        runtime, image_uri, local_container_update, network_mode
    )
    try:
        if image_uri is not None and isinstance(job_runtime, ProcessRuntime):
            raise ConfigurationError(
                "image_uri names a container image, and the process runtime runs no "
                "container: pass runtime='docker', or leave image_uri out"
            )
        source = resolve_source(source_module, entry_point)
        if client_token is not None:
            validate_client_token(client_token)
        job_environment = _environment(environment)
        if aws_session is not None:
            job_environment = {**await session_environment(aws_session), **job_environment}
        name = (
            validate_job_name(job_name)
            if job_name is not None
            else default_job_name(job_runtime.name)
        )
        spec = JobSpec(
            job_name=name,
            job_arn=ARN_PREFIX + name,
            device=device,
            entry_point=source.entry_point,
            code=(source.path,),
            hyperparameters=parameters,
            input_data=channels,
            checkpoint_path=checkpoints.local_path,
            environment=job_environment,
            image_uri=image_uri,
            checkpoint_input=_checkpoints_of(copy_checkpoints_from_job, root),
        )
        folder = job_folder(root, name)
        await job_runtime.prepare(spec)
        # One mkdir, done in the loop so that no other task can see the folder
        # before the live run is registered for it.
        _make_job_folder(folder)
    except BaseException:
        if owns_runtime:
            await job_runtime.aclose()
        raise
    metadata = _initial_metadata(spec, source.path, job_runtime.name)
    if client_token is not None:
        metadata["tags"] = {CLIENT_TOKEN_TAG: client_token}
    config = runtime_config(job_runtime)
    try:
        lock = _start_record(folder, spec, metadata, config)
    except BaseException:
        if owns_runtime:
            await finish(job_runtime.aclose())
        raise
    run: SupervisedRun | LocalJobRun
    if config is not None:
        description = JobDescription(spec=spec, runtime_config=config, owner={})
        run = SupervisedRun(
            folder,
            job_runtime,
            owns_runtime=owns_runtime,
            lock=lock,
            detached=detach,
            supervisor_environment=description.environment_variables(),
        )
        await run.launch()
    else:
        # A runtime that cannot be rebuilt elsewhere runs the job in this process,
        # which keeps the lock for the job's life.
        run = _InProcessRun(
            spec,
            job_runtime,
            owns_runtime=owns_runtime,
            folder=folder,
            metadata=metadata,
            lock=lock,
        )
        await run.launch()
    return spec.job_arn, folder


def _make_runtime(
    runtime: str | JobRuntime,
    image_uri: str | None,
    local_container_update: bool,
    network_mode: str | None,
) -> tuple[JobRuntime, bool]:
    if isinstance(runtime, JobRuntime):
        return runtime, False
    if runtime == "process":
        return ProcessRuntime(), True
    if runtime == "docker":
        from ..runtimes import DockerRuntime

        return (
            DockerRuntime(
                image_uri=image_uri,
                local_container_update=local_container_update,
                network_mode=network_mode or "default",
            ),
            True,
        )
    raise ConfigurationError(
        f"Unknown runtime {runtime!r}: use 'process', 'docker' or a JobRuntime"
    )


def _check_remote_only_places(
    code_location: str | None, role_arn: str | None, output_data_config: object | None
) -> None:
    """What only a remote job uses is still checked by the service's rules, so that the
    same arguments create the job remotely too."""
    if code_location is not None:
        parse_s3_uri(code_location, "code_location")
    if role_arn is not None:
        check_role_arn(role_arn)
    read_output_data_config(output_data_config)


def _input_channels(input_data: object) -> dict[str, Path]:
    """The channels of ``input_data`` (checked as for a remote job), all local."""
    channels: dict[str, Path] = {}
    for channel in read_input_data(input_data):
        if channel.local_path is None:
            raise ConfigurationError(
                f"Input channel {channel.name!r} is in S3 ({channel.s3_uri}): a local job "
                "reads local files only. Download the data and pass its folder, or run "
                "the job remotely"
            )
        channels[channel.name] = channel.local_path
    return channels


def _checkpoints_of(arn: str | None, root: str | os.PathLike[str] | None) -> Path | None:
    """The checkpoint folder of the local job ``arn`` in ``root``, to seed a new job's."""
    if arn is None:
        return None
    if not isinstance(arn, str) or not arn.startswith(ARN_PREFIX):
        raise ConfigurationError(
            f"copy_checkpoints_from_job must be a local job's ARN 'local:job/<name>', got {arn!r}"
        )
    folder = job_folder(root, validate_job_name(arn[len(ARN_PREFIX) :])) / "checkpoints"
    if not folder.is_dir() or folder.is_symlink():
        raise ConfigurationError(f"copy_checkpoints_from_job: {folder} holds no checkpoints")
    return folder


def _environment(environment: Mapping[str, str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in (environment or {}).items():
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise ConfigurationError(f"Invalid environment variable name {name!r}")
        if not isinstance(value, str) or "\0" in value:
            raise ConfigurationError(f"Environment variable {name!r} must be a string")
        result[name] = value
    return result


def _initial_metadata(spec: JobSpec, source: Path, runtime_name: str) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.timezone.utc)
    metadata: dict[str, Any] = {
        "jobName": spec.job_name,
        "jobArn": spec.job_arn,
        "status": JobState.QUEUED.value,
        "createdAt": now,
        "deviceConfig": {"device": spec.device},
        "hyperParameters": dict(spec.hyperparameters),
        "algorithmSpecification": {
            "scriptModeConfig": {
                "entryPoint": spec.entry_point,
                "s3Uri": source.as_uri(),
                "compressionType": "NONE",
            },
        },
        "checkpointConfig": {"localPath": spec.checkpoint_path},
        "inputDataConfig": [
            {"channelName": channel, "dataSource": {"localPath": str(path)}}
            for channel, path in spec.input_data.items()
        ],
        "runtime": runtime_name,
        "events": [{"eventType": "QUEUED_FOR_EXECUTION", "timeOfEvent": now}],
    }
    if spec.image_uri:
        metadata["algorithmSpecification"]["containerImage"] = {"uri": spec.image_uri}
    return metadata


def _start_record(
    folder: Path,
    spec: JobSpec,
    metadata: dict[str, Any],
    config: dict[str, Any] | None,
) -> int:
    """Write the new job's private folder, lock and record; return the lock (blocking).

    Done in the loop right after the folder is made: a reader in another process never
    sees a job folder without its record, nor an unlocked queued job.
    """
    try:
        private_folder(folder).mkdir(mode=0o700)
        lock = hold_lock(folder)
    except OSError as exc:
        raise _not_created(spec, folder, exc) from exc
    try:
        owner = process_identity(os.getpid())
        if config is not None:
            JobDescription(spec=spec, runtime_config=config, owner=owner).write(folder)
        else:
            metadata["supervisor"] = {**owner, "inProcess": True}
        # The room of the final record, taken now: a job that fills the disk can
        # still record its end.
        reserve_room(folder, metadata_to_json(metadata))
        write_metadata(folder, metadata)
    except BaseException as exc:
        os.close(lock)
        if isinstance(exc, OSError):
            raise _not_created(spec, folder, exc) from exc
        raise
    return lock


def _not_created(spec: JobSpec, folder: Path, exc: OSError) -> ContainerError:
    """The error of a job whose folder could not be written (a full disk); the folder,
    made by this create, is removed."""
    shutil.rmtree(folder, ignore_errors=True)
    return ContainerError(f"Could not create job {spec.job_name}: {failed_write(exc)}")


class _InProcessRun(LocalJobRun):
    """A job run by this process itself (its runtime cannot be rebuilt elsewhere)."""

    def __init__(self, *args: Any, lock: int, **kwargs: Any) -> None:
        self.changes = ChangeSignal()
        super().__init__(*args, on_change=self.changes.set, **kwargs)
        self._lock = lock
        register(self.folder, self)

    async def launch(self) -> None:
        """Start the job here; see :meth:`LocalJobRun.launch`."""
        # Another process cancels this job through a file (no signal reaches it).
        self._watcher = asyncio.create_task(watch_cancel_request(self.folder, self))
        try:
            await super().launch()
        finally:
            assert self._task is not None
            self._task.add_done_callback(lambda _: self._release())

    def _release(self) -> None:
        self._watcher.cancel()
        lock, self._lock = self._lock, -1
        if lock >= 0:
            os.close(lock)
        unregister(self.folder, self)


def _make_job_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        raise ConfigurationError(
            f"{folder} exists already: pick another job_name or root"
        ) from None
