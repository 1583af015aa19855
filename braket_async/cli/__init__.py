"""``braket-async``: the command line (``braket-async --help``).

Each sub-command is an ``async`` function of the parsed options that returns the exit
code; :func:`main` runs it in an event loop whose Ctrl-C (and SIGTERM) cancels it, turns
the library's errors into one line on stderr and exit code 1, and an interruption into
130. Loading this package loads argparse only: the library loads when a command runs.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ._parser import build_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if arguments[:1] == ["emulator"]:
        # Imported here: the emulator is a layer of its own that the library never loads.
        from ..emulator._cli import main as emulator_main

        return emulator_main(arguments[1:])
    try:
        options = parser.parse_args(arguments)
    except SystemExit as exit:  # --help (0) or a usage error (2), printed already
        return exit.code if isinstance(exit.code, int) else 2
    if options.command is None:
        parser.print_help(sys.stderr)
        return 2
    return _run(_COMMANDS[options.command], options)


def _command(module: str, name: str) -> Callable[[Any], Awaitable[int]]:
    def command(options: Any) -> Awaitable[int]:
        import importlib

        function = getattr(importlib.import_module(module, __name__), name)
        return function(options)  # type: ignore[no-any-return]

    return command


_COMMANDS: dict[str, Callable[[Any], Awaitable[int]]] = {
    "run": _command("._run_command", "run"),
    "status": _command("._job_commands", "status"),
    "logs": _command("._job_commands", "logs"),
    "result": _command("._job_commands", "result"),
    "cancel": _command("._job_commands", "cancel"),
    "ls": _command("._listing", "ls"),
    "metrics": _command("._metrics_command", "metrics"),
    "sweep": _command("._sweep_command", "sweep"),
}


def _run(command: Callable[[Any], Awaitable[int]], options: Any) -> int:
    # Imported here: asyncio alone costs more than starting Python (``--help`` needs none).
    import asyncio
    import signal

    from ._common import EXIT_ERROR, EXIT_INTERRUPTED, CliError, say

    async def interruptible() -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        interrupted = False

        def interrupt() -> None:
            nonlocal interrupted
            if not interrupted:  # a second Ctrl-C lets the clean-up finish
                interrupted = True
                task.cancel()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, interrupt)
        try:
            return await command(options)
        except asyncio.CancelledError:
            if interrupted:
                return EXIT_INTERRUPTED
            raise

    from ..errors import BraketAsyncError

    try:
        return asyncio.run(interruptible())
    except CliError as error:
        say(f"error: {error}")
    except (BraketAsyncError, ValueError, OSError, TimeoutError) as error:
        say(f"error: {_one_line(error)}")
    return EXIT_ERROR


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 500 else text[:497] + "..."
