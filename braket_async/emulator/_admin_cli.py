"""``braket-async emulator show`` and ``set``: a running emulator's settings.

Both talk to ``<url>/_emulator/settings`` (``GET``, ``PATCH``) with the standard
library's HTTP client; the URL is ``--url`` or ``$AWS_ENDPOINT_URL_BRAKET``, the line the
emulator printed. Every failure is one line on stderr: exit code 2 for a usage error, 1
when the emulator cannot be reached or refuses a value (it checks every value, and
applies a change whole or not at all).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from ._settings import SETTING_NAMES

__all__ = ["ADMIN_COMMANDS", "HelpFormatter", "OneLineErrorParser", "admin_main"]

ADMIN_COMMANDS = ("show", "set")
_URL_VARIABLE = "AWS_ENDPOINT_URL_BRAKET"
_TIMEOUT_SECONDS = 10.0
_EXIT_ERROR = 1
_EXIT_USAGE = 2


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help with the epilog's line breaks kept (each option states its own default)."""


class OneLineErrorParser(argparse.ArgumentParser):
    """A parser whose usage errors are one line on stderr (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(_EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Failure(Exception):
    """The command failed; the message is its one line."""


def _parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="braket-async emulator",
        description="Read or change the settings of a running emulator.",
        formatter_class=HelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrorParser)
    url_help = f"the emulator's Braket endpoint (default: ${_URL_VARIABLE})"
    show = commands.add_parser(
        "show",
        help="print the settings in force",
        description="Print the faults, limits and quotas in force in a running emulator.",
        epilog="example:\n  braket-async emulator show --url http://127.0.0.1:8282",
        formatter_class=HelpFormatter,
    )
    show.add_argument("--url", help=url_help)
    show.add_argument("--json", action="store_true", help="print JSON (default: off: lines)")
    change = commands.add_parser(
        "set",
        help="change settings while the emulator runs",
        description="Change faults, limits and quotas of a running emulator, all at once\n"
        "or none (each value is checked first); print the settings then in force.",
        epilog="examples:\n"
        "  braket-async emulator set --error-rate 1.0        every Braket call gets a 500\n"
        "  braket-async emulator set --error-rate 0 --rate-limits off\n"
        "  braket-async emulator set --concurrent-jobs-quota 2 --max-concurrent-jobs none\n"
        "'none' clears a bound; options left out keep their values.",
        formatter_class=HelpFormatter,
    )
    change.add_argument("--url", help=url_help)
    change.add_argument("--json", action="store_true", help="print JSON (default: off: lines)")

    def add(*names: str, **details: Any) -> None:
        change.add_argument(*names, default=argparse.SUPPRESS, **details)

    unchanged = " (default: unchanged)"
    add("--error-rate", type=float, metavar="FRACTION", help="fraction of 500s" + unchanged)
    add("--drop-rate", type=float, metavar="FRACTION", help="fraction of dropped" + unchanged)
    add(
        "--latency",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="added seconds, drawn from [LOW, HIGH]" + unchanged,
    )
    add("--seed", type=_integer_or_none, metavar="N|none", help="faults' seed" + unchanged)
    add(
        "--fault-operations",
        type=_operations,
        metavar="OP,...|all",
        help="operations faults apply to, e.g. CreateJob,GetJob" + unchanged,
    )
    add("--rate-limits", type=_on_off, metavar="on|off", help="rate limits" + unchanged)
    add("--rate-scale", type=float, metavar="FACTOR", help="factor on every rate" + unchanged)
    add(
        "--concurrent-jobs-quota",
        type=_integer_or_none,
        metavar="N|none",
        help="unfinished jobs before ServiceQuotaExceededException" + unchanged,
    )
    add(
        "--max-concurrent-jobs",
        type=_integer_or_none,
        metavar="N|none",
        help="jobs run at once" + unchanged,
    )
    return parser


def _integer_or_none(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer or 'none': {text!r}") from None


def _on_off(text: str) -> bool:
    if text.lower() not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"not 'on' or 'off': {text!r}")
    return text.lower() == "on"


def _operations(text: str) -> list[str] | None:
    if text.lower() == "all":
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def _changes(options: argparse.Namespace) -> dict[str, Any]:
    """The settings the options name (options left out are absent: SUPPRESS)."""
    changes = {}
    for name in SETTING_NAMES:
        option = "latency" if name == "latency_seconds" else name
        if hasattr(options, option):
            changes[name] = getattr(options, option)
    return changes


def settings_url(url: str | None) -> str:
    """``<url>/_emulator/settings``, with ``url`` defaulting to ``$AWS_ENDPOINT_URL_BRAKET``.

    Raises:
        _Failure: Neither gives a URL, or it is not an ``http(s)://host[:port]`` address.
    """
    base = url if url is not None else os.environ.get(_URL_VARIABLE)
    if not base:
        raise _Failure(
            f"no emulator address: pass --url or set {_URL_VARIABLE} "
            "(the emulator prints its export line when it starts)"
        )
    parsed = urllib.parse.urlsplit(base)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query:
        raise _Failure(f"not an emulator address: {base!r} (want http://HOST:PORT)")
    return base.rstrip("/") + "/_emulator/settings"


def _request(url: str, changes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings document the emulator answers; a PATCH when ``changes`` is given."""
    body = None if changes is None else json.dumps(changes).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="GET" if body is None else "PATCH",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    # The emulator is a local service: a proxy from the environment must not relay this.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=_TIMEOUT_SECONDS) as answer:
            return _document(answer.read(), url)
    except urllib.error.HTTPError as exc:
        with exc:
            message = _message(exc.read())
        if exc.code == 400 and message:
            raise _Failure(f"refused: {message}") from None
        raise _Failure(
            f"{url} answered HTTP {exc.code}{': ' + message if message else ''}; "
            "is this a braket-async emulator?"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise _Failure(f"cannot reach the emulator at {url}: {reason}") from None


def _document(body: bytes, url: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict) or set(document) != set(SETTING_NAMES):
        raise _Failure(f"{url} did not answer with emulator settings; is this its address?")
    return document


def _message(body: bytes) -> str:
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        return ""
    return " ".join(str(message).split())  # one line, whatever the server sent


def _print_settings(document: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(document, indent=2))
        return
    width = max(len(name) for name in document)
    for name in SETTING_NAMES:
        print(f"{name:<{width}}  {_shown(name, document[name])}")


def _shown(name: str, value: object) -> str:
    if value is None:
        return "all" if name == "fault_operations" else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return (", " if name == "fault_operations" else " ").join(map(str, value))
    return str(value)


def admin_main(argv: Sequence[str]) -> int:
    """Run ``show`` or ``set`` with ``argv`` (starting with the command); the exit code."""
    parser = _parser()
    try:
        options = parser.parse_args(argv)
    except SystemExit as exit:  # --help (0) or a usage error (2), printed already
        return exit.code if isinstance(exit.code, int) else _EXIT_USAGE
    changes = _changes(options) if options.command == "set" else None
    if changes == {}:
        return _fail("set: name at least one setting to change (see --help)", _EXIT_USAGE)
    try:
        url = settings_url(options.url)
    except _Failure as exc:
        return _fail(str(exc), _EXIT_USAGE)
    try:
        document = _request(url, changes)
    except _Failure as exc:
        return _fail(str(exc), _EXIT_ERROR)
    _print_settings(document, options.json)
    return 0


def _fail(message: str, code: int) -> int:
    print(f"braket-async emulator: {message}", file=sys.stderr, flush=True)
    return code
