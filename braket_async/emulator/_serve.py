"""Serving ``braket-async emulator``: moto, the account's setup, the emulator, until a
signal ends it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

import botocore.exceptions  # type: ignore[import-untyped]

from ..errors import RuntimeUnavailableError
from ..runtimes import JobRuntime, JobSpec, ProcessRuntime
from ._account import prepare_account
from ._endpoint import AwsEndpoint
from ._limits import RateLimits
from ._prices import price_list_url
from ._runner import FakeRunner, JobRunner
from ._runtime_runner import RuntimeJobRunner
from ._server import BraketEmulator
from ._settings import EmulatorSettings
from .testing import moto_server

__all__ = ["serve"]


def serve(options: argparse.Namespace, settings: EmulatorSettings) -> int:
    """Run the emulator (and a moto server unless one is given) until SIGINT or SIGTERM;
    the exit code."""
    try:
        with contextlib.ExitStack() as stack:
            endpoint = options.aws_endpoint_url
            if endpoint is None:
                # moto's web server logs every request to stderr; the operator wants none.
                logging.getLogger("werkzeug").setLevel(logging.WARNING)
                endpoint = stack.enter_context(moto_server(port=options.moto_port))
            asyncio.run(_serve(options, settings, endpoint))
    except KeyboardInterrupt:  # before the signal handlers were in place
        return 130
    except (
        OSError,
        RuntimeUnavailableError,
        botocore.exceptions.BotoCoreError,
        botocore.exceptions.ClientError,
    ) as exc:
        # A port in use, an --aws-endpoint-url that does not answer, a --docker-image
        # that is not here: one line, no trace.
        print(f"braket-async emulator: cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def _runtime(options: argparse.Namespace) -> JobRuntime | None:
    """The runtime the options ask for; ``None`` with ``--fake-runner``."""
    if options.fake_runner:
        return None
    if options.runtime == "docker":
        from ..runtimes import DockerRuntime  # loads aiodocker: only when asked for

        # The emulator and moto listen on loopback: only the host's network reaches them.
        # Images are used as they are here; the emulator pulls nothing.
        return DockerRuntime(network_mode="host", local_container_update=False)
    return ProcessRuntime(inherit_environment=False)


async def _check_stand_in(runtime: JobRuntime, image: str | None) -> None:
    """Refuse to start with a ``--docker-image`` the daemon lacks (or no daemon), rather
    than fail every job that needs it."""
    if image is not None:
        probe = JobSpec(
            job_name="docker-image-check",
            job_arn="local:job/docker-image-check",
            device="local:none/none",
            entry_point="check",
            code=(),
            image_uri=image,
        )
        await runtime.prepare(probe)


async def _serve(
    options: argparse.Namespace, settings: EmulatorSettings, aws_endpoint_url: str
) -> None:
    aws = AwsEndpoint(endpoint_url=aws_endpoint_url, region=options.region)
    async with contextlib.AsyncExitStack() as resources:
        runtime = _runtime(options)
        runner: JobRunner
        if runtime is None:
            runner = FakeRunner()
        else:
            resources.push_async_callback(runtime.aclose)  # after the emulator's jobs end
            await _check_stand_in(runtime, options.docker_image)
            runner = RuntimeJobRunner(
                aws,
                runtime=runtime,
                braket_image=options.docker_image,
                max_concurrent_jobs=settings.max_concurrent_jobs,
            )
        account = await prepare_account(aws)
        emulator = BraketEmulator(
            runner=runner,
            host=options.host,
            port=options.port,
            region=options.region,
            account_id=account.account_id,
            rate_limits=RateLimits(),
            aws=aws,
        )
        emulator.update_settings(settings.to_document())
        await resources.enter_async_context(emulator)
        url = emulator.endpoint_url
        print(f"export AWS_ENDPOINT_URL_BRAKET={url}")
        print(f"export AWS_ENDPOINT_URL={aws_endpoint_url}")
        print(f"export AWS_DEFAULT_REGION={options.region}")
        # The emulator's test credentials: a shell with these reaches nothing else.
        print(f"export AWS_ACCESS_KEY_ID={aws.access_key_id}")
        print(f"export AWS_SECRET_ACCESS_KEY={aws.secret_access_key}")
        print("unset AWS_SESSION_TOKEN AWS_PROFILE")
        # The official SDK's Tracker prices tasks from it: the emulator's test prices.
        print(f"export BRAKET_PRICE_OFFERS_URL={price_list_url(url)}")
        print(f"# jobs role: {account.role_arn}")
        print(f"# default bucket: s3://{account.bucket}")
        print(f"# jobs run: {_runs_jobs(options)}")
        print(f"# settings: {url}/_emulator/settings (braket-async emulator show | set --help)")
        print(f"# call counters: {url}/_emulator/stats", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def _runs_jobs(options: argparse.Namespace) -> str:
    if options.fake_runner:
        return "not at all (--fake-runner): they complete at once"
    if options.runtime == "process":
        return "as local Python processes"
    stand_in = options.docker_image or "none: such jobs fail (--docker-image)"
    return f"in Docker containers of their images; for Braket's own images: {stand_in}"
