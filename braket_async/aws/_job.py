"""``AwsQuantumJob``: a hybrid job on Amazon Braket, as an async handle."""

from __future__ import annotations

import asyncio
import datetime
import errno
import functools
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs

from .._archives import safe_extract
from .._creation import JobCreation
from .._logs import LogStream
from .._quantum_job import DEFAULT_RESULTS_POLL_INTERVAL, QuantumJob
from .._rules import check_logger, check_poll_interval
from .._shield import finish
from .._states import JobState
from ..errors import (
    BraketAsyncError,
    ConfigurationError,
    ServiceError,
)
from ..jobs import load_job_result
from ..metrics import MetricStatistic, MetricType
from ._errors import job_not_found
from ._logs import LOG_GROUP, LogEvent, follow_logs
from ._plan import job_arn_region, plan_job, validate_client_token
from ._request import build_request
from ._s3 import parse_s3_uri
from ._session import AwsSession
from ._submit import submit_job

__all__ = ["AwsQuantumJob", "QueuePosition"]


@attrs.frozen
class QueuePosition:
    """Where a job is in its device's jobs queue (the official ``HybridJobQueueInfo``).

    Attributes:
        queue_position: The position, e.g. ``"2"`` or ``">15"``; ``None`` when the job
            is not queued (running or ended).
        message: Why there is no position, when there is none.
    """

    queue_position: str | None = None
    message: str | None = None


