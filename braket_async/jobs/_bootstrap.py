"""The program that starts a job's user code inside the job (standard library only).

It runs in any image that has ``python3`` (3.10 or later), shipped next to the in-job API
under ``/opt/braket_async/lib/braket_async/jobs/`` and started as a script::

    python3 /opt/braket_async/lib/braket_async/jobs/_bootstrap.py --ml-root /opt/ml

(``python3 -m braket_async.jobs._bootstrap`` works too). It loads its sibling modules
(``_requirements.py``, ``_hyperparameters.py``, ``_missing_sdk.py``) from its own folder,
and the ``braket`` shim lives in ``_shim/`` beside it.

The runtime has already unpacked the code into ``<ml-root>/code`` and set the
``AMZN_BRAKET_*`` environment (see ``braket_async.runtimes._layout``). This process, the
*supervisor*:

1. reads and validates ``AMZN_BRAKET_SCRIPT_ENTRY_POINT``
   (``package.module`` or ``package.module:function``);
2. installs every ``requirements.txt`` of the code folder (see ``_requirements.py``:
   into a job environment of its own where the runtime asks for one);
3. starts the user code in a child process (this file, run with ``--run-user-code``) with
   the code folder as working directory and first entry of ``sys.path``; stdout and
   stderr are inherited and unbuffered, so lines reach the job log as they are printed;
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
- The user code is a fresh interpreter (``subprocess``), not a ``multiprocessing`` fork
  of the supervisor, and ``sys.argv`` holds only the entry module's path.
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

import argparse
import contextlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def _sibling(name: str) -> types.ModuleType:
    """A module next to this file, whether this runs as a script or was imported.

    As a script (how jobs start it) there is no package to import from: the module is
    loaded from its file. The siblings import nothing but the standard library.
    """
    if __package__:
        return importlib.import_module(f"{__package__}.{name}")
    path = os.path.join(os.path.dirname(os.path.realpath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"braket_async_bootstrap_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if typing.TYPE_CHECKING:
    from . import _hyperparameters, _missing_sdk, _requirements
else:
    _hyperparameters = _sibling("_hyperparameters")
    _missing_sdk = _sibling("_missing_sdk")
    _requirements = _sibling("_requirements")

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "SETUP_FAILURE_EXIT_CODE",
    "SHIM_DIR",
    "EntryPoint",
    "SetupError",
    "exit_code_of",
    "main",
    "parse_entry_point",
    "run_user_code",
    "supervise",
]

SETUP_FAILURE_EXIT_CODE = 2
MAX_MESSAGE_LENGTH = 900  # leaves room for the prefix; failure reasons are cut near 1 KiB
_LOG_PREFIX = "braket_async bootstrap:"
_FORWARDED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)
_THIS_FILE = os.path.realpath(__file__)
SHIM_DIR = os.path.join(os.path.dirname(_THIS_FILE), "_shim")
"""The folder holding the ``braket`` namespace portion that stands in for the official SDK's
``braket.jobs`` and ``braket.jobs_data``; it goes last on the user code's ``sys.path``."""


class SetupError(Exception):
    """The user code could not be started; ``str()`` is the line for the failure file."""

    def __init__(self, kind: str, message: str, exit_code: int = SETUP_FAILURE_EXIT_CODE):
        super().__init__(f"{kind}: {_one_line(message)}")
        self.exit_code = exit_code


@dataclass(frozen=True)
class EntryPoint:
    """A parsed ``package.module[:function]`` entry point."""

    module: str
    function: str | None = None

    def __str__(self) -> str:
        return self.module if self.function is None else f"{self.module}:{self.function}"


def parse_entry_point(text: str) -> EntryPoint:
    """Parse and validate ``package.module`` or ``package.module:function``.

    Raises:
        SetupError: the text is not dotted Python identifiers with an optional
            ``:function``.
    """
    module, colon, function = text.strip().partition(":")
    valid = all(part.isidentifier() for part in module.split(".")) and (
        not colon or function.isidentifier()
    )
    if not valid:
        raise SetupError(
            "EntryPointError",
            f"invalid entry point {text!r}: expected 'package.module' or "
            "'package.module:function' made of Python identifiers",
        )
    return EntryPoint(module, function if colon else None)


def exit_code_of(returncode: int) -> int:
    """A child's exit status as this process reports it: ``128 + signum`` for a signal."""
    return 128 - returncode if returncode < 0 else returncode


# --- the child: runs the user code -------------------------------------------------------


