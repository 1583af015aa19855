"""The program that starts a job's user code inside the job (standard library only).

It runs in any image that has ``python3`` (3.10 or later), shipped next to the in-job API
under ``/opt/braket_async/lib/braket_async/jobs/`` and started as a script::

    python3 /opt/braket_async/lib/braket_async/jobs/_bootstrap.py --ml-root /opt/ml

(``python3 -m braket_async.jobs._bootstrap`` works too). It loads its sibling modules
(``_user_code.py``, ``_requirements.py``, ``_hyperparameters.py``, ``_missing_sdk.py``)
from its own folder, each only when it is needed, and the ``braket`` shim lives in
``_shim/`` beside it.

The runtime has already unpacked the code into ``<ml-root>/code`` and set the
``AMZN_BRAKET_*`` environment (see ``braket_async.runtimes._layout``). This process, the
*supervisor*:

1. reads and validates ``AMZN_BRAKET_SCRIPT_ENTRY_POINT``
   (``package.module`` or ``package.module:function``);
2. installs every ``requirements.txt`` of the code folder (see ``_requirements.py``:
   into a job environment of its own where the runtime asks for one);
3. starts the user code in a child process with the code folder as working directory
   and first entry of ``sys.path``; stdout and stderr are inherited, and the user
   code's are line-buffered (one write per line), so lines reach the job log as they
   are printed. The child is a fork of this process
   when the user code runs with this interpreter (no interpreter start, and only the
   few standard modules this process has loaded), else a fresh interpreter of the
   job environment (this file, run with ``--run-user-code``);
4. forwards SIGTERM, SIGINT and SIGHUP to the child, waits for it, and exits with its
   exit code.

Exit codes:

- the user code's own exit code (``0`` on success, ``1`` for an uncaught exception,
  ``N`` for ``sys.exit(N)``);
- ``128 + signum`` when the user code (or pip) died from a signal, as a shell reports it
  (SIGTERM gives 143, SIGKILL 137, SIGINT 130);
- ``2`` (:data:`SETUP_FAILURE_EXIT_CODE`) when the user code could not be started: no or
  bad entry point, missing module or function, hyperparameters that do not fit the
  function, failed requirements install, missing code folder.

On failure a one-line reason is written to ``<ml-root>/output/failure`` (no trailing
newline; user messages are joined onto one line and shortened to
:data:`MAX_MESSAGE_LENGTH` characters). Nothing is written on success, and a failure file
the user code wrote itself (the SageMaker convention) is left as it is. The formats:

- ``AlgorithmError: <ExceptionType>: <message>, exit code: <N>`` for an uncaught exception
  (``AlgorithmError: <ExceptionType>, exit code: <N>`` when the message is empty; a
  ``sys.exit("text")`` reports as ``SystemExit: text``);
- ``AlgorithmError: exit code: <N>`` for a non-zero exit without an exception;
- ``AlgorithmError: killed by signal <SIGNAME>, exit code: <128+signum>``;
- ``EntryPointError: <reason>``, ``HyperparameterError: <reason>``,
  ``RequirementsError: <reason>``, ``BootstrapError: <reason>`` when the user code could
  not be started.

When the user code failed importing a ``braket`` module and the Amazon Braket SDK is not
installed (see ``_missing_sdk.py``), ``; <how to install it>`` follows the exit code.

Deliberate differences from the official container (``braket_container.py``):

- Failures exit non-zero; the official container exits 0 after a setup failure.
- The failure file is written once, in the format above; the official one appends
  ``Type: message`` (without exit code) and prints setup failures over several lines.
- Every ``requirements.txt`` below the code folder is installed, as the official
  container does, but with this interpreter (not whatever ``python`` is on ``PATH``) or
  into a job environment layered on it, and a failed install fails the job instead of
  being ignored.
- Hyperparameters are bound to a function entry point's parameters one by one and
  converted by their annotations (see ``_hyperparameters.py``); those that do not fit
  fail the job with ``HyperparameterError`` before the function is called.
- A function entry point that returns a coroutine (``async def``) is run with
  ``asyncio.run``.
- The user code runs in a plain ``os.fork`` of the supervisor taken before any user
  module is imported (or a fresh interpreter of the job environment), not a
  ``multiprocessing`` child, and ``sys.argv`` holds only the entry module's path.
- Tracebacks printed for uncaught exceptions start at the user's code, without the
  bootstrap's and ``runpy``'s frames.
- If the image has no ``braket.jobs``, scripts written for the official SDK still import
  the in-job API from it, and ``PersistedJobDataFormat`` from ``braket.jobs_data``,
  through the shim shipped next to this file (:data:`SHIM_DIR`).

Not handled: MPI and ``data_parallel`` launches of the official container. If the
supervisor itself is killed with SIGKILL the child is not; runtimes stop the whole
process group (or container). A signal sent to the whole group reaches the child twice
(once directly, once forwarded).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    import types
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn

    from . import _user_code
    from ._relay import OutputRelay
    from ._user_code import EntryPoint, SetupError

if TYPE_CHECKING:
    import signal
else:
    # The C module: ``signal`` builds enums of every signal and handler first,
    # milliseconds of a trivial job's start in a slim image. Same numbers and functions.
    import _signal as signal


def _sibling(name: str) -> types.ModuleType:
    """A module next to this file, whether this runs as a script or was imported.

    As a script (how jobs start it) there is no package to import from: the module is
    loaded from its file, once. The siblings import nothing but the standard library.
    """
    import importlib

    if __package__:
        return importlib.import_module(f"{__package__}.{name}")
    qualified = f"braket_async_bootstrap_{name}"
    module = sys.modules.get(qualified)
    if module is None:
        import importlib.util

        # Not resolved: where the job sees its library (the process runtime links it).
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
        spec = importlib.util.spec_from_file_location(qualified, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return module


if not TYPE_CHECKING:
    _user_code = _sibling("_user_code")
    EntryPoint = _user_code.EntryPoint
    SetupError = _user_code.SetupError

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "SETUP_FAILURE_EXIT_CODE",
    "SHIM_DIR",
    "EntryPoint",
    "SetupError",
    "exit_code_of",
    "main",
    "parse_entry_point",
    "run",
    "supervise",
]

SETUP_FAILURE_EXIT_CODE = _user_code.SETUP_FAILURE_EXIT_CODE
MAX_MESSAGE_LENGTH = _user_code.MAX_MESSAGE_LENGTH
parse_entry_point = _user_code.parse_entry_point
_log = _user_code.log
_one_line = _user_code.one_line
_FORWARDED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)
_THIS_FILE = os.path.abspath(__file__)
SHIM_DIR = os.path.join(os.path.dirname(_THIS_FILE), "_shim")
"""The folder holding the ``braket`` namespace portion that stands in for the official SDK's
``braket.jobs`` and ``braket.jobs_data``; it goes last on the user code's ``sys.path``."""


