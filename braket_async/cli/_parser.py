"""The command line's grammar: every sub-command, its options, and an example of each.

Importing this module loads argparse only, so ``braket-async --help`` and a mistyped
option answer at once; a command's own module (and the library) load when it runs.
"""

from __future__ import annotations

import argparse
import math

from .._braket import LOCAL_DEVICE

__all__ = ["COMMANDS", "build_parser"]

#: Sub-command → (one-line summary, examples).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": (
        "create a job and follow its log until it ends",
        "  braket-async run algorithm.py -H shots=100\n"
        "  braket-async run src/ --entry-point src.main:start --target docker \\\n"
        "      --image-uri braket-async-test:python3\n"
        "  braket-async run algorithm.py --target remote \\\n"
        "      --device arn:aws:braket:::device/quantum-simulator/amazon/sv1",
    ),
    "status": ("show a job's state", "  braket-async status local:job/my-job --json"),
    "logs": (
        "print a job's log (-f: follow it until the job ends)",
        "  braket-async logs -f arn:aws:braket:us-east-1:123456789012:job/my-job\n"
        "  braket-async logs my-job --json",
    ),
    "result": (
        "wait for a job and print its result as JSON",
        "  braket-async result my-job --root jobs/\n  braket-async result my-job --json",
    ),
    "cancel": ("cancel a job", "  braket-async cancel my-job --wait"),
    "ls": (
        "list local jobs under a folder, or remote jobs (--remote)",
        "  braket-async ls --root jobs/ --state RUNNING\n"
        "  braket-async ls --remote --name-contains sweep --since 2h --json",
    ),
    "metrics": (
        "show the metrics a job logged, as a table or a plot",
        "  braket-async metrics my-job\n  braket-async metrics my-job --plot cost.png",
    ),
    "sweep": (
        "run a job per point of a grid or list, with a live display; resumable",
        "  braket-async sweep algorithm.py --grid grid.json --manifest sweep.json\n"
        "  braket-async sweep algorithm.py --points points.csv --max-concurrent-jobs 4",
    ),
    "emulator": (
        "run the local Braket service emulator (braket-async emulator --help)",
        "  braket-async emulator --port 8282",
    ),
}

_EXIT_CODES = """exit codes:
  0    the command did what it said (run, result, logs -f: the job COMPLETED)
  1    an error: bad input, no such job, the service refused (one line on stderr)
  2    a usage error (bad option)
  3    the job FAILED (run, result, logs -f, sweep: a point failed)
  4    the job was CANCELLED
  130  interrupted (Ctrl-C)"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``braket-async``."""
    parser = argparse.ArgumentParser(
        prog="braket-async",
        description="Run and watch Amazon Braket Hybrid Jobs, locally or on Braket.",
        epilog=_EXIT_CODES
        + "\n\nexamples:\n"
        + "\n".join(f"{examples.splitlines()[0]}" for _, examples in COMMANDS.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run(_command(commands, "run"))
    _add_status(_command(commands, "status"))
    _add_logs(_command(commands, "logs"))
    _add_result(_command(commands, "result"))
    _add_cancel(_command(commands, "cancel"))
    _add_ls(_command(commands, "ls"))
    _add_metrics(_command(commands, "metrics"))
    _add_sweep(_command(commands, "sweep"))
    # Its options are the emulator's own parser's: everything after the word goes there.
    _command(commands, "emulator").add_argument(
        "arguments", nargs=argparse.REMAINDER, help="the emulator's options"
    )
    return parser


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str
) -> argparse.ArgumentParser:
    summary, examples = COMMANDS[name]
    return commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog="example:\n" + examples,
        formatter_class=_Formatter,
    )


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; an option's default shown where it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, [], argparse.SUPPRESS):
            return text
        return f"{text} (default: {default})"


def _add_job(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "job",
        metavar="JOB",
        help="a local job's name or ARN (local:job/<name>), or a remote job's ARN",
    )
    _add_root(parser)
    _add_region(parser)
    _add_poll_interval(parser)


def _seconds(text: str) -> float:
    """A pause in seconds: a finite number above 0 (what every handle takes)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def _add_poll_interval(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll-interval",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="the pause between looks at a remote job (local jobs wake the command)",
    )


def _add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=".", help="the folder that holds local jobs' folders")


def _add_region(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region",
        default=None,
        help="AWS region of remote jobs (default: the job ARN's, or the AWS configuration)",
    )


def _add_json(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def _add_creation(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``sweep``: what a job is and where it runs."""
    parser.add_argument("source", metavar="SOURCE", help="the job's Python file or package folder")
    parser.add_argument(
        "--entry-point",
        default=None,
        help="module or module:function within SOURCE (default: SOURCE's module)",
    )
    parser.add_argument(
        "--target",
        choices=("process", "docker", "ray", "remote"),
        default="process",
        help="where the job runs: a local process or container, a Ray cluster, or Braket",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="URL",
        help="ray target: the Ray dashboard's address (default: $RAY_ADDRESS, else "
        "http://127.0.0.1:8265)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help=f"the device ARN the job sees (local default: {LOCAL_DEVICE}; required remote)",
    )
    parser.add_argument(
        "--image-uri", default=None, help="container image (docker and remote targets)"
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="[CHANNEL=]PATH",
        help="input data: a local path or (remote) an S3 URI, in channel 'input' or CHANNEL; "
        "repeatable",
    )
    parser.add_argument(
        "--network", default=None, help="docker target: the container's network mode"
    )
    parser.add_argument(
        "--role-arn", default=None, help="remote: the IAM role (default: the jobs role)"
    )
    parser.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="remote: a tag; repeatable"
    )
    _add_root(parser)
    _add_region(parser)


