"""``braket-async emulator``: run the Braket service emulator until interrupted.

``braket-async emulator [options]`` starts it (and a moto server unless one is given);
``braket-async emulator show`` and ``braket-async emulator set ...`` read and change the
settings of a running one (:mod:`._admin_cli`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ._admin_cli import ADMIN_COMMANDS, HelpFormatter, OneLineErrorParser, admin_main
from ._settings import EmulatorSettings, SettingsError, apply_changes

__all__ = ["build_parser", "main"]

_EPILOG = """\
examples:
  braket-async emulator
      A demo: every job runs for real as a local Python process, under Braket's own
      rate limits. Paste the lines it prints into another shell; then both SDKs
      (ours and amazon-braket-sdk) use the emulator as they would use AWS.
  braket-async emulator --runtime docker --docker-image python:3.11-slim
      Jobs run in containers (host network), each in the image it names; jobs that
      name one of Braket's own images run in python:3.11-slim.
  braket-async emulator --port 0 --fake-runner --no-rate-limits
      Tests of an API client: no job code runs, every job completes at once.
  braket-async emulator --error-rate 0.1 --drop-rate 0.05 --latency 0.05 0.5 --seed 7
      Tests of retries: the same faults in the same order on every run.
  braket-async emulator set --error-rate 1.0      (in the shell with the printed lines)
  braket-async emulator show
      Change and read the faults, limits and quotas of the running emulator.

settings for tests: --port 0 (a free port, read from the printed lines), --fake-runner
  when no job code needs to run, --no-rate-limits (or --rate-scale 10) so limits do not
  slow a suite, faults with a --seed so a failure repeats, --concurrent-jobs-quota N to
  test what happens past the quota.
settings for demos: the defaults: real jobs as local processes (--runtime docker for
  containers), Braket's own rate limits, no faults, no concurrent-jobs quota.

The admin endpoint (<endpoint>/_emulator/settings and /_emulator/stats) has no
authentication: keep --host on loopback unless everyone who can reach it may change it.
"""


def build_parser(prog: str = "braket-async emulator") -> argparse.ArgumentParser:
    """The options of starting the emulator."""
    parser = OneLineErrorParser(
        prog=prog,
        description="Run a local Amazon Braket service (hybrid jobs, quantum tasks on the\n"
        "local simulator, devices, a price list of test prices) with S3, CloudWatch Logs,\n"
        "STS and IAM of a moto server behind it, until interrupted.\n"
        f"`{prog} show` and `{prog} set` read and change a running one's settings.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    add("--port", type=_port, default=8282, help="port; 0 for any free one (default: %(default)s)")
    add("--region", default="us-east-1", help="the emulated region (default: %(default)s)")
    add(
        "--aws-endpoint-url",
        metavar="URL",
        help="a running moto server for S3, CloudWatch Logs, STS and IAM (default: start one here)",
    )
    add(
        "--moto-port",
        type=_port,
        default=0,
        metavar="PORT",
        help="port of the moto server started here; 0 for any free one (default: %(default)s)",
    )
    add(
        "--runtime",
        choices=("process", "docker"),
        default="process",
        help="what runs job code: a local Python process per job, with a clean environment "
        "of its own, or a Docker container per job in the image it names, on the host "
        "network (default: %(default)s)",
    )
    add(
        "--docker-image",
        metavar="IMAGE",
        help="with --runtime docker: the local image (with python3) that jobs naming one "
        "of Braket's own images run in (default: none: such jobs fail, saying to pass this)",
    )
    add(
        "--fake-runner",
        action="store_true",
        help="run no job code: every job completes at once (default: off)",
    )
    add(
        "--max-concurrent-jobs",
        type=int,
        metavar="N",
        help="jobs that run at once; more wait QUEUED (default: no bound)",
    )
    add(
        "--concurrent-jobs-quota",
        type=int,
        metavar="N",
        help="unfinished jobs allowed before CreateJob answers ServiceQuotaExceededException, "
        "as Braket's concurrent hybrid jobs quota (5 on AWS) does (default: no limit)",
    )
    add(
        "--no-rate-limits",
        action="store_true",
        help="answer every call, however fast (default: off: Braket's published "
        "per-operation rates apply, past them calls get ThrottlingException)",
    )
    add(
        "--rate-scale",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="multiply every rate limit by this (default: %(default)s)",
    )
    add(
        "--error-rate",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="fraction of Braket calls answered 500 before they run (default: %(default)s)",
    )
    add(
        "--drop-rate",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="fraction of Braket calls whose connection is closed after they ran, "
        "without an answer (default: %(default)s)",
    )
    add(
        "--latency",
        type=float,
        nargs=2,
        default=(0.0, 0.0),
        metavar=("LOW", "HIGH"),
        help="seconds added before each answer, drawn from [LOW, HIGH] (default: 0 0)",
    )
    add(
        "--seed",
        type=int,
        metavar="N",
        help="seed of the injected faults (default: none: other faults on every run)",
    )
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0 to 65535): {text!r}")
    return port


def _initial_settings(
    parser: argparse.ArgumentParser, options: argparse.Namespace
) -> EmulatorSettings:
    """The settings the options ask for, checked by the rules of the admin endpoint."""
    if options.fake_runner and options.runtime != "process":
        parser.error("--fake-runner runs no job code: it takes no --runtime")
    if options.docker_image is not None and options.runtime != "docker":
        parser.error("--docker-image needs --runtime docker")
    changes: dict[str, Any] = {
        "error_rate": options.error_rate,
        "drop_rate": options.drop_rate,
        "latency_seconds": list(options.latency),
        "seed": options.seed,
        "rate_limits": not options.no_rate_limits,
        "rate_scale": options.rate_scale,
        "concurrent_jobs_quota": options.concurrent_jobs_quota,
        "max_concurrent_jobs": options.max_concurrent_jobs,
    }
    try:
        return apply_changes(EmulatorSettings(bounded_runner=not options.fake_runner), changes)
    except SettingsError as exc:
        parser.error(str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    """Start the emulator, or with ``show`` / ``set`` talk to a running one; the exit
    code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] and arguments[0] in ADMIN_COMMANDS:
        return admin_main(arguments)
    parser = build_parser()
    try:
        options = parser.parse_args(arguments)
        settings = _initial_settings(parser, options)
    except SystemExit as exit:  # --help (0) or a usage error (2), printed already
        return exit.code if isinstance(exit.code, int) else 2
    from ._serve import serve  # the servers' libraries load only to serve

    return serve(options, settings)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
