"""Running emulated jobs for real: S3 in, a local runtime, CloudWatch Logs and S3 out.

For each job the :class:`RuntimeJobRunner` waits for a runtime slot (the job is QUEUED
meanwhile), downloads the source archive, input channels and earlier checkpoints from
S3, runs ``instanceCount`` executions of the job through the runtime seam
(:class:`~braket_async.runtimes.JobSpec` in, :class:`~braket_async.runtimes.Execution`
out), streams each one's lines into its own CloudWatch Logs stream, then uploads
``<s3Path>/output/model.tar.gz`` and syncs checkpoints, also when the job fails or is
stopped.

On the Docker runtime each job runs in the image it names (see :mod:`._images`); on the
process runtime the image is not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiobotocore.session  # type: ignore[import-untyped]
import anyio
import anyio.to_thread
import botocore.exceptions  # type: ignore[import-untyped]

from .._archives import safe_extract, tar_gz_folder
from .._braket import DEFAULT_CHECKPOINT_PATH
from .._shield import finish
from ..errors import ArchiveError, RuntimeUnavailableError
from ..runtimes import Execution, JobRuntime, JobSpec, ProcessRuntime
from ..runtimes._base import CHECKPOINTS_FOLDER, MODEL_FOLDER, output_blocks
from ._cloudwatch import LogStreamWriter, ensure_log_group
from ._endpoint import AwsEndpoint
from ._images import ImageUnavailable, job_image
from ._prices import price_list_url
from ._runner import JobControl
from ._s3 import download_object, download_prefix, parse_s3_uri, upload_folder
from ._slots import JobSlots

__all__ = ["RuntimeJobRunner"]


class _SetupError(Exception):
    """The job cannot start; the message is its failure reason."""


class RuntimeJobRunner:
    """Runs emulated jobs with a braket_async runtime; see the module docstring.

    Args:
        aws: The S3 and CloudWatch Logs endpoint (and the credentials jobs get).
        runtime: The runtime (default: a :class:`~braket_async.runtimes.ProcessRuntime`
            owned by the runner, whose jobs see none of this process's environment but
            the basics). Its ``max_concurrent_jobs`` bounds running jobs too. Pass a
            process runtime with ``inherit_environment=False``, or jobs see the
            operator's variables; a Docker runtime gives jobs nothing but their own
            environment, and needs a ``network_mode`` that reaches the emulator and
            ``aws`` (``"host"`` for loopback addresses).
        braket_image: On the Docker runtime, the local image that jobs asking for one of
            Braket's own images run in; without it such jobs fail, saying so.
        max_concurrent_jobs: How many jobs run at once (more wait ``QUEUED``); ``None``
            for no bound. :meth:`set_max_concurrent_jobs` changes it while jobs run.
        log_batch_seconds: How long log lines may wait to be sent together.
        work_root: Where per-job scratch folders are made (default: the system's).
    """

    def __init__(
        self,
        aws: AwsEndpoint,
        *,
        runtime: JobRuntime | None = None,
        braket_image: str | None = None,
        max_concurrent_jobs: int | None = None,
        log_batch_seconds: float = 0.1,
        work_root: Path | None = None,
    ) -> None:
        self.aws = aws
        self.runtime = runtime if runtime is not None else ProcessRuntime(inherit_environment=False)
        self._owns_runtime = runtime is None
        self.braket_image = braket_image
        self._slots = JobSlots(max_concurrent_jobs)
        self.log_batch_seconds = log_batch_seconds
        self.work_root = work_root
        self._stack = contextlib.AsyncExitStack()
        self._clients: tuple[Any, Any] | None = None
        self._clients_lock = asyncio.Lock()
        self._log_group_ready = False
        self._closed = False

    async def _aws_clients(self) -> tuple[Any, Any]:
        async with self._clients_lock:
            if self._clients is None:
                session = aiobotocore.session.get_session()
                kwargs = self.aws.client_kwargs()
                s3 = await self._stack.enter_async_context(session.create_client("s3", **kwargs))
                logs = await self._stack.enter_async_context(
                    session.create_client("logs", **kwargs)
                )
                self._clients = (s3, logs)
            if not self._log_group_ready:
                await ensure_log_group(self._clients[1])
                self._log_group_ready = True
            return self._clients

    @property
    def max_concurrent_jobs(self) -> int | None:
        """How many jobs run at once; ``None`` for no bound (the runtime's aside)."""
        return self._slots.limit

    def set_max_concurrent_jobs(self, limit: int | None) -> None:
        """Change the bound: queued jobs that now fit start at once, running ones go on.

        Raises:
            ValueError: ``limit`` is below 1.
        """
        self._slots.set_limit(limit)

    def image_for(self, job: JobControl) -> str | None:
        """The local image ``job`` runs in; ``None`` on a runtime that runs no images.

        Raises:
            ImageUnavailable: The job asks for a Braket image and there is no stand-in.
        """
        if self.runtime.name == "process":
            return None
        uri = job.request["algorithmSpecification"].get("containerImage", {}).get("uri")
        return job_image(uri, braket_image=self.braket_image)

    async def run(self, job: JobControl) -> str | None:
        """Run the job to its end; see :class:`~braket_async.emulator.JobRunner`."""
        s3, logs = await self._aws_clients()
        async with self._slots.hold(), self.runtime.job_slot():
            job.started()
            folder = Path(
                await anyio.to_thread.run_sync(
                    lambda: tempfile.mkdtemp(prefix="braket-emulator-", dir=self.work_root)
                )
            )
            try:
                return await _JobRun(self, job, s3, logs, folder).run()
            finally:
                await finish(anyio.to_thread.run_sync(shutil.rmtree, folder, True))

    async def aclose(self) -> None:
        """Close the AWS clients and, if the runner made it, the runtime."""
        if self._closed:
            return
        self._closed = True
        try:
            await finish(self._stack.aclose())
        finally:
            if self._owns_runtime:
                await finish(self.runtime.aclose())


class _JobRun:
    """One job's run: its scratch folder, executions and log streams."""

    def __init__(
        self, runner: RuntimeJobRunner, job: JobControl, s3: Any, logs: Any, folder: Path
    ) -> None:
        self.runner = runner
        self.job = job
        self.s3 = s3
        self.logs = logs
        self.folder = folder
        self.request: Mapping[str, Any] = job.request
        self.executions: list[Execution] = []
        self.writers: list[LogStreamWriter] = []

    async def run(self) -> str | None:
        self.job.event("DOWNLOADING_DATA")
        try:
            spec = await self._prepare()
        except _SetupError as exc:
            return str(exc)
        codes: list[int] = []
        try:
            codes = await self._execute(spec)
        finally:
            reasons = await finish(self._wrap_up())
        for code, reason in zip(codes, reasons, strict=False):
            if code != 0:
                return reason or f"AlgorithmError: exit code: {code}"
        return None

    async def _prepare(self) -> JobSpec:
        try:
            image = self.runner.image_for(self.job)
        except ImageUnavailable as exc:
            raise _SetupError(str(exc)) from exc
        script = self.request["algorithmSpecification"]["scriptModeConfig"]
        code_folder = self.folder / "code"
        try:
            data = await download_object(self.s3, script["s3Uri"])
            if script.get("compressionType", "NONE") == "GZIP" or _is_tar(data):
                await anyio.to_thread.run_sync(safe_extract, data, code_folder)
            else:
                _, key = parse_s3_uri(script["s3Uri"])
                target = code_folder / key.rsplit("/", 1)[-1]
                await anyio.to_thread.run_sync(_write, target, data)
            input_data = {}
            for channel in self.request.get("inputDataConfig", ()):
                target = self.folder / "input" / channel["channelName"]
                target.mkdir(parents=True, exist_ok=True)
                await download_prefix(
                    self.s3, channel["dataSource"]["s3DataSource"]["s3Uri"], target
                )
                input_data[channel["channelName"]] = target
            checkpoint = self.request.get("checkpointConfig")
            checkpoint_input = None
            if checkpoint:
                checkpoint_input = self.folder / "checkpoints-in"
                checkpoint_input.mkdir()
                await download_prefix(self.s3, checkpoint["s3Uri"], checkpoint_input)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise _SetupError(f"ClientError: could not download the job's data: {exc}") from exc
        except (ArchiveError, ValueError, OSError) as exc:
            raise _SetupError(f"ClientError: {exc}") from exc
        code = sorted(code_folder.iterdir()) if code_folder.is_dir() else []
        spec = JobSpec(
            job_name=self.job.name,
            job_arn=self.job.arn,
            device=self.request["deviceConfig"]["device"],
            entry_point=script["entryPoint"],
            code=tuple(code),
            hyperparameters=self.request.get("hyperParameters", {}),
            input_data=input_data,
            checkpoint_path=(checkpoint or {}).get("localPath", DEFAULT_CHECKPOINT_PATH),
            checkpoint_input=checkpoint_input,
            environment=self._environment(script),
            image_uri=image,
        )
        try:
            await self.runner.runtime.prepare(spec)
        except RuntimeUnavailableError as exc:
            raise _SetupError(f"ClientError: {exc}") from exc
        return spec

    def _environment(self, script: Mapping[str, Any]) -> dict[str, str]:
        # The same values the official SDK's local mode gives a job.
        bucket, location = parse_s3_uri(self.request["outputDataConfig"]["s3Path"])
        environment = self.runner.aws.job_environment(self.job.service_url)
        environment.update(
            {
                "AMZN_BRAKET_OUT_S3_BUCKET": bucket,
                "AMZN_BRAKET_TASK_RESULTS_S3_URI": f"s3://{bucket}/jobs/{self.job.name}/tasks",
                "AMZN_BRAKET_JOB_RESULTS_S3_PATH": "/".join(
                    part for part in (location.strip("/"), self.job.name, "output") if part
                ),
                "AMZN_BRAKET_SCRIPT_S3_URI": script["s3Uri"],
                # Quantum tasks created with it belong to the job.
                "AMZN_BRAKET_JOB_TOKEN": self.job.job_token,
            }
        )
        if self.job.service_url:
            environment["BRAKET_PRICE_OFFERS_URL"] = price_list_url(self.job.service_url)
        if "compressionType" in script:
            environment["AMZN_BRAKET_SCRIPT_COMPRESSION_TYPE"] = script["compressionType"]
        return environment

    async def _execute(self, spec: JobSpec) -> list[int]:
        stamp = int(time.time())
        for index in range(1, self.job.instance_count + 1):
            writer = LogStreamWriter(
                self.logs,
                f"{self.job.name}/{self.job.uuid}/algo-{index}-{stamp}",
                batch_seconds=self.runner.log_batch_seconds,
            )
            self.writers.append(writer)
            await writer.open()
            self.executions.append(await self.runner.runtime.start(spec))
        self.job.event("RUNNING")
        pumps = [
            asyncio.create_task(self._pump(execution, writer))
            for execution, writer in zip(self.executions, self.writers, strict=True)
        ]
        try:
            codes = [await execution.wait() for execution in self.executions]
            await asyncio.gather(*pumps)
        except asyncio.CancelledError:
            await finish(self._stop(pumps))
            raise
        return codes

    async def _pump(self, execution: Execution, writer: LogStreamWriter) -> None:
        async for block in output_blocks(execution):
            for line in block.split("\n")[:-1]:
                writer.write(line)

    async def _stop(self, pumps: list[asyncio.Task[None]]) -> None:
        """Kill every execution and keep the lines they printed before dying."""
        await asyncio.gather(*(execution.kill() for execution in self.executions))
        with anyio.move_on_after(10):
            await asyncio.gather(*pumps, return_exceptions=True)
        for pump in pumps:
            pump.cancel()

    async def _wrap_up(self) -> list[str | None]:
        """Upload results and checkpoints, flush logs, close executions."""
        reasons: list[str | None] = []
        try:
            if self.executions:
                self.job.event("UPLOADING_RESULTS")
            outputs = []
            for index, execution in enumerate(self.executions, start=1):
                output = self.folder / "output" / f"algo-{index}"
                reasons.append((await execution.collect(output)).failure_reason)
                outputs.append(output)
            if outputs:
                await self._upload(outputs)
        finally:
            for writer in self.writers:
                await writer.aclose()
            for execution in self.executions:
                await execution.aclose()
        return reasons

    async def _upload(self, outputs: list[Path]) -> None:
        # As on SageMaker, the first instance's results folder is the job's result.
        archive = await anyio.to_thread.run_sync(lambda: tar_gz_folder(outputs[0] / MODEL_FOLDER))
        bucket, key = parse_s3_uri(self.request["outputDataConfig"]["s3Path"])
        key = "/".join(part for part in (key.strip("/"), "output", "model.tar.gz") if part)
        await self.s3.put_object(Bucket=bucket, Key=key, Body=archive)
        checkpoint = self.request.get("checkpointConfig")
        if checkpoint:
            for output in outputs:
                await upload_folder(self.s3, output / CHECKPOINTS_FOLDER, checkpoint["s3Uri"])


def _is_tar(data: bytes) -> bool:
    # gzip magic, or "ustar" at offset 257 of a plain tar header.
    return data[:2] == b"\x1f\x8b" or data[257:262] == b"ustar"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
