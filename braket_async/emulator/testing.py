"""Helpers for tests against the emulator: a moto server, fake credentials, a full stack.

``pytest`` fixtures built on these live in the test suite; users can build their own::

    async with emulator_stack() as stack:
        async with stack.client("braket") as braket:
            ...

Everything listens on 127.0.0.1 on free ports, and nothing here reads the developer's
AWS configuration: :func:`clean_aws_environment` gives the variables to use instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import aiobotocore.session  # type: ignore[import-untyped]
import anyio.to_thread
import attrs
from botocore.config import Config  # type: ignore[import-untyped]

from ..errors import RuntimeUnavailableError
from ._endpoint import AwsEndpoint
from ._faults import Faults
from ._limits import RateLimits
from ._prices import price_list_url
from ._runner import FakeRunner, JobRunner
from ._runtime_runner import RuntimeJobRunner
from ._server import BraketEmulator

__all__ = [
    "FAKE_CREDENTIALS",
    "EmulatorStack",
    "clean_aws_environment",
    "emulator_stack",
    "moto_server",
]

#: Credentials that reach nothing but the local servers.
FAKE_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def clean_aws_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default ``os.environ``) without any ``AWS_*`` variable, plus fake
    credentials and config files that do not exist, so no real account is ever used."""
    source = os.environ if environ is None else environ
    cleaned = {name: value for name, value in source.items() if not name.startswith("AWS_")}
    cleaned.update(FAKE_CREDENTIALS)
    cleaned["AWS_CONFIG_FILE"] = os.devnull
    cleaned["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return cleaned


@contextlib.contextmanager
def moto_server(*, port: int = 0) -> Iterator[str]:
    """A moto server (S3, CloudWatch Logs, STS, IAM, ...) on loopback, ``port`` 0: a free one.

    Yields its endpoint URL. moto keeps its state per process, so use fresh resource
    names (buckets) per test.

    Raises:
        RuntimeUnavailableError: moto is not installed (the message says how).
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise RuntimeUnavailableError(
            "the emulator serves S3, CloudWatch Logs, STS and IAM through moto's server, "
            "which is not installed: pip install 'braket-async[emulator]' (or pass "
            "--aws-endpoint-url with one that runs)"
        ) from exc

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@attrs.define
class EmulatorStack:
    """A running emulator and the moto server behind it.

    Attributes:
        emulator: The Braket emulator.
        aws: The moto endpoint, region and credentials.
    """

    emulator: BraketEmulator
    aws: AwsEndpoint

    def client(self, service: str, *, retries: int = 1, **config: Any) -> Any:
        """An aiobotocore client context for ``service`` against the stack.

        ``braket`` reaches the emulator, every other service moto. ``retries`` is the
        total number of attempts (1: botocore retries nothing, so tests see every error).
        """
        session = aiobotocore.session.get_session()
        kwargs = self.aws.client_kwargs()
        if service == "braket":
            kwargs["endpoint_url"] = self.emulator.endpoint_url
        return session.create_client(
            service,
            config=Config(retries={"total_max_attempts": retries, "mode": "standard"}, **config),
            **kwargs,
        )

    def environment(self) -> dict[str, str]:
        """``AWS_ENDPOINT_URL_*`` variables and credentials that point any SDK here, and
        ``BRAKET_PRICE_OFFERS_URL``, the emulator's price list for cost tracking."""
        environment = dict(FAKE_CREDENTIALS)
        environment["AWS_DEFAULT_REGION"] = self.aws.region
        environment["AWS_ENDPOINT_URL"] = self.aws.endpoint_url
        environment["AWS_ENDPOINT_URL_BRAKET"] = self.emulator.endpoint_url
        environment["BRAKET_PRICE_OFFERS_URL"] = price_list_url(self.emulator.endpoint_url)
        return environment


@contextlib.asynccontextmanager
async def emulator_stack(
    *,
    runner: JobRunner | None = None,
    fake_runner: bool = False,
    rate_limits: RateLimits | None = None,
    faults: Faults | None = None,
    region: str = "us-east-1",
    aws_endpoint_url: str | None = None,
    **emulator_options: Any,
) -> AsyncIterator[EmulatorStack]:
    """Start moto and the emulator; stop both on exit.

    Args:
        runner: The job runner; default: a :class:`RuntimeJobRunner` on the process
            runtime using this moto server, or a :class:`FakeRunner` with ``fake_runner``.
        fake_runner: Run no job code.
        rate_limits: Default: none (tests opt into limits).
        faults: Injected faults (default none).
        region: The region of everything.
        aws_endpoint_url: A running moto server to use instead of starting one (also
            where quantum task results go).
        emulator_options: More :class:`BraketEmulator` arguments (``task_workers``, ...).
    """
    async with contextlib.AsyncExitStack() as stack:
        if aws_endpoint_url is None:
            server = moto_server()
            aws_endpoint_url = await anyio.to_thread.run_sync(server.__enter__)
            stack.push_async_callback(anyio.to_thread.run_sync, server.__exit__, None, None, None)
        aws = AwsEndpoint(endpoint_url=aws_endpoint_url, region=region)
        if runner is None:
            runner = FakeRunner() if fake_runner else RuntimeJobRunner(aws)
        emulator = BraketEmulator(
            runner=runner,
            region=region,
            rate_limits=rate_limits or RateLimits.disabled(),
            faults=faults,
            aws=aws,
            **emulator_options,
        )
        async with emulator:
            yield EmulatorStack(emulator=emulator, aws=aws)