def exit_code_of(returncode: int) -> int:
    """A child's exit status as this process reports it: ``128 + signum`` for a signal."""
    return 128 - returncode if returncode < 0 else returncode


class _Supervisor:
    """Runs child processes one at a time, forwarding termination signals to them."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._child: int | None = None
        self._pending: int | None = None
        self._previous: dict[int, Any] = {}
        #: In a forked child, the exit code of the function it ran.
        self.exit_code = 0

    def __enter__(self) -> _Supervisor:
        for signum in _FORWARDED_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: types.FrameType | None) -> None:
        self.received = signum
        child = self._child
        if child is None:
            self._pending = signum  # delivered once the child exists
        else:
            try:  # noqa: SIM105 - contextlib is one import more on a trivial job's path
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    def run(
        self,
        command: Sequence[str],
        cwd: str,
        pass_fds: Sequence[int] = (),
        relay: OutputRelay | None = None,
    ) -> int:
        """Run ``command`` to its end and return its return code (``-signum`` if killed).

        With ``relay``, its stdout and stderr go through the relay.
        """
        import subprocess

        stdout, stderr = relay.child_descriptors() if relay is not None else (None, None)
        with _signals_held():
            child = subprocess.Popen(
                command, cwd=cwd, pass_fds=pass_fds, stdout=stdout, stderr=stderr
            )
            self._child = child.pid
        if relay is not None:
            relay.start()
        return self._wait()

    def fork(self, function: Callable[[], int], relay: OutputRelay | None = None) -> int | None:
        """Run ``function`` in a forked child; its return code here (``-signum`` if
        killed), and ``None`` in the child once ``function`` returned its exit code.

        The child gets the signal handlers this process had before, and signals are
        held meanwhile, so that one sent while the child starts is neither lost nor
        taken by this process's handler in the child. With ``relay``, the child's stdout
        and stderr go through the relay.
        """
        # What this process has loaded lives as long as the user code: frozen, the
        # child's collections (its exit's included) skip it instead of walking, and
        # so copying, every page of it.
        import gc

        gc.freeze()
        with _signals_held():
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                self._restore()
        if pid == 0:
            if relay is not None:
                relay.become_child()
            self.exit_code = function()
            return None
        self._child = pid
        if relay is not None:
            relay.start()
        return self._wait()

    def _wait(self) -> int:
        child = self._child
        assert child is not None
        try:
            # A signal that arrived while the child was being started goes to it now.
            pending, self._pending = self._pending, None
            if pending is not None:
                os.kill(child, pending)
            _, status = os.waitpid(child, 0)
            return os.waitstatus_to_exitcode(status)
        finally:
            self._child = None


class _signals_held:
    """Holds the forwarded signals back for the duration of a ``with`` block."""

    def __enter__(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED_SIGNALS)

    def __exit__(self, *exc_info: object) -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED_SIGNALS)


def supervise(ml_root: str, relay_output: bool = False) -> int:
    """Install requirements, run the user code in a child process, report the outcome.

    With ``relay_output``, the user code's stdout and stderr reach this process's through
    an :class:`~._relay.OutputRelay` (fewer, larger writes). In a forked child this
    returns the user code's exit code too (after the child's own work): the caller exits
    with it either way.
    """
    ml_root = os.path.abspath(ml_root)
    code_dir = os.path.join(ml_root, "code")
    failure_path = os.path.join(ml_root, "output", "failure")
    with _Supervisor() as supervisor:
        try:
            entry_point = _entry_point_from_environment()
            if not os.path.isdir(code_dir):
                raise SetupError("BootstrapError", f"the code folder {code_dir} does not exist")
            # The job runs in its code folder, however it was started (a container's
            # working folder is left alone: a missing one costs the daemon a mount).
            os.chdir(code_dir)
            # None: no requirements, so the user code runs with this interpreter as it is.
            python = _install_requirements(code_dir, supervisor)
            if supervisor.received is not None:
                raise SetupError(
                    "BootstrapError",
                    f"stopped by {_signal_name(supervisor.received)} before the user code ran",
                    exit_code=128 + supervisor.received,
                )
        except SetupError as exc:
            return _fail(failure_path, str(exc), exc.exit_code)
        hyperparameters_file = os.environ.get("AMZN_BRAKET_HP_FILE") or None
        report_read, report_write = os.pipe()
        relay = _sibling("_relay").OutputRelay() if relay_output else None
        try:
            if python is None:
                returncode = supervisor.fork(
                    lambda: _run_forked(
                        entry_point, code_dir, (report_read, report_write), hyperparameters_file
                    ),
                    relay,
                )
                if returncode is None:  # the child, done
                    return supervisor.exit_code
            else:
                command = [
                    python,
                    *_interpreter_flags(),
                    "-u",  # unbuffered even when -I/-E hide PYTHONUNBUFFERED
                    _THIS_FILE,
                    "--run-user-code",
                    "--entry-point",
                    str(entry_point),
                    "--code-dir",
                    code_dir,
                    "--report-fd",
                    str(report_write),
                    "--shim-dir",
                    SHIM_DIR,
                ]
                if hyperparameters_file:
                    command += ["--hyperparameters", hyperparameters_file]
                returncode = supervisor.run(
                    command, cwd=code_dir, pass_fds=(report_write,), relay=relay
                )
            os.close(report_write)
            report = _read_report(report_read)
        finally:
            if relay is not None:
                relay.finish()
            for fd in (report_read, report_write):
                try:  # noqa: SIM105 - as above
                    os.close(fd)
                except OSError:
                    pass
        if returncode == 0:
            return 0
        return _fail(failure_path, _failure_reason(report, returncode), exit_code_of(returncode))


def _run_forked(
    entry_point: EntryPoint,
    code_dir: str,
    report_pipe: tuple[int, int],
    hyperparameters_file: str | None,
) -> int:
    """The forked child: the user code (which sets up its own standard streams)."""
    os.close(report_pipe[0])
    return _user_code.run_user_code(
        entry_point,
        code_dir=code_dir,
        report_fd=report_pipe[1],
        shim_dir=SHIM_DIR,
        hyperparameters_file=hyperparameters_file,
    )


def _entry_point_from_environment() -> EntryPoint:
    text = os.environ.get("AMZN_BRAKET_SCRIPT_ENTRY_POINT", "")
    if not text.strip():
        raise SetupError("EntryPointError", "AMZN_BRAKET_SCRIPT_ENTRY_POINT is not set")
    return parse_entry_point(text)


def _install_requirements(code_dir: str, supervisor: _Supervisor) -> str | None:
    """Install every requirements file of the code; the interpreter for the user code,
    ``None`` when it has no requirements (this interpreter, untouched)."""
    requirements = _sibling("_requirements")
    if not requirements.find_requirements(code_dir):
        return None
    try:
        python: str = requirements.prepare_environment(code_dir, supervisor.run, _log)
    except requirements.RequirementsFailure as exc:
        raise SetupError("RequirementsError", str(exc), exc.exit_code) from exc
    return python


def _interpreter_flags() -> list[str]:
    """Options that make a child interpreter see the same modules as this one.

    Without them, a bootstrap started with ``-I`` or ``-S`` would run the user code with
    the environment's site-packages after all.
    """
    flags = sys.flags
    options: list[str] = []
    if flags.isolated:
        options.append("-I")
    else:
        options += ["-E"] * bool(flags.ignore_environment) + ["-s"] * bool(flags.no_user_site)
        if getattr(flags, "safe_path", False):  # Python 3.11+
            options.append("-P")
    options += ["-S"] * bool(flags.no_site) + ["-B"] * bool(flags.dont_write_bytecode)
    options += ["-O"] * flags.optimize
    options += [f"-W{option}" for option in sys.warnoptions]
    for key, value in sys._xoptions.items():
        options.append(f"-X{key}" if value is True else f"-X{key}={value}")
    return options


def _failure_reason(report: dict[str, str], returncode: int) -> str:
    exit_code = exit_code_of(returncode)
    if "reason" in report:
        return report["reason"]
    if "type" in report:
        hint = f"; {_one_line(report['hint'])}" if report.get("hint") else ""
        message = _one_line(report.get("message", ""), MAX_MESSAGE_LENGTH - len(hint))
        described = f"{report['type']}: {message}" if message else report["type"]
        return f"AlgorithmError: {described}, exit code: {exit_code}{hint}"
    if returncode < 0:
        return (
            f"AlgorithmError: killed by signal {_signal_name(-returncode)}, exit code: {exit_code}"
        )
    return f"AlgorithmError: exit code: {exit_code}"


def _read_report(fd: int) -> dict[str, str]:
    """What the exited child wrote to the report pipe (nothing blocks: whatever else
    holds the pipe's other end, a background child of the job say, is not waited for)."""
    os.set_blocking(fd, False)
    try:
        data = os.read(fd, 2 * _user_code.MAX_REPORT_BYTES)
    except OSError:  # BlockingIOError: nothing written
        return {}
    if not data:
        return {}
    import json

    try:
        report = json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return {}
    if not isinstance(report, dict):
        return {}
    return {str(key): str(value) for key, value in report.items()}


def _fail(failure_path: str, reason: str, exit_code: int) -> int:
    _log(f"the job failed: {reason}")
    try:
        os.makedirs(os.path.dirname(failure_path), exist_ok=True)
        # "x": a reason the user code wrote itself is more specific than ours.
        with open(failure_path, "x", encoding="utf-8") as file:
            file.write(reason)
    except FileExistsError:
        _log(f"keeping the failure reason the user code wrote to {failure_path}")
    except OSError as exc:
        _log(f"cannot write {failure_path}: {exc}")
    return exit_code


def _signal_name(signum: int) -> str:
    # The first name in alphabetical order is the one ``signal.Signals`` gives (SIGABRT,
    # not SIGIOT; SIGCHLD, not SIGCLD).
    for name in sorted(dir(signal)):
        if (
            name.startswith("SIG")
            and not name.startswith("SIG_")
            and getattr(signal, name) == signum
        ):
            return name
    return f"{signum}"


# --- the command line ----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python3 -m braket_async.jobs._bootstrap",
        description="Start a Braket hybrid job's user code (runs inside the job).",
    )
    parser.add_argument(
        "--ml-root",
        default="/opt/ml",
        help="the folder standing in for /opt/ml (default: %(default)s)",
    )
    parser.add_argument(
        "--relay-output",
        action="store_true",
        help="copy the user code's output in large writes (for readers that pay per write)",
    )
    # The supervisor's private interface to a child in another interpreter.
    hidden = argparse.SUPPRESS
    parser.add_argument("--run-user-code", action="store_true", help=hidden)
    parser.add_argument("--entry-point", help=hidden)
    parser.add_argument("--code-dir", help=hidden)
    parser.add_argument("--report-fd", type=int, help=hidden)
    parser.add_argument("--shim-dir", help=hidden)
    parser.add_argument("--hyperparameters", help=hidden)
    return parser


