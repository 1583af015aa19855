"""The user code's side of the bootstrap: run the entry point, report what went wrong.

Standard library only, and only what running the user code needs: the bootstrap
(``_bootstrap.py``) forks a child that calls :func:`run_user_code` straight away, so
every module imported here is one the user code pays for. What the child reports for
the bootstrap to word the failure reason goes, as one JSON object, to a pipe the
bootstrap reads once the child has exited.
"""

from __future__ import annotations

import os
import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from importlib.machinery import ModuleSpec

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "MAX_REPORT_BYTES",
    "SETUP_FAILURE_EXIT_CODE",
    "EntryPoint",
    "SetupError",
    "log",
    "one_line",
    "parse_entry_point",
    "run_user_code",
]

SETUP_FAILURE_EXIT_CODE = 2
MAX_MESSAGE_LENGTH = 900  # leaves room for the prefix; failure reasons are cut near 1 KiB
#: A report never fills the pipe's buffer (64 KiB on Linux): the child writes it whole
#: without waiting for the bootstrap, which reads it only after the child has exited.
MAX_REPORT_BYTES = 16 * 1024
_LOG_PREFIX = "braket_async bootstrap:"
_THIS_FOLDER = os.path.dirname(os.path.realpath(__file__))
# The root of the in-job library where the job sees it, not resolved: the process
# runtime links every job's library to one shared folder of the installation, and
# only the stub ``braket_async`` next to the job's link may be on the job's path.
_LIBRARY_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class SetupError(Exception):
    """The user code could not be started; ``str()`` is the line for the failure file."""

    def __init__(self, kind: str, message: str, exit_code: int = SETUP_FAILURE_EXIT_CODE):
        super().__init__(f"{kind}: {one_line(message)}")
        self.exit_code = exit_code


class EntryPoint:
    """A parsed ``package.module[:function]`` entry point."""

    __slots__ = ("function", "module")

    def __init__(self, module: str, function: str | None = None) -> None:
        self.module = module
        self.function = function

    def __str__(self) -> str:
        return self.module if self.function is None else f"{self.module}:{self.function}"

    def __repr__(self) -> str:
        return f"EntryPoint({self.module!r}, {self.function!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EntryPoint):
            return NotImplemented
        return (self.module, self.function) == (other.module, other.function)

    def __hash__(self) -> int:
        return hash((self.module, self.function))


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


def run_user_code(
    entry_point: EntryPoint,
    code_dir: str,
    report_fd: int,
    shim_dir: str | None,
    hyperparameters_file: str | None,
) -> int:
    """Run the user code in this process; the exit code is the job's.

    What went wrong is written as JSON to the descriptor ``report_fd``:
    ``{"reason": line}`` when the code could not be started, ``{"type": ..., "message":
    ...}`` for an uncaught exception, with ``"hint"`` when it says how to install the
    Amazon Braket SDK. ``SystemExit`` and ``KeyboardInterrupt`` propagate, so that the
    interpreter ends the process as it ends any script.
    """
    _prepare_interpreter(code_dir, shim_dir)
    try:
        _execute(entry_point, hyperparameters_file)
    except SetupError as exc:
        _write_report(report_fd, {"reason": str(exc)})  # the bootstrap logs it
        return exc.exit_code
    except SystemExit as exc:
        if not (exc.code is None or isinstance(exc.code, int)):
            # Python prints the object and exits with 1; the text is the reason.
            _write_report(report_fd, {"type": "SystemExit", "message": _safe_str(exc.code)})
        raise
    except KeyboardInterrupt as exc:
        _write_report(report_fd, _exception_report(exc))
        # Re-raised so that Python ends the process by SIGINT, as it does for any script.
        raise
    except BaseException as exc:
        report = _exception_report(exc)
        hint = _sibling("_missing_sdk").missing_sdk_hint(exc, shim_dir)
        if hint is not None:
            report["hint"] = hint
        _write_report(report_fd, report)
        traceback = _user_traceback(exc.__traceback__)
        sys.excepthook(type(exc), exc.with_traceback(traceback), traceback)
        return 1
    return 0


def _prepare_interpreter(code_dir: str, shim_dir: str | None) -> None:
    _line_buffered_stdio()
    os.chdir(code_dir)
    library_root = _LIBRARY_ROOT
    # Started as a script, the bootstrap has its own folder on sys.path.
    dropped = (_THIS_FOLDER, os.path.realpath(code_dir))
    rest = [p for p in sys.path if p and os.path.realpath(p) not in dropped]
    front = [code_dir]
    if library_root not in rest:
        # Under `python -I` PYTHONPATH is ignored, yet user code must find the in-job API.
        front.append(library_root)
    # The shim goes last so that any real `braket` installation wins.
    sys.path[:] = front + rest + ([shim_dir] if shim_dir else [])