def _add_hyperparameters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-H",
        "--hyperparameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a hyperparameter; repeatable",
    )
    parser.add_argument(
        "--hyperparameters",
        default=None,
        metavar="FILE",
        help="a JSON file of an object of hyperparameters (-H values win)",
    )


def _add_run(parser: argparse.ArgumentParser) -> None:
    _add_creation(parser)
    _add_hyperparameters(parser)
    parser.add_argument("--name", default=None, help="the job's name (default: a unique one)")
    _add_poll_interval(parser)
    parser.add_argument(
        "--no-follow",
        action="store_true",
        help="print the job's ARN and return once it runs; a local job then outlives "
        "this command (it is detached)",
    )
    parser.add_argument(
        "--detach",
        action="store_true",
        help="local: let the job run on if this command is interrupted or killed",
    )
    _add_json(parser, "the job's ARN, name, final state and reason (log lines go to stderr)")


def _add_status(parser: argparse.ArgumentParser) -> None:
    _add_job(parser)
    _add_json(parser, "the job's whole description")


def _add_logs(parser: argparse.ArgumentParser) -> None:
    _add_job(parser)
    parser.add_argument(
        "-f", "--follow", action="store_true", help="follow the log until the job ends"
    )
    _add_json(parser, "one object a line (message, timestamp, instance) instead of the text")


def _add_result(parser: argparse.ArgumentParser) -> None:
    _add_job(parser)
    parser.add_argument(
        "--no-wait", action="store_true", help="fail at once if the job has not ended"
    )
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="unpickle a result saved as pickled_v4 (only for jobs you trust)",
    )
    parser.add_argument(
        "--download",
        default=None,
        metavar="FOLDER",
        help="also copy the job's outputs into FOLDER (a new folder)",
    )
    _add_json(
        parser,
        "the job's ARN, name, state, failure reason and result (also when it did not complete)",
    )


def _add_cancel(parser: argparse.ArgumentParser) -> None:
    _add_job(parser)
    parser.add_argument("--wait", action="store_true", help="wait until the job has stopped")
    _add_json(parser, "the job's state")


def _add_ls(parser: argparse.ArgumentParser) -> None:
    _add_root(parser)
    parser.add_argument("--remote", action="store_true", help="list jobs on Amazon Braket")
    _add_region(parser)
    parser.add_argument(
        "--state",
        action="append",
        default=[],
        type=str.upper,
        help="only jobs in this state; repeatable",
    )
    parser.add_argument("--name-contains", default=None, help="only jobs whose name has this")
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="remote: only jobs with this tag; repeatable",
    )
    parser.add_argument(
        "--since",
        default=None,
        metavar="WHEN",
        help="only jobs created since WHEN: an ISO time, or an age such as 30m, 2h, 7d",
    )
    parser.add_argument(
        "--limit", type=int, default=100, help="at most this many jobs, newest first"
    )
    _add_json(parser, "the jobs")


def _add_metrics(parser: argparse.ArgumentParser) -> None:
    _add_job(parser)
    parser.add_argument(
        "--by",
        choices=("timestamp", "iteration"),
        default="timestamp",
        help="what rows are keyed by",
    )
    parser.add_argument(
        "--statistic",
        choices=("max", "min"),
        default="max",
        help="which value to keep of several for one key",
    )
    parser.add_argument(
        "--plot",
        default=None,
        metavar="FILE.png",
        help="write a plot of every metric (needs braket-async[plot])",
    )
    _add_json(parser, "the metrics as columns")


def _add_sweep(parser: argparse.ArgumentParser) -> None:
    _add_creation(parser)
    points = parser.add_mutually_exclusive_group(required=True)
    points.add_argument(
        "--grid",
        metavar="FILE.json",
        help='a JSON object of values per hyperparameter: {"x": [1, 2], "lr": [0.1]}',
    )
    points.add_argument(
        "--points",
        metavar="FILE",
        help="a JSON list of hyperparameter objects, or a CSV file with a header row",
    )
    parser.add_argument(
        "--manifest",
        default=None,
        metavar="FILE",
        help="make the sweep resumable: run again after a crash to finish it",
    )
    parser.add_argument("--name-prefix", default=None, help="jobs are named <prefix>-<index>")
    parser.add_argument(
        "--max-concurrent-jobs", type=int, default=None, help="unfinished jobs at once"
    )
    _add_poll_interval(parser)
    parser.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="the live display (auto: when standard output is a terminal)",
    )
    _add_json(parser, "every point: hyperparameters, job, state, result or error")