class AwsQuantumJob(QuantumJob):
    """A hybrid job on Amazon Braket.

    Create one with ``await AwsQuantumJob.create(...)``; attach to any existing job with
    ``AwsQuantumJob(arn)``. Every method that talks to AWS is a coroutine; waiting
    (``result()``, ``wait()``, ``download_result()``) goes through the session's shared
    poller, so many jobs can be awaited at once within Braket's API quotas.

    A job made without ``aws_session`` owns an :class:`AwsSession` in the job's region:
    close it with ``await job.aclose()`` or ``async with``. Closing never cancels the
    remote job; only :meth:`cancel` does.

    Args:
        arn: The job's ARN, ``arn:aws:braket:<region>:<account>:job/<id>``.
        aws_session: The session to use (borrowed, not closed by the job); default: a
            new session in the ARN's region, owned by the job.

    Raises:
        ConfigurationError: ``arn`` is not a job ARN, or ``aws_session`` is in another
            region than the job (a ``ValueError``).
    """

    TERMINAL_STATES = frozenset(state.value for state in JobState if state.is_terminal)
    RESULTS_FILENAME = "results.json"
    RESULTS_TAR_FILENAME = "model.tar.gz"
    LOG_GROUP = LOG_GROUP

    def __init__(
        self, arn: str, aws_session: AwsSession | None = None, quiet: bool = False
    ) -> None:
        if not isinstance(quiet, bool):
            raise ConfigurationError(f"quiet must be True or False, not {quiet!r}")
        region = job_arn_region(arn)
        if aws_session is None:
            self._session = AwsSession(region=region)
            self._owns_session = True
        else:
            if aws_session.region != region:
                raise ConfigurationError(
                    f"The session is in {aws_session.region} but job {arn} is in {region}"
                )
            self._session = aws_session
            self._owns_session = False
        self._arn = arn
        self._name: str | None = None
        self._metadata: dict[str, Any] | None = None
        # Set once cancel() answered CANCELLING: a later answer of the service (or of
        # the poller's cache) that lags behind is not reported as an earlier state.
        self._cancelling = False

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
        wait_until_complete: bool = False,
        hyperparameters: Mapping[str, Any] | None = None,
        input_data: object | None = None,
        instance_config: object | None = None,
        distribution: str | None = None,
        stopping_condition: object | None = None,
        output_data_config: object | None = None,
        copy_checkpoints_from_job: str | None = None,
        checkpoint_config: object | None = None,
        aws_session: AwsSession | None = None,
        tags: Mapping[str, str] | None = None,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
        quiet: bool = False,
        reservation_arn: str | None = None,
        *,
        poll_interval_seconds: float = DEFAULT_RESULTS_POLL_INTERVAL,
        client_token: str | None = None,
    ) -> JobCreation[AwsQuantumJob]:
        """Create a job on Amazon Braket (CreateJob) and return its handle.

        Every argument is checked before anything is uploaded. ``await`` the call, or use
        ``async with AwsQuantumJob.create(...) as job:`` to close the job's own session
        when the block is left (the job keeps running).

        Args:
            device: The device ARN the job gets priority on (``AMZN_BRAKET_DEVICE_ARN``
                in the job), or ``"local:<provider>/<simulator>"`` for an embedded
                simulator. A device ARN with a region must match the session's region;
                without ``aws_session`` the job's session is made in that region.
            source_module: A Python file or package folder, archived as
                ``source.tar.gz`` under ``code_location``; or the S3 URI of a ``.tar.gz``
                archive, used as it is (``entry_point`` is then required).
            entry_point: ``module`` or ``module:function`` within the source module.
                Default: the source module's name.
            image_uri: The job's container image (ECR). Default: Braket's base jobs image
                for the session's region.
            job_name: The job's name, ``^(?!-)[A-Za-z0-9-]{1,50}(?<!-)$``. Default:
                ``braket-job-default-<ms timestamp>-<random>`` (unique even for jobs
                created in the same millisecond).
            code_location: The S3 prefix for ``source.tar.gz``. Default:
                ``s3://<default bucket>/jobs/<job name>/<ms timestamp>/script``.
            role_arn: The IAM role the job runs as. Default:
                :meth:`AwsSession.jobs_role_arn`.
            wait_until_complete: Print the job's log until it ends, then return.
            hyperparameters: Passed to the job as strings (``str()`` of each value).
            input_data: A local path, an S3 URI or an :class:`S3DataSourceConfig`
                (channel ``"input"``), or a dict of channel name to one of those. Local
                files and folders are uploaded under
                ``s3://<default bucket>/jobs/<job name>/<ms timestamp>/data/<channel>/``.
            instance_config: An :class:`InstanceConfig` (default ``ml.m5.large``, one
                instance, 30 GB).
            distribution: ``"data_parallel"`` to set SageMaker's data-parallel
                hyperparameters, or ``None``.
            stopping_condition: A :class:`StoppingCondition` (default: five days).
            output_data_config: An :class:`OutputDataConfig`; default S3 path
                ``s3://<default bucket>/jobs/<job name>/<ms timestamp>/data``.
            copy_checkpoints_from_job: The ARN of a job whose checkpoints are copied to
                this job's checkpoint location before it is created.
            checkpoint_config: A :class:`CheckpointConfig`; default local path
                ``/opt/jobs/checkpoints`` and S3 URI
                ``s3://<default bucket>/jobs/<job name>/<ms timestamp>/checkpoints``.
            aws_session: The session to use (borrowed). Default: a new one, owned by
                the job and closed by :meth:`aclose`.
            tags: Tags of the job.
            logger: Where the create reports, at INFO, the job it made (default: the
                ``braket_async.aws`` logger), as the official SDK's ``logger=``.
            quiet: Taken as the official SDK takes it; nothing here reports queue
                positions unasked (:meth:`queue_position` does when asked).
            reservation_arn: A Braket Direct reservation to run the job in.
            poll_interval_seconds: With ``wait_until_complete``, the pause between log
                reads.
            client_token: The CreateJob ``clientToken`` (default: a new UUID). A create
                that is retried with the same token, even from another process, makes
                no second job: a sweep's manifest keeps tokens for that.

        The config objects of the official SDK (``braket.jobs.config``) are accepted
        too.

        Raises:
            ConfigurationError: An argument is wrong (a ``ValueError``), or there is no
                jobs role; nothing was uploaded.
            JobNotFoundError: ``copy_checkpoints_from_job`` does not exist.
            ServiceError: The service refused the job (e.g. ``ValidationException``) or
                an upload failed.
        """
        return JobCreation[AwsQuantumJob](
            cls._create(
                plan_arguments={
                    "device": device,
                    "source_module": source_module,
                    "entry_point": entry_point,
                    "image_uri": image_uri,
                    "job_name": job_name,
                    "code_location": code_location,
                    "role_arn": role_arn,
                    "hyperparameters": hyperparameters,
                    "input_data": input_data,
                    "instance_config": instance_config,
                    "distribution": distribution,
                    "stopping_condition": stopping_condition,
                    "output_data_config": output_data_config,
                    "copy_checkpoints_from_job": copy_checkpoints_from_job,
                    "checkpoint_config": checkpoint_config,
                    "tags": tags,
                    "reservation_arn": reservation_arn,
                },
                aws_session=aws_session,
                wait_until_complete=wait_until_complete,
                poll_interval_seconds=poll_interval_seconds,
                client_token=client_token,
                logger=_checked_logger(logger),
                quiet=quiet,
            )
        )

    @classmethod
    async def _create(
        cls,
        *,
        plan_arguments: dict[str, Any],
        aws_session: AwsSession | None,
        wait_until_complete: bool,
        poll_interval_seconds: float,
        client_token: str | None,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        quiet: bool,
    ) -> AwsQuantumJob:
        check_poll_interval(poll_interval_seconds)
        if not isinstance(quiet, bool):
            raise ConfigurationError(f"quiet must be True or False, not {quiet!r}")
        plan = plan_job(**plan_arguments)
        if client_token is not None:
            plan = attrs.evolve(plan, client_token=validate_client_token(client_token))
        if aws_session is None:
            session, owns = AwsSession(region=plan.device_region), True
        else:
            session, owns = aws_session, False
            if plan.device_region is not None and plan.device_region != session.region:
                raise ConfigurationError(
                    f"Device {plan.device} is in {plan.device_region} but the session is in "
                    f"{session.region}: pass a session of {plan.device_region}"
                )
        try:
            request = await build_request(session, plan)
            # Every attempt sends the same clientToken; a lost answer is looked up.
            job = cls(await submit_job(session, request), session)
        except BaseException:
            if owns:
                await finish(session.aclose())
            raise
        job._owns_session = owns
        job._name = plan.job_name
        logger.info("Created job %s (clientToken %s)", job.arn, plan.client_token)
        if wait_until_complete:
            try:
                print(f"Initializing Braket Job: {job.arn}", flush=True)
                await job.logs(wait=True, poll_interval_seconds=poll_interval_seconds)
            except BaseException:
                # The caller never gets the handle: free its session (the job runs on).
                await finish(job.aclose())
                raise
        return job

    @property
    def arn(self) -> str:
        """The job's ARN."""
        return self._arn

    @property
    def name(self) -> str:
        """The job's name.

        Known after :meth:`create` and after any call that read the job's metadata; a
        handle made from an ARN knows it after ``await job.metadata()``. (The official
        SDK calls GetJob here; a property cannot await.)

        Raises:
            BraketAsyncError: The name is not known yet.
        """
        if self._name is None:
            raise BraketAsyncError(
                f"The name of job {self._arn} is not known yet: await job.metadata() first"
            )
        return self._name

    @property
    def aws_session(self) -> AwsSession:
        """The session the job uses."""
        return self._session

    def _remember(self, metadata: dict[str, Any]) -> None:
        self._metadata = metadata
        if metadata.get("jobName"):
            self._name = str(metadata["jobName"])

    async def metadata(self, use_cached_value: bool = False) -> dict[str, Any]:
        """The job's GetJob answer (without ``ResponseMetadata``).

        Args:
            use_cached_value: Answer from the last metadata this handle or the session's
                poller read, if any, instead of calling GetJob.

        Raises:
            JobNotFoundError: The service has no such job (a ``ValueError``).
            ServiceError: GetJob failed.
        """
        if use_cached_value:
            cached = self._metadata or self._session.poller.cached_metadata(self._arn)
            if cached is not None:
                self._remember(cached)
                return self._not_before_cancel(cached)
        metadata = await self._get_job()
        return self._not_before_cancel(metadata)

    def _not_before_cancel(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``metadata``, ``CANCELLING`` where it lags behind what
        :meth:`cancel` returned."""
        copied = dict(metadata)
        if self._cancelling and copied.get("status") in _BEFORE_CANCELLING:
            copied["status"] = JobState.CANCELLING.value
        return copied

    async def _get_job(self, **params: Any) -> dict[str, Any]:
        try:
            response = await self._session.call("braket", "get_job", jobArn=self._arn, **params)
        except ServiceError as exc:
            if (missing := job_not_found(exc, self._arn)) is not None:
                raise missing from exc
            raise
        response.pop("ResponseMetadata", None)
        self._remember(response)
        return response

    async def state(self, use_cached_value: bool = False) -> JobState:
        """The job's state (``QUEUED``, ``RUNNING``, ``COMPLETED``, ...).

        Args:
            use_cached_value: Answer from the last metadata read instead of GetJob.

        Raises:
            JobNotFoundError: The service has no such job.
        """
        return JobState((await self.metadata(use_cached_value))["status"])

    async def queue_position(self) -> QueuePosition:
        """Where the job is in its device's jobs queue (GetJob with ``QueueInfo``).

        Returns:
            The position (``"3"``, ``">15"``) while the job is QUEUED; otherwise no
            position and the service's message.

        Raises:
            JobNotFoundError: The service has no such job.
        """
        metadata = await self._get_job(additionalAttributeNames=["QueueInfo"])
        info = metadata.get("queueInfo") or {}
        position = info.get("position")
        return QueuePosition(
            queue_position=None if position in (None, "None") else str(position),
            message=info.get("message"),
        )

    async def _cancel(
        self, *, wait: bool, poll_timeout_seconds: float, poll_interval_seconds: float
    ) -> JobState:
        """Cancel the job (CancelJob).

        Args:
            wait: Also wait until the job has stopped, and return its final state
                (``CANCELLED``, or how it ended if it ended first).
            poll_timeout_seconds: With ``wait``, how long to wait.
            poll_interval_seconds: With ``wait``, the polling interval.

        Returns:
            ``CANCELLING`` as the service answers; the final state with ``wait``. A job
            that had ended already is left as it is and its final state returned.
            :meth:`state` of this handle never reports an earlier state afterwards,
            even while the service still answers ``RUNNING``.

        Raises:
            JobNotFoundError: The service has no such job.
            JobTimeoutError: With ``wait``, the job did not stop in time.
            ServiceError: CancelJob failed.
        """
        try:
            response = await self._session.call("braket", "cancel_job", jobArn=self._arn)
            state = JobState(response["cancellationStatus"])
            self._cancelling = self._cancelling or state is JobState.CANCELLING
        except ServiceError as exc:
            if (missing := job_not_found(exc, self._arn)) is not None:
                raise missing from exc
            if exc.code != "ConflictException":
                raise
            state = await self.state()
            if not state.is_terminal:
                raise
        if wait and not state.is_terminal:
            state = await self.wait(poll_timeout_seconds, poll_interval_seconds)
        return state

    async def _wait_until_done(
        self, poll_timeout_seconds: float, poll_interval_seconds: float
    ) -> dict[str, Any]:
        created_at = (self._metadata or {}).get("createdAt")
        metadata = await self._session.poller.wait_until_done(
            self._arn,
            created_at=created_at if isinstance(created_at, datetime.datetime) else None,
            poll_interval_seconds=poll_interval_seconds,
            poll_timeout_seconds=poll_timeout_seconds,
        )
        self._remember(metadata)
        return metadata

    def _logs(self, wait: bool, poll_interval_seconds: float) -> LogStream:
        """The log of every instance of the job, merged in time order (lines written as
        it ends included). Printing colours each instance's lines on a terminal."""
        return LogStream(lambda: self._log_events(wait, poll_interval_seconds))

    async def _log_events(
        self, wait: bool, poll_interval_seconds: float
    ) -> AsyncIterator[LogEvent]:
        name = await self._job_name()
        waiter: asyncio.Future[JobState] | None = None
        if wait:
            # The end of the job is watched by the session's poller, not by GetJob calls
            # of this follower.
            waiter = asyncio.ensure_future(self.wait(poll_interval_seconds=poll_interval_seconds))

        async def is_terminal() -> bool:
            if waiter is None:
                return True
            if waiter.done():
                waiter.result()  # an error of the wait is the follower's error
                return True
            status = (self._metadata or {}).get("status")
            return status is not None and JobState(status).is_terminal

        try:
            async for event in follow_logs(
                self._session,
                job_name=name,
                job_arn=self._arn,
                wait=wait,
                poll_interval_seconds=poll_interval_seconds,
                is_terminal=is_terminal,
            ):
                yield event
        finally:
            if waiter is not None:
                if not waiter.done():
                    waiter.cancel()
                    await asyncio.wait([waiter])
                elif not waiter.cancelled():
                    waiter.exception()  # raised by is_terminal already, or moot now

    async def _job_name(self) -> str:
        if self._name is None:
            await self.metadata(use_cached_value=True)
        return self.name

    async def _load_result(self, allow_pickle: bool) -> dict[str, Any]:
        """``<outputDataConfig.s3Path>/output/model.tar.gz``, downloaded into a private
        temporary folder, extracted safely, its ``results.json`` read, all deleted."""
        metadata = self._metadata or await self.metadata()
        folder = Path(
            await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix="braket-result-"))
        )
        try:
            extracted = folder / "model"
            await self._download_outputs(metadata, folder / self.RESULTS_TAR_FILENAME, extracted)
            path = extracted / self.RESULTS_FILENAME
            return await anyio.to_thread.run_sync(
                lambda: load_job_result(path, allow_pickle=allow_pickle)
            )
        finally:
            await finish(anyio.to_thread.run_sync(shutil.rmtree, folder, True))

    async def _copy_outputs(self, target: Path) -> None:
        """The archive, downloaded and extracted into a private folder beside ``target``,
        then renamed into place in one step: concurrent downloads never share a file, and
        ``target`` appears complete or not at all."""
        metadata = self._metadata or await self.metadata()
        staging = Path(
            await anyio.to_thread.run_sync(lambda: _make_staging_folder(target.parent, target.name))
        )
        try:
            extracted = staging / target.name
            await self._download_outputs(metadata, staging / self.RESULTS_TAR_FILENAME, extracted)
            await anyio.to_thread.run_sync(_move_into_place, extracted, target)
        finally:
            await finish(anyio.to_thread.run_sync(shutil.rmtree, staging, True))

    async def _download_outputs(
        self, metadata: Mapping[str, Any], archive: Path, destination: Path
    ) -> None:
        s3_path = str(metadata["outputDataConfig"]["s3Path"]).rstrip("/")
        bucket, key = parse_s3_uri(f"{s3_path}/output/{self.RESULTS_TAR_FILENAME}")
        response = await self._session.call("s3", "get_object", Bucket=bucket, Key=key)
        async with response["Body"] as body, await anyio.open_file(archive, "wb") as file:
            while chunk := await body.read(1 << 20):
                await file.write(chunk)
        await anyio.to_thread.run_sync(
            functools.partial(safe_extract, archive, destination, name=f"s3://{bucket}/{key}")
        )

    async def metrics(
        self,
        metric_type: MetricType = MetricType.TIMESTAMP,
        statistic: MetricStatistic = MetricStatistic.MAX,
    ) -> dict[str, list[Any]]:
        """The metrics the job logged with ``log_metric``, as columns.

        Read with CloudWatch Logs Insights over the job's whole life (creation to end,
        or to now while it runs), without a row limit.

        Example: ``{"timestamp": [t0, t1], "energy": [0.1, 0.2]}``.

        Raises:
            JobNotFoundError: The service has no such job.
            ServiceError: CloudWatch Logs refused a query.
        """
        from ._metrics import query_metrics

        metadata = await self.metadata(use_cached_value=True)
        if not JobState(metadata["status"]).is_terminal or "createdAt" not in metadata:
            metadata = await self.metadata()
        end = metadata.get("endedAt") or datetime.datetime.now(datetime.timezone.utc)
        return await query_metrics(
            self._session,
            job_name=str(metadata["jobName"]),
            job_arn=self._arn,
            start=metadata["createdAt"],
            end=end,
            metric_type=MetricType(metric_type),
            statistic=MetricStatistic(statistic),
        )

    async def aclose(self) -> None:
        """Close the job's own session, if it has one. Never cancels the job. Idempotent."""
        if self._owns_session:
            await self._session.aclose()

    def __repr__(self) -> str:
        return f"AwsQuantumJob({self._arn!r})"

    def _identity(self) -> tuple[object, ...]:
        return ("remote", self._arn)


_BEFORE_CANCELLING = frozenset({JobState.QUEUED.value, JobState.RUNNING.value})


def _make_staging_folder(root: Path, name: str) -> str:
    root.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".{name}-download-", dir=root.resolve())


def _move_into_place(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` in one step; an empty ``target`` is replaced."""
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise ConfigurationError(
                f"{target} exists and is not an empty folder: extract to another folder"
            ) from exc
        raise


_LOGGER = logging.getLogger("braket_async.aws")


def _checked_logger(logger: object) -> logging.Logger | logging.LoggerAdapter[Any]:
    return _LOGGER if logger is None else check_logger(logger)