def run_user_code(
    entry_point: EntryPoint,
    code_dir: str,
    report_path: str,
    shim_dir: str | None,
    hyperparameters_file: str | None,
) -> int:
    """Run the user code in this process; the exit code is the job's.

    What went wrong is written as JSON to ``report_path`` for the supervisor:
    ``{"reason": line}`` when the code could not be started, ``{"type": ..., "message":
    ...}`` for an uncaught exception, with ``"hint"`` when it says how to install the
    Amazon Braket SDK.
    """
    _prepare_interpreter(code_dir, shim_dir)
    try:
        _execute(entry_point, hyperparameters_file)
    except SetupError as exc:
        _write_report(report_path, {"reason": str(exc)})  # the supervisor logs it
        return exc.exit_code
    except SystemExit as exc:
        if not (exc.code is None or isinstance(exc.code, int)):
            # Python prints the object and exits with 1; the text is the reason.
            _write_report(report_path, {"type": "SystemExit", "message": _safe_str(exc.code)})
        raise
    except KeyboardInterrupt as exc:
        _write_report(report_path, _exception_report(exc))
        # Re-raised so that Python ends the process by SIGINT, as it does for any script.
        raise
    except BaseException as exc:
        report = _exception_report(exc)
        hint = _missing_sdk.missing_sdk_hint(exc, shim_dir)
        if hint is not None:
            report["hint"] = hint
        _write_report(report_path, report)
        traceback = _user_traceback(exc.__traceback__)
        sys.excepthook(type(exc), exc.with_traceback(traceback), traceback)
        return 1
    return 0


def _prepare_interpreter(code_dir: str, shim_dir: str | None) -> None:
    os.chdir(code_dir)
    script_dir = os.path.dirname(_THIS_FILE)
    library_root = os.path.dirname(os.path.dirname(script_dir))
    # Started as a script, this process has the bootstrap's own folder on sys.path.
    dropped = (script_dir, os.path.realpath(code_dir))
    rest = [p for p in sys.path if p and os.path.realpath(p) not in dropped]
    front = [code_dir]
    if library_root not in rest:
        # Under `python -I` PYTHONPATH is ignored, yet user code must find the in-job API.
        front.append(library_root)
    # The shim goes last so that any real `braket` installation wins.
    sys.path[:] = front + rest + ([shim_dir] if shim_dir else [])


def _execute(entry_point: EntryPoint, hyperparameters_file: str | None) -> None:
    spec = _find_module(entry_point.module, entry_point)
    sys.argv = [spec.origin or entry_point.module]
    if entry_point.function is None:
        if spec.submodule_search_locations is not None:
            _find_module(f"{entry_point.module}.__main__", entry_point)
        runpy.run_module(entry_point.module, run_name="__main__", alter_sys=True)
        return
    module = importlib.import_module(entry_point.module)
    try:
        function = getattr(module, entry_point.function)
    except AttributeError:
        raise SetupError(
            "EntryPointError",
            f"module {entry_point.module!r} has no attribute {entry_point.function!r} "
            f"(entry point {str(entry_point)!r})",
        ) from None
    if not callable(function):
        raise SetupError(
            "EntryPointError",
            f"{str(entry_point)!r} is not callable (it is of type {type(function).__name__})",
        )
    try:
        hyperparameters = _hyperparameters.read_hyperparameters(hyperparameters_file)
        arguments, ignored = _hyperparameters.bind_hyperparameters(function, hyperparameters)
    except _hyperparameters.HyperparameterError as exc:
        raise SetupError("HyperparameterError", str(exc)) from exc
    if ignored:
        _log(f"hyperparameters not passed to {entry_point} (no such parameter): {ignored}")
    result = function(**arguments)
    if inspect.iscoroutine(result):
        import asyncio  # only when needed: it is slow to import

        asyncio.run(result)


def _find_module(name: str, entry_point: EntryPoint) -> importlib.machinery.ModuleSpec:
    """The module's spec, telling a missing entry module from the user code's own imports.

    Finding ``a.b`` imports the package ``a``: an ImportError raised while that runs is a
    failure of the user code and propagates.
    """
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if not (name == missing or name.startswith(f"{missing}.")):
            raise
        spec = None
    if spec is None and name.endswith(".__main__"):
        package = name.removesuffix(".__main__")
        raise SetupError(
            "EntryPointError",
            f"package {package!r} of entry point {str(entry_point)!r} has no __main__ module",
        )
    if spec is None:
        raise SetupError(
            "EntryPointError", f"module {name!r} of entry point {str(entry_point)!r} not found"
        )
    return spec