def _runtime_command(argv: Sequence[str]) -> tuple[str, bool] | None:
    """``--ml-root`` and ``--relay-output`` of the command lines the runtimes use, read
    without argparse (its import is a good part of a trivial job's start); ``None`` for
    anything else."""
    arguments = list(argv)
    relay = "--relay-output" in arguments
    if relay:
        arguments.remove("--relay-output")
    if not arguments:
        return "/opt/ml", relay
    if len(arguments) == 2 and arguments[0] == "--ml-root" and not arguments[1].startswith("-"):
        return arguments[1], relay
    if len(arguments) == 1 and arguments[0].startswith("--ml-root=") and len(arguments[0]) > 10:
        return arguments[0].removeprefix("--ml-root="), relay
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the supervisor (or, with ``--run-user-code``, the child); return the exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = _runtime_command(arguments)
    if command is not None:
        return supervise(*command)
    parser = _parser()
    args = parser.parse_args(arguments)
    if not args.run_user_code:
        return supervise(args.ml_root, args.relay_output)
    if not (args.entry_point and args.code_dir and args.report_fd is not None):
        parser.error("--run-user-code needs --entry-point, --code-dir and --report-fd")
    return _user_code.run_user_code(
        parse_entry_point(args.entry_point),
        code_dir=os.path.abspath(args.code_dir),
        report_fd=args.report_fd,
        shim_dir=args.shim_dir,
        hyperparameters_file=args.hyperparameters,
    )


def run() -> NoReturn:
    """Run :func:`main` with this process's command line and end the process.

    The forked child that ran the user code ends as any script does (at-exit handlers,
    open files flushed by the interpreter's finalization); the bootstrap itself has
    nothing to clean up, so it skips the finalization and exits at once.
    """
    started_as = os.getpid()
    exit_code = main()
    if os.getpid() != started_as:
        sys.exit(exit_code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)


if __name__ == "__main__":
    run()
