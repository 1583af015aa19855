"""``braket-async emulator``: run the Braket service emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from ..runtimes import ProcessRuntime
from ._faults import Faults
from ._limits import RateLimits
from ._runner import FakeRunner, JobRunner
from ._runtime_runner import AwsEndpoint, RuntimeJobRunner
from ._server import BraketEmulator
from .testing import moto_server

__all__ = ["build_parser", "main"]


def build_parser(prog: str = "braket-async emulator") -> argparse.ArgumentParser:
    """The command line's options."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Run a local Amazon Braket service (Hybrid Jobs API)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8282, help="port (0: any free port)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--aws-endpoint-url",
        help="S3/CloudWatch Logs endpoint (a moto server); default: start one here",
    )
    parser.add_argument("--moto-port", type=int, default=0, help="port of the moto started here")
    parser.add_argument(
        "--fake-runner", action="store_true", help="run no job code: jobs complete at once"
    )
    parser.add_argument(
        "--max-concurrent-jobs", type=int, default=None, help="jobs the runner runs at once"
    )
    parser.add_argument(
        "--concurrent-jobs-quota",
        type=int,
        default=None,
        help="unfinished jobs allowed before CreateJob answers ServiceQuotaExceededException "
        "(Braket's concurrent hybrid jobs quota; default: no limit)",
    )
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument(
        "--rate-scale", type=float, default=1.0, help="multiply every default rate limit by this"
    )
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of 500s")
    parser.add_argument(
        "--drop-rate", type=float, default=0.0, help="fraction of dropped connections"
    )
    parser.add_argument(
        "--latency",
        type=float,
        nargs=2,
        default=(0.0, 0.0),
        metavar=("LOW", "HIGH"),
        help="added latency range in seconds",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of injected faults")
    return parser


async def _serve(options: argparse.Namespace, aws_endpoint_url: str) -> None:
    aws = AwsEndpoint(endpoint_url=aws_endpoint_url, region=options.region)
    runner: JobRunner
    if options.fake_runner:
        runner = FakeRunner()
    else:
        runner = RuntimeJobRunner(
            aws,
            runtime=ProcessRuntime(
                max_concurrent_jobs=options.max_concurrent_jobs, inherit_environment=False
            ),
        )
    limits = (
        RateLimits.disabled() if options.no_rate_limits else RateLimits().scaled(options.rate_scale)
    )
    faults = Faults(
        error_rate=options.error_rate,
        drop_rate=options.drop_rate,
        latency_seconds=tuple(options.latency),
        seed=options.seed,
    )
    async with BraketEmulator(
        runner=runner,
        host=options.host,
        port=options.port,
        region=options.region,
        rate_limits=limits,
        faults=faults,
        concurrent_jobs_quota=options.concurrent_jobs_quota,
    ) as emulator:
        role = await _ensure_jobs_role(aws)
        print(f"export AWS_ENDPOINT_URL_BRAKET={emulator.endpoint_url}")
        print(f"export AWS_ENDPOINT_URL={aws_endpoint_url}")
        print(f"export AWS_DEFAULT_REGION={options.region}")
        # The emulator's test credentials: a shell with these reaches nothing else.
        print(f"export AWS_ACCESS_KEY_ID={aws.access_key_id}")
        print(f"export AWS_SECRET_ACCESS_KEY={aws.secret_access_key}")
        print("unset AWS_SESSION_TOKEN AWS_PROFILE")
        print(f"# jobs role: {role}")
        print(f"# call counters: {emulator.endpoint_url}/_emulator/stats", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


async def _ensure_jobs_role(aws: AwsEndpoint) -> str:
    """The ARN of Braket's default jobs role in the emulated account, made if missing
    (SDKs look for ``AmazonBraketJobsExecutionRole*`` under ``/service-role/``)."""
    import aiobotocore.session  # type: ignore[import-untyped]

    session = aiobotocore.session.get_session()
    async with session.create_client("iam", **aws.client_kwargs()) as iam:
        listed = await iam.list_roles(PathPrefix="/service-role/")
        for role in listed.get("Roles", ()):
            if str(role["RoleName"]).startswith(_JOBS_ROLE):
                return str(role["Arn"])
        created = await iam.create_role(
            RoleName=_JOBS_ROLE, Path="/service-role/", AssumeRolePolicyDocument=_TRUST
        )
        return str(created["Role"]["Arn"])


_JOBS_ROLE = "AmazonBraketJobsExecutionRole"
_TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": '
    '{"Service": "braket.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator (and a moto server unless one is given) until interrupted."""
    options = build_parser().parse_args(argv)
    with contextlib.ExitStack() as stack:
        endpoint = options.aws_endpoint_url
        if endpoint is None:
            endpoint = stack.enter_context(moto_server(port=options.moto_port))
        asyncio.run(_serve(options, endpoint))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
