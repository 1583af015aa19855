"""``LocalQuantumJob``: a hybrid job that runs on this machine, as an async handle."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.to_thread

from .._creation import JobCreation
from .._logs import LogStream
from .._names import validate_job_name
from .._quantum_job import (
    DEFAULT_RESULTS_POLL_INTERVAL,
    QuantumJob,
)
from .._shield import finish
from .._states import JobState
from ..errors import (
    ConfigurationError,
    ContainerError,
    JobNotFoundError,
    JobTimeoutError,
    ResultError,
)
from ..jobs import load_job_result
from ..metrics import MetricStatistic, MetricType, parse_metrics
from ..runtimes import JobRuntime
from ._create import launch_job
from ._folder import (
    ARN_PREFIX,
    LOG_FILE,
    PRIVATE_FOLDER,
    failed_write,
    is_same_process,
    job_folder,
    private_folder,
)
from ._follow import POLL_SECONDS, check_record, current_record, follow_log, is_job_folder
from ._owner import (
    CANCEL_REQUEST,
    LiveRun,
    supervised_run,
)

__all__ = ["LocalQuantumJob"]


class LocalQuantumJob(QuantumJob):
    """A hybrid job that runs locally, in a process or a Docker container.

    Create one with ``await LocalQuantumJob.create(...)``; attach to an existing one
    (running in this process, or finished earlier) with
    ``LocalQuantumJob("local:job/<name>")``.

    Args:
        arn: The job's ARN, ``local:job/<name>``.
        run_log: The job's log, if known (otherwise read from the job's folder).
        root: The folder that holds the job's folder (default: the current folder).

    Raises:
        JobNotFoundError: No job of that name in ``root`` (a ``ValueError``), or its
            record cannot be read (the message names the file and the problem).
    """

    def __init__(
        self,
        arn: str,
        run_log: str | None = None,
        *,
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(arn, str) or not arn.startswith(ARN_PREFIX):
            raise ConfigurationError(f"Invalid local job ARN {arn!r}: expected 'local:job/<name>'")
        self._name = validate_job_name(arn[len(ARN_PREFIX) :])
        self._folder = job_folder(root, self._name)
        if not self._folder.is_dir():
            raise JobNotFoundError(f"Local job {self._name!r} not found in {self._folder.parent}")
        if not is_job_folder(self._folder):
            raise JobNotFoundError(f"{self._folder} is a folder, but not a local job's")
        check_record(self._folder)
        self._run_log = run_log
        self._cached_metadata: dict[str, Any] | None = None

    @classmethod
    def create(
        cls,
        device: str,
        source_module: str | os.PathLike[str],
        entry_point: str | None = None,
        image_uri: str | None = None,
        job_name: str | None = None,
        code_location: str | None = None,
        role_arn: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        input_data: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]] | None = None,
        output_data_config: object | None = None,
        checkpoint_config: object | None = None,
        aws_session: object | None = None,
        local_container_update: bool = True,
        *,
        runtime: Literal["process", "docker"] | JobRuntime = "process",
        root: str | os.PathLike[str] | None = None,
        wait_until_complete: bool = False,
        environment: Mapping[str, str] | None = None,
        network_mode: str | None = None,
        detach: bool = False,
        copy_checkpoints_from_job: str | None = None,
        client_token: str | None = None,
    ) -> JobCreation[LocalQuantumJob]:
        """Create and start a local job.

        ``await LocalQuantumJob.create(...)`` returns the job as soon as it runs (or
        waits for a slot of a runtime with ``max_concurrent_jobs``). Used as
        ``async with LocalQuantumJob.create(...) as job:``, leaving the block cancels
        the job if it still runs and frees its container or process.

        Args:
            device: The device ARN the job sees as ``AMZN_BRAKET_DEVICE_ARN``, e.g.
                ``"local:braket/braket.local.qubit"``.
            source_module: A Python file or package folder; it is put in the job's code
                folder under its own name.
            entry_point: ``module`` or ``module:function`` within ``source_module``.
                Default: the source module's name.
            image_uri: The container image (Docker runtime only; with the process
                runtime it is a ``ConfigurationError``, since nothing would use it).
            job_name: The job's name, ``^(?!-)[A-Za-z0-9-]{1,50}(?<!-)$``. Default: a
                unique name made from the runtime's name and the time.
            code_location: Not used by local jobs; checked as for a remote job (an S3
                URI), so that the same arguments create a remote job too.
            role_arn: Not used by local jobs; checked as for a remote job.
            hyperparameters: Passed to the job as strings (``str()`` of each value), by
                the service's rules: at most 100, names of 1 to 256 characters, values
                of 1 to 2,500 characters on one line.
            input_data: A local path (channel ``"input"``) or a dict of channel name to
                local path. An S3 URI or ``S3DataSourceConfig`` is refused: a local job
                reads local files only.
            output_data_config: Not used by local jobs (outputs land in the job's
                folder); an ``OutputDataConfig`` of ours or of the official SDK, checked
                as for a remote job.
            checkpoint_config: A ``CheckpointConfig`` of ours or of the official SDK: its
                local path is the checkpoint folder inside the job (its S3 URI is used by
                remote jobs only); the checkpoints land in ``<job folder>/checkpoints``.
            aws_session: An AWS session (``braket_async.aws.AwsSession`` or the
                official one) whose credentials and region the job gets, in its
                environment only, to call AWS from inside (managed simulators, S3).
            local_container_update: Docker runtime: try to pull a newer image first, and
                go on with the local one when no registry answers.
            runtime: ``"process"`` (default; needs only Python), ``"docker"``, or a
                :class:`~braket_async.runtimes.JobRuntime` you own and close.
            root: The folder in which the job's folder ``<job_name>/`` is made
                (results, ``log.txt``, ``checkpoints/``). Default: the current folder.
            wait_until_complete: Print the job's log as it runs and return when it ends.
                Cancelling the call then cancels the job.
            environment: Extra environment variables for the job. They never appear on
                a command line.
            network_mode: Docker runtime: the container's network (``"none"``,
                ``"host"``, ...). Default: Docker's default network.
            detach: Let the job run on when this program exits. By default a job ends
                with the program that created it, however that program ends (``kill
                -9`` included): its processes or container are gone within seconds and
                its record says FAILED, with a reason naming the exit. Either way any
                process can attach to the job, follow, cancel and collect it.
            copy_checkpoints_from_job: A local job's ARN (``local:job/<name>``, in
                ``root``) whose checkpoints seed this job's checkpoint folder.
            client_token: Recorded as the tag ``braket-async:client-token`` in the
                job's ``metadata()["tags"]``, as a remote job carries its create's token:
                whoever made the job knows it for its own by it (a resumed sweep does).

        Raises:
            ConfigurationError: A bad name, path, entry point or option (a ``ValueError``),
                or the job's folder exists already.
            RuntimeUnavailableError: The runtime cannot run jobs here (no Docker daemon,
                no image); the message says how to fix it.
        """
        return JobCreation[LocalQuantumJob](
            cls._create(
                device=device,
                source_module=source_module,
                entry_point=entry_point,
                image_uri=image_uri,
                job_name=job_name,
                code_location=code_location,
                role_arn=role_arn,
                hyperparameters=hyperparameters,
                input_data=input_data,
                output_data_config=output_data_config,
                checkpoint_config=checkpoint_config,
                local_container_update=local_container_update,
                runtime=runtime,
                root=root,
                wait_until_complete=wait_until_complete,
                environment=environment,
                network_mode=network_mode or "default",
                detach=detach,
                aws_session=aws_session,
                copy_checkpoints_from_job=copy_checkpoints_from_job,
                client_token=client_token,
            )
        )

    @classmethod
    async def _create(
        cls,
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
        wait_until_complete: bool,
        environment: Mapping[str, str] | None,
        network_mode: str | None,
        detach: bool,
        aws_session: object | None,
        copy_checkpoints_from_job: str | None,
        client_token: str | None,
    ) -> LocalQuantumJob:
        arn, folder = await launch_job(
            device=device,
            source_module=source_module,
            entry_point=entry_point,
            image_uri=image_uri,
            job_name=job_name,
            code_location=code_location,
            role_arn=role_arn,
            hyperparameters=hyperparameters,
            input_data=input_data,
            output_data_config=output_data_config,
            checkpoint_config=checkpoint_config,
            local_container_update=local_container_update,
            runtime=runtime,
            root=root,
            environment=environment,
            network_mode=network_mode,
            detach=detach,
            aws_session=aws_session,
            copy_checkpoints_from_job=copy_checkpoints_from_job,
            client_token=client_token,
        )
        job = cls(arn, root=folder.parent)
        if wait_until_complete:
            try:
                await job.logs(wait=True)
            except BaseException:
                # This call owns the job until it ends: cancelling it stops the job.
                await finish(job.aclose())
                raise
        return job

    @property
    def _live(self) -> LiveRun | None:
        """The run of this job that this process drives, if any."""
        return supervised_run(self._folder)

    @property
    def arn(self) -> str:
        """The job's ARN, ``local:job/<name>``."""
        return ARN_PREFIX + self._name

    @property
    def name(self) -> str:
        """The job's name."""
        return self._name

    @property
    def folder(self) -> Path:
        """The job's output folder: results, ``log.txt``, ``checkpoints/``."""
        return self._folder

    @property
    def run_log(self) -> str:
        """The job's output so far, one line per line (reads ``log.txt``).

        Raises:
            JobNotFoundError: The job has no log (a ``ValueError``).
        """
        if self._run_log is not None:
            return self._run_log
        try:
            return (self._folder / LOG_FILE).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError as exc:
            raise JobNotFoundError(f"No log file for local job {self._name!r}") from exc

    async def state(self, use_cached_value: bool = False) -> JobState:
        """The job's current state (``QUEUED``, ``RUNNING``, ``COMPLETED``, ...).

        Read from the job's record, in whichever process the job runs. A job whose
        owner died is recorded FAILED by the first process that notices.
        """
        return JobState((await self.metadata(use_cached_value))["status"])

    async def metadata(self, use_cached_value: bool = False) -> dict[str, Any]:
        """The job's GetJob-shaped metadata: jobName, jobArn, status, createdAt, ..."""
        if self._cached_metadata is None or not use_cached_value:
            self._cached_metadata = await anyio.to_thread.run_sync(current_record, self._folder)
        return dict(self._cached_metadata)

    async def _cancel(
        self, *, wait: bool, poll_timeout_seconds: float, poll_interval_seconds: float
    ) -> JobState:
        """Cancel the job, from any process; a job that has ended is left as it is.

        Returns once the job's owner (its supervisor, or the process that holds it
        queued) has taken the request: the record says ``CANCELLING`` from then on,
        until it ends. A job that is not running anything any more (queued, or whose
        processes have exited) is not ``CANCELLING``: this returns its final state.
        With ``wait`` the job's processes or container are gone when this returns,
        and what it saved before is collected into its folder.

        Returns:
            ``CANCELLING`` while the job stops, else (and with ``wait``) its final
            state; :meth:`state` never reports an earlier one afterwards.

        Raises:
            JobTimeoutError: The owner did not take the request (or, with ``wait``,
                the job did not end) within ``poll_timeout_seconds``.
        """
        live = self._live
        if live is not None and wait:
            await live.cancel("Cancelled by the user")
            return await self.wait(poll_timeout_seconds, poll_interval_seconds)
        if live is not None:
            live.request_cancel("Cancelled by the user")
        state = await self._until_cancel_taken(
            live is None, poll_timeout_seconds, poll_interval_seconds
        )
        if wait and not state.is_terminal:
            return await self.wait(poll_timeout_seconds, poll_interval_seconds)
        return state

    async def _until_cancel_taken(
        self, ask_owner: bool, poll_timeout_seconds: float, poll_interval_seconds: float
    ) -> JobState:
        """Wait until the record is ``CANCELLING`` or final; with ``ask_owner``, ask the
        job's owner in another process to cancel it (again, if its supervisor changed
        meanwhile: a queued job gets one when it starts)."""
        signalled: int | None = None
        requested = False
        try:
            with anyio.fail_after(poll_timeout_seconds):
                while True:
                    metadata = await self.metadata()
                    state = JobState(metadata["status"])
                    if state is JobState.CANCELLING or state.is_terminal:
                        return state
                    supervisor = metadata.get("supervisor")
                    if (
                        ask_owner
                        and is_same_process(supervisor)
                        and not supervisor.get("inProcess")
                    ):
                        if supervisor["pid"] != signalled:
                            signalled = supervisor["pid"]
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(signalled, signal.SIGTERM)
                    elif ask_owner and not requested:
                        # The process that holds it queued, or runs it itself, looks
                        # for this file.
                        await anyio.to_thread.run_sync(self._request_cancel)
                        requested = True
                    await self._changed(poll_interval_seconds)
        except TimeoutError as exc:
            raise JobTimeoutError(self.arn, poll_timeout_seconds) from exc

    def _request_cancel(self) -> None:
        try:
            (private_folder(self._folder) / CANCEL_REQUEST).touch()
        except OSError as exc:
            raise ContainerError(f"Could not cancel job {self._name}: {failed_write(exc)}") from exc

    async def _next_state(self, poll_interval_seconds: float) -> JobState:
        """Wait for the next change of the job's files (at most an interval); its state."""
        await self._changed(poll_interval_seconds)
        return await self.state()

    async def _wait_until_done(
        self, poll_timeout_seconds: float, poll_interval_seconds: float
    ) -> dict[str, Any]:
        metadata = await self.metadata()  # one look whatever the timeout: 0 means no wait
        try:
            with anyio.fail_after(poll_timeout_seconds):
                while not JobState(metadata["status"]).is_terminal:
                    await self._changed(poll_interval_seconds)
                    metadata = await self.metadata()
                live = self._live
                if live is not None and not live.done.is_set():  # its supervisor not gone
                    await live.done.wait()
                return metadata
        except TimeoutError as exc:
            raise JobTimeoutError(self.arn, poll_timeout_seconds) from exc

    async def _changed(self, poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL) -> None:
        live = self._live
        if live is not None and not live.done.is_set():
            await live.changes.wait(poll_interval_seconds)
        else:
            # Another process runs the job: look again soon, whatever the interval (the
            # files are local, a look costs a stat and a small read).
            await anyio.sleep(min(POLL_SECONDS, poll_interval_seconds))

    def _logs(self, wait: bool, poll_interval_seconds: float) -> LogStream:
        """Every follower, in any process and however late, gets every line once, in
        order, each with the time it was logged."""
        return LogStream(
            lambda: follow_log(
                self._folder, wait=wait, changed=lambda: self._changed(poll_interval_seconds)
            )
        )

    async def _load_result(self, allow_pickle: bool) -> dict[str, Any]:
        path = self._folder / "results.json"
        return await anyio.to_thread.run_sync(_load_result, path, allow_pickle)

    async def _outputs_are_in(self, target: Path) -> bool:
        return target == self._folder

    async def _copy_outputs(self, target: Path) -> None:
        await anyio.to_thread.run_sync(_copy_outputs, self._folder, target)

    async def metrics(
        self,
        metric_type: MetricType = MetricType.TIMESTAMP,
        statistic: MetricStatistic = MetricStatistic.MAX,
    ) -> dict[str, list[Any]]:
        """The metrics the job logged with ``log_metric``, as columns.

        Example: ``{"timestamp": [t0, t1], "energy": [0.1, 0.2]}``.
        """
        lines = [
            event.message
            async for event in follow_log(self._folder, wait=False, changed=self._changed)
            if "Metrics -" in event.message
        ]
        return parse_metrics(lines, metric_type, statistic)

    async def aclose(self) -> None:
        """Cancel the job if this process drives it and it still runs; wait until freed.

        A handle of a job that another process drives closes without touching it.
        """
        live = self._live
        if live is None:
            return
        if not live.done.is_set():
            await live.cancel("Cancelled: its scope was left")

    def __repr__(self) -> str:
        return f"LocalQuantumJob({self.arn!r})"

    def _identity(self) -> tuple[object, ...]:
        # The same name under two roots is two jobs.
        return ("local", self.arn, self._folder.parent)


def _load_result(path: Path, allow_pickle: bool) -> dict[str, Any]:
    if path.is_symlink():
        raise ResultError(f"{path} is a link the job made; it is not followed")
    if not path.exists():
        return {}
    if not path.is_file():
        raise ResultError(f"{path} is not a file")
    try:
        return load_job_result(path, allow_pickle=allow_pickle)
    except UnicodeDecodeError as exc:
        raise ResultError(f"{path} is not UTF-8 text ({exc.reason})") from exc
    except ValueError as exc:
        if isinstance(exc, (ResultError, ConfigurationError)):
            raise
        raise ResultError(f"{path} is not a readable job result ({exc})") from exc


def _copy_outputs(source: Path, target: Path) -> None:
    shutil.copytree(
        source,
        target,
        symlinks=True,
        dirs_exist_ok=True,
        ignore=lambda folder, names: [PRIVATE_FOLDER] if Path(folder) == source else [],
    )