def _line_buffered_stdio() -> None:
    """Give the user code standard streams that write each whole line at once.

    The job's environment says ``PYTHONUNBUFFERED=1`` (as Braket's containers do), and
    an unbuffered ``print(a, b)`` is four writes. Whoever reads the job's output pays
    per write: the supervisor, and on Docker the daemon, which sends each write as a
    frame of its own. Line-buffered streams write each line once, as soon as it ends,
    so what the log shows and when is unchanged (it holds whole lines only); an
    explicit ``flush()`` still writes a partial line at once.
    """
    import io

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            continue
        try:
            stream.flush()
            fileno = stream.fileno()
        except (OSError, ValueError, AttributeError):
            continue  # not a real file: left as it is
        # Straight onto the file, as ``python -u`` does: a buffered writer's lock makes a
        # signal handler that prints while a print is under way fail ("reentrant call").
        buffered = io.TextIOWrapper(
            io.FileIO(fileno, "w", closefd=False),
            encoding=stream.encoding,
            errors=stream.errors,
            line_buffering=True,
        )
        setattr(sys, name, buffered)
        setattr(sys, f"__{name}__", buffered)


def _execute(entry_point: EntryPoint, hyperparameters_file: str | None) -> None:
    import runpy

    spec = _find_module(entry_point.module, entry_point)
    sys.argv = [spec.origin or entry_point.module]
    if entry_point.function is None:
        if spec.submodule_search_locations is not None:
            _find_module(f"{entry_point.module}.__main__", entry_point)
        runpy.run_module(entry_point.module, run_name="__main__", alter_sys=True)
        return
    import importlib

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
    hyperparameters_module = _sibling("_hyperparameters")
    try:
        hyperparameters = hyperparameters_module.read_hyperparameters(hyperparameters_file)
        arguments, ignored = hyperparameters_module.bind_hyperparameters(function, hyperparameters)
    except hyperparameters_module.HyperparameterError as exc:
        raise SetupError("HyperparameterError", str(exc)) from exc
    if ignored:
        log(f"hyperparameters not passed to {entry_point} (no such parameter): {ignored}")
    result = function(**arguments)
    if isinstance(result, types.CoroutineType):
        import asyncio  # only when needed: it is slow to import

        asyncio.run(result)


def _find_module(name: str, entry_point: EntryPoint) -> ModuleSpec:
    """The module's spec, telling a missing entry module from the user code's own imports.

    Finding ``a.b`` imports the package ``a``: an ImportError raised while that runs is a
    failure of the user code and propagates.
    """
    import importlib.util

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
    import importlib
    import runpy

    bootstrap = os.path.join(_THIS_FOLDER, "_bootstrap.py")
    machinery = {
        os.path.realpath(path) for path in (__file__, bootstrap, runpy.__file__, importlib.__file__)
    }
    current = traceback
    while current is not None:
        filename = current.tb_frame.f_code.co_filename
        if not (filename.startswith("<frozen ") or os.path.realpath(filename) in machinery):
            return current
        current = current.tb_next
    return traceback  # the error is in the bootstrap itself: show everything


def _write_report(fd: int, report: Mapping[str, str]) -> None:
    import json

    shortened = {key: _shorten(value, MAX_REPORT_BYTES // 8) for key, value in report.items()}
    data = json.dumps(shortened).encode("utf-8", "replace")[:MAX_REPORT_BYTES]
    # If this fails, the bootstrap reports the exit code alone.
    try:  # noqa: SIM105 - contextlib is one import more for every job
        os.write(fd, data)
    except OSError:
        pass


def _sibling(name: str) -> types.ModuleType:
    """A module next to this file, whether the bootstrap runs as a script or was imported.

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

        path = os.path.join(_THIS_FOLDER, f"{name}.py")
        spec = importlib.util.spec_from_file_location(qualified, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return module


def log(message: str) -> None:
    """A line of the bootstrap's own on the job's stderr."""
    print(_LOG_PREFIX, message, file=sys.stderr, flush=True)


def one_line(text: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """``text`` on one line, shortened to ``limit`` characters."""
    return _shorten(" ".join(text.split("\n")).replace("\r", " "), max(limit, 3))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
