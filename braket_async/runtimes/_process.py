"""The process runtime: each job is a local Python process in its own workspace folder.

It needs nothing but a Python interpreter. The workspace stands in for the container's
filesystem: every path inside the job (``/opt/ml/model``, the checkpoint folder, ...)
becomes the same path under the workspace, and the job's environment says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio

from .._archives import copy_tree
from .._shield import finish
from ..errors import ClosedError, ContainerError, RuntimeUnavailableError
from ._base import (
    CHECKPOINTS_FOLDER,
    MODEL_FOLDER,
    CollectedOutputs,
    Execution,
    JobRuntime,
    JobSpec,
)
from ._layout import (
    CODE_PATH,
    ENVIRONMENT_CACHE_VARIABLE,
    FAILURE_PATH,
    ML_ROOT,
    MODEL_PATH,
    bootstrap_command,
    job_environment,
    read_failure_reason,
)
from ._output import split_blocks, split_lines
from ._resting import RestingBuffer
from ._staging import job_tree

__all__ = ["ProcessExecution", "ProcessRuntime"]

# Variables of the parent that would change which code the job imports.
_DROPPED_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONINSPECT")
# What a job of a runtime with ``inherit_environment=False`` still sees of this process's
# environment: what finding programs and text needs, and coverage measurement of jobs.
_CLEAN_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")
_CLEAN_PREFIXES = ("COVERAGE_",)


class ProcessRuntime(JobRuntime):
    """Runs each job as a local process of ``python`` (default: this interpreter).

    Args:
        python: The interpreter that runs the job's bootstrap and code.
        workspace_root: Where per-job workspace folders are made (default: the system's
            temporary folder). Each is removed when its execution is closed.
        kill_grace_seconds: How long a cancelled job may take to exit after SIGTERM
            before it is killed.
        environment_cache: Where jobs whose code has ``requirements.txt`` files get
            environments of their own, layered on ``python`` and reused by later jobs
            with the same requirements (default: ``$XDG_CACHE_HOME/braket-async/
            job-environments``, else ``~/.cache/...``). Requirements never go into
            ``python`` itself.
        max_concurrent_jobs: How many jobs may run at once; ``None`` for no limit.
        inherit_environment: Whether jobs see this process's environment variables
            (default) or only a clean base (``PATH``, ``HOME``, the locale, ``TZ``) and
            what the job is given: a service that runs other people's jobs, such as the
            emulator, keeps its own credentials and settings from them so.
    """

    name = "process"

    def __init__(
        self,
        *,
        python: str | os.PathLike[str] | None = None,
        workspace_root: str | os.PathLike[str] | None = None,
        kill_grace_seconds: float = 5.0,
        environment_cache: str | os.PathLike[str] | None = None,
        max_concurrent_jobs: int | None = None,
        inherit_environment: bool = True,
    ) -> None:
        super().__init__(max_concurrent_jobs=max_concurrent_jobs)
        self.inherit_environment = inherit_environment
        self.environment_cache = (
            Path(environment_cache) if environment_cache is not None else _default_cache()
        )
        self.python = os.fspath(python) if python is not None else sys.executable
        self.workspace_root = Path(workspace_root) if workspace_root is not None else None
        self.kill_grace_seconds = kill_grace_seconds

    async def prepare(self, spec: JobSpec) -> None:
        """Check that the interpreter exists."""
        if not (shutil.which(self.python) or os.access(self.python, os.X_OK)):
            raise RuntimeUnavailableError(
                f"Python interpreter {self.python!r} not found: pass python= to ProcessRuntime"
            )

    async def start(self, spec: JobSpec) -> ProcessExecution:
        """Write the job's workspace and start its bootstrap process."""
        making = asyncio.ensure_future(
            asyncio.to_thread(
                tempfile.mkdtemp, prefix=f"braket-async-{spec.job_name}-", dir=self.workspace_root
            )
        )
        try:
            workspace = Path(await asyncio.shield(making))
        except asyncio.CancelledError:
            # The folder is made all the same: known only once it is, then removed.
            with contextlib.suppress(OSError):
                await finish(asyncio.to_thread(shutil.rmtree, await finish(making), True))
            raise
        try:
            # The in-job library is linked: shared by every job, with its bytecode.
            # To its end even if cancelled: the folder is removed after it, not during.
            await finish(asyncio.to_thread(job_tree(spec, link_library=True).write_to, workspace))

            def rebase(path: str) -> str:
                return str(workspace / path.lstrip("/"))

            environment = _base_environment(self.inherit_environment)
            environment.update(job_environment(spec, rebase))
            # Temporary files of the job and its bootstrap go with the workspace.
            scratch = workspace / "tmp"
            scratch.mkdir()
            environment["TMPDIR"] = str(scratch)
            environment[ENVIRONMENT_CACHE_VARIABLE] = str(self.environment_cache)
            loop = asyncio.get_running_loop()
            starting = asyncio.ensure_future(
                loop.subprocess_exec(
                    _JobProtocol,
                    *bootstrap_command(self.python, rebase),
                    "--ml-root",
                    rebase(ML_ROOT),
                    cwd=rebase(CODE_PATH),
                    env=environment,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    # Its own process group, so that cancelling reaches the user code too.
                    start_new_session=True,
                )
            )
            try:
                transport, protocol = await asyncio.shield(starting)
            except asyncio.CancelledError:
                # Not asyncio's own clean-up of a start cut short: it kills the
                # bootstrap alone, then waits for every copy of the output pipe, which
                # what the bootstrap started already may hold for ever.
                await finish(_end_start(starting))
                raise
        except BaseException as exc:
            await finish(asyncio.to_thread(shutil.rmtree, workspace, True))
            if isinstance(exc, OSError):
                raise ContainerError(f"Could not start job {spec.job_name}: {exc}") from exc
            raise
        return ProcessExecution(spec, transport, protocol, workspace, self.kill_grace_seconds)


