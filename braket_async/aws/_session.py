"""``AwsSession``: aiobotocore clients, discovery, rate limits and retries in one place.

Every AWS call of the library goes through :meth:`AwsSession.call`, which waits for the
operation's client-side rate limit, retries throttling and transient failures with
jittered backoff, and translates botocore's errors into ``braket_async.errors`` at this
one boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiobotocore.session  # type: ignore[import-untyped]
from anyio.abc import AsyncResource
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    NoRegionError,
)

from ..errors import ClosedError, ConfigurationError, ServiceError
from ._errors import is_transient, translate
from ._throttle import DEFAULT_BRAKET_RATES, Clock, OperationRate, RateLimiter, RetryPolicy

if TYPE_CHECKING:
    from ._poller import JobPoller

__all__ = ["AwsSession"]

_ROLE_NAME_PREFIX = "AmazonBraketJobsExecutionRole"


class AwsSession(AsyncResource):
    """AWS access for jobs: clients, region, account, default bucket and jobs role.

    Use it as ``async with AwsSession() as session:``; clients are created on first use
    and closed with the session. A closed session refuses to be used again.

    Args:
        region: The AWS region; default: the usual botocore configuration
            (``AWS_REGION``, ``AWS_DEFAULT_REGION``, profile).
        profile: A named profile of the AWS configuration files.
        endpoint_urls: Service name to endpoint URL, e.g. ``{"braket": "http://..."}``;
            ``AWS_ENDPOINT_URL_<SERVICE>`` variables are honoured as well.
        rates: Client-side rate limits by operation name (default: Braket's quotas);
            ``{}`` turns them off.
        retry: How throttled and transient failures are retried.
        default_bucket: The bucket for job code and outputs; default
            ``amazon-braket-<region>-<account>``, created when missing.
        clock: Time source and sleep of the limiter, retries and polling (tests).
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_urls: Mapping[str, str] | None = None,
        rates: Mapping[str, OperationRate] | None = None,
        retry: RetryPolicy | None = None,
        default_bucket: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._botocore = aiobotocore.session.get_session()
        if profile is not None:
            self._botocore.set_config_variable("profile", profile)
        self._region = region
        self.endpoint_urls = dict(endpoint_urls or {})
        self.clock = clock or Clock()
        self.limiter = RateLimiter(DEFAULT_BRAKET_RATES if rates is None else rates, self.clock)
        self.retry = retry or RetryPolicy()
        self._default_bucket = default_bucket
        self._rng = random.Random()
        self._clients: dict[str, Any] = {}
        self._client_locks: dict[str, asyncio.Lock] = {}
        self._stack = contextlib.AsyncExitStack()
        self._account: str | None = None
        self._bucket_ready: asyncio.Future[str] | None = None
        self._poller: JobPoller | None = None
        self._closed = False
        self._used = False

    @property
    def region(self) -> str:
        """The session's region.

        Raises:
            ConfigurationError: No region is configured.
        """
        if self._region is None:
            region = self._botocore.get_config_variable("region")
            if not region:
                raise ConfigurationError("No AWS region: pass region= or set AWS_DEFAULT_REGION")
            self._region = str(region)
        return self._region

    async def client(self, service: str) -> Any:
        """The session's aiobotocore client for ``service`` (created on first use)."""
        if self._closed:
            raise ClosedError("this AwsSession was closed")
        client = self._clients.get(service)
        if client is not None:
            return client
        lock = self._client_locks.setdefault(service, asyncio.Lock())
        async with lock:
            if service not in self._clients:
                self._used = True
                config = Config(
                    # Retries are ours (rate limit aware, never giving up on waits).
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    max_pool_connections=50,
                    user_agent_extra="braket_async",
                )
                kwargs: dict[str, Any] = {"region_name": self.region, "config": config}
                if service in self.endpoint_urls:
                    kwargs["endpoint_url"] = self.endpoint_urls[service]
                try:
                    creator = self._botocore.create_client(service, **kwargs)
                    self._clients[service] = await self._stack.enter_async_context(creator)
                except NoRegionError as exc:
                    raise ConfigurationError(f"No AWS region for {service}") from exc
        return self._clients[service]

    async def call(
        self,
        service: str,
        operation: str,
        *,
        retry: RetryPolicy | None = None,
        slot_held: bool = False,
        **params: Any,
    ) -> dict[str, Any]:
        """Call ``operation`` (snake_case, as on a boto3 client) of ``service``.

        Each attempt waits for its rate limit, except the first one when ``slot_held``
        (the caller took that slot from :attr:`limiter` already); throttling, 5xx answers
        and dropped connections are retried according to ``retry`` (default: the
        session's).

        Raises:
            ThrottlingError: Still throttled after the last attempt.
            ServiceError: The service answered with an error.
        """
        client = await self.client(service)
        method = getattr(client, operation)
        api_name = client.meta.method_to_api_mapping.get(operation, operation)
        policy = retry or self.retry
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1 or not slot_held:
                await self.limiter.acquire(api_name)
            try:
                response: dict[str, Any] = await method(**params)
                return response
            except Exception as exc:
                error = translate(exc, api_name)
                if not is_transient(error) or (
                    policy.max_attempts is not None and attempt >= policy.max_attempts
                ):
                    raise error from exc
            await self.clock.sleep(policy.delay(attempt, self._rng))

    async def account_id(self) -> str:
        """The account of the session's credentials (STS ``GetCallerIdentity``)."""
        if self._account is None:
            identity = await self.call("sts", "get_caller_identity")
            self._account = str(identity["Account"])
        return self._account

    async def job_environment(self) -> dict[str, str]:
        """The session's credentials, region and endpoints as a job's environment variables.

        For local jobs that call AWS from inside (``aws_session=`` of a local
        ``create()``): they travel only in the job's environment.

        Raises:
            ConfigurationError: The session has no credentials.
        """
        credentials = await self._botocore.get_credentials()
        if credentials is None:
            raise ConfigurationError("No AWS credentials to give the job: configure them first")
        frozen = await credentials.get_frozen_credentials()
        environment = {
            "AWS_ACCESS_KEY_ID": frozen.access_key,
            "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }
        if frozen.token:
            environment["AWS_SESSION_TOKEN"] = frozen.token
        for service, url in self.endpoint_urls.items():
            environment[f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"] = url
        return environment

    async def default_bucket(self) -> str:
        """``amazon-braket-<region>-<account>`` (or the one given), created when missing."""
        if self._bucket_ready is None:
            self._bucket_ready = asyncio.ensure_future(self._ensure_bucket())
        try:
            return await asyncio.shield(self._bucket_ready)
        except Exception:
            self._bucket_ready = None  # let the next caller try again
            raise

    async def _ensure_bucket(self) -> str:
        bucket = self._default_bucket or f"amazon-braket-{self.region}-{await self.account_id()}"
        try:
            await self.call("s3", "head_bucket", Bucket=bucket)
            return bucket
        except ServiceError as exc:
            if exc.code not in {"404", "NoSuchBucket", "NotFound"}:
                raise
        params: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            await self.call("s3", "create_bucket", **params)
        except ServiceError as exc:
            if exc.code != "BucketAlreadyOwnedByYou":
                raise
        return bucket

    async def jobs_role_arn(self) -> str:
        """The role jobs run as: ``BRAKET_JOBS_ROLE_ARN``, else the account's
        ``AmazonBraketJobsExecutionRole*`` service role.

        Raises:
            ConfigurationError: There is no such role.
        """
        configured = os.environ.get("BRAKET_JOBS_ROLE_ARN")
        if configured:
            return configured
        marker: str | None = None
        while True:
            params: dict[str, Any] = {"PathPrefix": "/service-role/"}
            if marker:
                params["Marker"] = marker
            page = await self.call("iam", "list_roles", **params)
            for role in page.get("Roles", ()):
                if str(role["RoleName"]).startswith(_ROLE_NAME_PREFIX):
                    return str(role["Arn"])
            if not page.get("IsTruncated"):
                break
            marker = page.get("Marker")
        raise ConfigurationError(
            "No Braket jobs role: pass role_arn=, set BRAKET_JOBS_ROLE_ARN, or create the "
            f"service role {_ROLE_NAME_PREFIX} in the Braket console"
        )

    @property
    def poller(self) -> JobPoller:
        """The session's shared poller, which watches every awaited job."""
        if self._poller is None:
            from ._poller import JobPoller

            self._poller = JobPoller(self)
        return self._poller

    async def aclose(self) -> None:
        """Stop the poller and close every client. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._poller is not None:
                await self._poller.aclose()
        finally:
            self._clients.clear()
            await self._stack.aclose()

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if getattr(self, "_used", False) and not self._closed:
            _warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=2)