def _exception_report(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": _safe_str(exc)}


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not hide the failure itself
        return f"<unprintable {type(value).__name__}>"


def _user_traceback(traceback: types.TracebackType | None) -> types.TracebackType | None:
    """Drop the leading frames of the bootstrap, runpy and importlib."""
    machinery = {os.path.realpath(f) for f in (_THIS_FILE, runpy.__file__, importlib.__file__)}
    current = traceback
    while current is not None:
        filename = current.tb_frame.f_code.co_filename
        if not (filename.startswith("<frozen ") or os.path.realpath(filename) in machinery):
            return current
        current = current.tb_next
    return traceback  # the error is in the bootstrap itself: show everything


def _write_report(path: str, report: Mapping[str, str]) -> None:
    # If this fails, the supervisor reports the exit code alone.
    with contextlib.suppress(OSError), open(path, "w", encoding="utf-8") as file:
        json.dump(report, file)


# --- the supervisor ----------------------------------------------------------------------


class _Supervisor:
    """Runs child processes one at a time, forwarding termination signals to them."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._pending: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Supervisor:
        for signum in _FORWARDED_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: types.FrameType | None) -> None:
        self.received = signum
        child = self._child
        if child is None:
            self._pending = signum  # delivered once the child exists
        else:
            child.send_signal(signum)

    def run(self, command: Sequence[str], cwd: str) -> int:
        """Run ``command`` to its end and return its return code (``-signum`` if killed)."""
        child = subprocess.Popen(command, cwd=cwd)
        self._child = child
        try:
            # A signal that arrived while the child was being started goes to it now.
            pending, self._pending = self._pending, None
            if pending is not None:
                child.send_signal(pending)
            return child.wait()
        finally:
            self._child = None


def supervise(ml_root: str) -> int:
    """Install requirements, run the user code in a child process, report the outcome."""
    ml_root = os.path.abspath(ml_root)
    code_dir = os.path.join(ml_root, "code")
    failure_path = os.path.join(ml_root, "output", "failure")
    with _Supervisor() as supervisor:
        try:
            entry_point = _entry_point_from_environment()
            if not os.path.isdir(code_dir):
                raise SetupError("BootstrapError", f"the code folder {code_dir} does not exist")
            python = _install_requirements(code_dir, supervisor)
            if supervisor.received is not None:
                raise SetupError(
                    "BootstrapError",
                    f"stopped by {_signal_name(supervisor.received)} before the user code ran",
                    exit_code=128 + supervisor.received,
                )
        except SetupError as exc:
            return _fail(failure_path, str(exc), exc.exit_code)
        with tempfile.TemporaryDirectory(prefix="braket_async_bootstrap_") as work_dir:
            report_path = os.path.join(work_dir, "report.json")
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
                "--report",
                report_path,
                "--shim-dir",
                SHIM_DIR,
            ]
            hyperparameters_file = os.environ.get("AMZN_BRAKET_HP_FILE")
            if hyperparameters_file:
                command += ["--hyperparameters", hyperparameters_file]
            returncode = supervisor.run(command, cwd=code_dir)
            if returncode == 0:
                return 0
            exit_code = exit_code_of(returncode)
            return _fail(failure_path, _failure_reason(report_path, returncode), exit_code)


def _entry_point_from_environment() -> EntryPoint:
    text = os.environ.get("AMZN_BRAKET_SCRIPT_ENTRY_POINT", "")
    if not text.strip():
        raise SetupError("EntryPointError", "AMZN_BRAKET_SCRIPT_ENTRY_POINT is not set")
    return parse_entry_point(text)


def _install_requirements(code_dir: str, supervisor: _Supervisor) -> str:
    """Install every requirements file of the code; the interpreter for the user code."""
    try:
        python: str = _requirements.prepare_environment(code_dir, supervisor.run, _log)
    except _requirements.RequirementsFailure as exc:
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


def _failure_reason(report_path: str, returncode: int) -> str:
    exit_code = exit_code_of(returncode)
    report = _read_report(report_path)
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


def _read_report(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as file:
            report = json.load(file)
    except (OSError, ValueError):
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


# --- shared helpers and the command line ---------------------------------------------------


def _one_line(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    return _shorten(" ".join(text.split("\n")).replace("\r", " "), max(limit, 3))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"{signum}"


def _log(message: str) -> None:
    print(_LOG_PREFIX, message, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m braket_async.jobs._bootstrap",
        description="Start a Braket hybrid job's user code (runs inside the job).",
    )
    parser.add_argument(
        "--ml-root",
        default="/opt/ml",
        help="the folder standing in for /opt/ml (default: %(default)s)",
    )
    # The supervisor's private interface to its child.
    hidden = argparse.SUPPRESS
    parser.add_argument("--run-user-code", action="store_true", help=hidden)
    parser.add_argument("--entry-point", help=hidden)
    parser.add_argument("--code-dir", help=hidden)
    parser.add_argument("--report", help=hidden)
    parser.add_argument("--shim-dir", help=hidden)
    parser.add_argument("--hyperparameters", help=hidden)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the supervisor (or, with ``--run-user-code``, the child); return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.run_user_code:
        return supervise(args.ml_root)
    if not (args.entry_point and args.code_dir and args.report):
        parser.error("--run-user-code needs --entry-point, --code-dir and --report")
    return run_user_code(
        parse_entry_point(args.entry_point),
        code_dir=os.path.abspath(args.code_dir),
        report_path=args.report,
        shim_dir=args.shim_dir,
        hyperparameters_file=args.hyperparameters,
    )


if __name__ == "__main__":
    sys.exit(main())