async def _end_start(
    starting: asyncio.Future[tuple[asyncio.SubprocessTransport, _JobProtocol]],
) -> None:
    """Let a start that was cancelled finish, then end its whole process group."""
    try:
        transport, protocol = await starting
    except Exception:
        return  # nothing started
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(transport.get_pid(), signal.SIGKILL)
    await protocol.exited.wait()
    transport.close()


def _base_environment(inherit: bool) -> dict[str, str]:
    """The variables of this process a job starts from."""
    if inherit:
        return {name: value for name, value in os.environ.items() if name not in _DROPPED_VARIABLES}
    return {
        name: value
        for name, value in os.environ.items()
        if name in _CLEAN_VARIABLES or name.startswith(_CLEAN_PREFIXES)
    }


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "braket-async" / "job-environments"


class ProcessExecution(Execution):
    """A job running as a local process; see :class:`~braket_async.runtimes.Execution`."""

    def __init__(
        self,
        spec: JobSpec,
        transport: asyncio.SubprocessTransport,
        protocol: _JobProtocol,
        workspace: Path,
        kill_grace_seconds: float,
    ) -> None:
        self.spec = spec
        self.workspace = workspace
        self._transport = transport
        self._output = protocol.output
        self._exited = protocol.exited
        self._kill_grace_seconds = kill_grace_seconds
        self._output_taken = False
        self._closed = False

    @property
    def pid(self) -> int:
        """The pid of the job's bootstrap, also its process group's id."""
        pid = self._transport.get_pid()
        assert pid is not None  # started
        return pid

    def _path(self, job_path: str) -> Path:
        return self.workspace / job_path.lstrip("/")

    def output(self) -> AsyncIterator[str]:
        """The job's merged stdout and stderr, line by line."""
        return split_lines(self._chunks())

    def output_blocks(self) -> AsyncIterator[str]:
        """The lines of :meth:`output` as they arrive together, each ending in ``\\n``."""
        return split_blocks(self._chunks())

    def _chunks(self) -> AsyncIterator[bytes]:
        if self._output_taken:
            raise ClosedError("the output of this execution can be read only once")
        self._output_taken = True
        return _chunks(self._output)

    async def wait(self) -> int:
        """Wait for the bootstrap process to exit; return its exit code.

        What the job left running in its process group is killed then: the job ends
        when its entry point ends.
        """
        # Not Process.wait(), which also waits until every copy of the output pipe is
        # closed: a background child of the job may hold one for as long as it likes.
        await self._exited.wait()
        code = self._transport.get_returncode()
        assert code is not None
        self._signal(signal.SIGKILL)
        return code

    async def kill(self) -> None:
        """SIGTERM the job's process group, then SIGKILL after the grace period."""
        if self._transport.get_returncode() is not None:
            return
        self._signal(signal.SIGTERM)
        with anyio.move_on_after(self._kill_grace_seconds):
            await self._exited.wait()
        self._signal(signal.SIGKILL)
        await self._exited.wait()

    def _signal(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    async def collect(self, destination: Path) -> CollectedOutputs:
        """Copy results and checkpoints out of the workspace; read the failure file."""
        return await asyncio.to_thread(self._collect, destination)

    def _collect(self, destination: Path) -> CollectedOutputs:
        destination.mkdir(parents=True, exist_ok=True)
        refused = copy_tree(
            self._path(MODEL_PATH), destination / MODEL_FOLDER, MODEL_FOLDER, within=self.workspace
        )
        refused += copy_tree(
            self._path(self.spec.checkpoint_path),
            destination / CHECKPOINTS_FOLDER,
            CHECKPOINTS_FOLDER,
            within=self.workspace,
        )
        return CollectedOutputs(read_failure_reason(self._path(FAILURE_PATH)), tuple(refused))

    def __del__(self, _warn: Any = warnings.warn) -> None:
        if not getattr(self, "_closed", True):
            _warn(
                f"job process {self.pid} was never closed (call aclose())",
                ResourceWarning,
                source=self,
                stacklevel=2,
            )

    async def aclose(self) -> None:
        """Kill the process if it still runs and remove the workspace."""
        if self._closed:
            return
        self._closed = True
        await finish(self._close())

    async def _close(self) -> None:
        if self._transport.get_returncode() is None:
            self._signal(signal.SIGKILL)
            await self._exited.wait()
        self._transport.close()
        await asyncio.to_thread(shutil.rmtree, self.workspace, True)


class _JobProtocol(asyncio.SubprocessProtocol):
    """The job's process: its merged output in a :class:`~._resting.RestingBuffer`, and
    an event set when it exits."""

    def __init__(self) -> None:
        self.output: RestingBuffer[bytes] = RestingBuffer(self._pause, self._resume)
        self.exited = asyncio.Event()
        self._transport: asyncio.SubprocessTransport | None = None
        self._pipe: asyncio.ReadTransport | None = None
        self._pipe_closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._transport = transport
        pipe = transport.get_pipe_transport(1)
        assert isinstance(pipe, asyncio.ReadTransport)
        self._pipe = pipe

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.output._arrived([data], len(data))

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd != 1:
            return
        self._pipe_closed = True
        if exc is None:
            self.output.feed_eof()
        else:
            self.output.set_exception(exc)
        self._close_when_done()

    def process_exited(self) -> None:
        self.exited.set()
        self._close_when_done()

    def _close_when_done(self) -> None:
        # As asyncio's own subprocess protocol does: a transport with nothing left to
        # deliver is closed, so that it never warns of being left open.
        if self._pipe_closed and self.exited.is_set() and self._transport is not None:
            self._transport.close()

    def _pause(self) -> None:
        if self._pipe is not None:
            self._pipe.pause_reading()

    def _resume(self) -> None:
        if self._pipe is not None:
            self._pipe.resume_reading()


async def _chunks(output: RestingBuffer[bytes]) -> AsyncIterator[bytes]:
    while (pieces := await output.read()) is not None:
        yield b"".join(pieces)
