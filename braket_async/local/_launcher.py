"""The supervisor launcher: one warm process per creating process that forks supervisors.

Starting a supervisor as a new interpreter costs an interpreter start and the imports of
asyncio and the runtimes, per job: most of a trivial job's time. Instead, the first job
a process creates starts this launcher once::

    python -m braket_async.local._launcher

It imports what supervisors run on, then waits on standard input, a Unix
``SOCK_SEQPACKET`` socket from the creating process. Each message there is one JSON
request, ``{"argv": [...], "env": {...}, "cwd": ..., "imports": [...]}``, with four
descriptors attached: the supervisor's stdin, stdout, stderr and the job's lock (its
``--lock-fd`` is added to ``argv`` here). For
each, the launcher imports the modules named in ``imports`` (a runtime's, the first time
it is asked for) and forks. The child becomes the supervisor as ``python -m
braket_async.local._supervisor <argv>`` would: a session of its own, the descriptors as
0, 1 and 2 (the lock kept at its number), the working directory and environment of the
request. Its first line on stdout is ``pid <n>``; the rest is the supervisor's contract.

The launcher reaps nothing (its children are reaped by the kernel) and holds nothing of
a job once it has forked: a supervisor it started lives exactly as a directly started
one would. It exits when the socket ends, that is when the creating process has exited
or closed it, and ignores SIGINT: Ctrl-C is for the creating process to handle.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import traceback
from typing import Any

__all__ = ["MAX_REQUEST_BYTES", "launch", "main", "restart"]

#: What every supervisor runs on, loaded here once: the supervisor, and what is loaded on
#: first use otherwise (the worker threads of ``asyncio.to_thread``, anyio's asyncio
#: backend: about 20 ms of each supervisor's start).
_PRELOADED = (
    "braket_async.local._supervisor",
    "concurrent.futures.thread",
    "anyio._backends._asyncio",
)
#: The largest request: arguments and a whole environment.
MAX_REQUEST_BYTES = 1 << 20
_DESCRIPTORS = 4  # stdin, stdout, stderr, the job's lock


def main() -> int:
    """Serve requests on standard input until it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Children are reaped by the kernel; each restores the default in itself.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for module in _PRELOADED:
        importlib.import_module(module)
    # The in-job library's bytecode, brought up to date once for every job of this
    # process (its jobs use it through a link, or get it shipped into their container).
    importlib.import_module("braket_async.runtimes._staging").library_bytecode()
    _freeze()
    requests = socket.socket(fileno=0)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(requests, MAX_REQUEST_BYTES, _DESCRIPTORS)
        except InterruptedError:
            continue
        if not message:
            return 0
        try:
            _launch(json.loads(message), fds, requests)
        except Exception:  # a bad request must not end the launcher for later jobs
            traceback.print_exc()
        finally:
            for fd in fds:
                os.close(fd)


def _launch(request: dict[str, Any], fds: list[int], requests: socket.socket) -> None:
    if len(fds) != _DESCRIPTORS:
        raise ValueError(f"a launch request carries {_DESCRIPTORS} descriptors, not {len(fds)}")
    imports = [name for name in request.get("imports", []) if name not in sys.modules]
    for module in imports:
        importlib.import_module(module)
    if imports:
        _freeze()
    if os.fork() == 0:
        code = 1
        try:
            requests.detach()  # fd 0: replaced below, not closed twice
            code = _become_supervisor(request, fds)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            _flush()
            os._exit(code)


def _freeze() -> None:
    """Keep what is loaded now out of every garbage collection, here and in the forks.

    A collection in a supervisor would otherwise walk (and so write to, copying the
    pages) every object it inherited from this process; what is loaded here lives as
    long as the process anyway.
    """
    import gc

    gc.collect()
    gc.freeze()


def _become_supervisor(request: dict[str, Any], fds: list[int]) -> int:
    stdin, stdout, stderr, lock = fds
    os.setsid()
    for signum in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in ((0, stdin), (1, stdout), (2, stderr)):
        os.dup2(fd, target)
    for fd in (stdin, stdout, stderr):
        if fd > 2:
            os.close(fd)
    argv = [*(str(item) for item in request["argv"]), "--lock-fd", str(lock)]
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})
    os.write(1, f"pid {os.getpid()}\n".encode())
    from ._supervisor import main as supervise

    return supervise(argv)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()


# --- the creating process's side ----------------------------------------------------------


class _Launcher:
    """The launcher process this process started, and its end of the socket."""

    def __init__(self) -> None:
        import subprocess

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.owner_pid = os.getpid()
        self._socket = ours
        try:
            environment = dict(os.environ)
            environment["PYTHONPATH"] = os.pathsep.join(
                [_PACKAGE_PARENT, *filter(None, [environment.get("PYTHONPATH")])]
            )
            self._process = subprocess.Popen(
                [sys.executable, "-m", "braket_async.local._launcher"],
                stdin=theirs.fileno(),
                env=environment,
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)

    def send_nowait(self, data: bytes, fds: list[int]) -> None:
        """Send one request; raises ``BlockingIOError`` while the socket is full."""
        socket.send_fds(self._socket, [data], fds)

    def send(self, data: bytes, fds: list[int]) -> None:
        """Send one request, waiting while the socket is full (in a worker thread)."""
        import select

        while True:
            try:
                self.send_nowait(data, fds)
                return
            except BlockingIOError:
                select.select([], [self._socket], [], 1.0)

    def close(self) -> None:
        """End the launcher (it exits at the socket's end) and reap it."""
        import subprocess

        self._socket.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_current: _Launcher | None = None


def _launcher() -> _Launcher:
    global _current
    if _current is None or _current.owner_pid != os.getpid():  # none yet, or forked
        import atexit

        _current = _Launcher()
        atexit.register(_current.close)
    return _current


async def launch(
    argv: list[str], env: dict[str, str], cwd: str, fds: list[int], imports: list[str]
) -> None:
    """Ask the launcher (started on first use) to fork a supervisor with these
    arguments and descriptors (stdin, stdout, stderr, lock); its first line on stdout
    is ``pid <n>``, and stdout ends at once if the launcher could not fork it.

    Raises:
        OSError: The launcher is gone; :func:`restart` starts another.
    """
    import asyncio

    data = json.dumps({"argv": argv, "env": env, "cwd": cwd, "imports": imports}).encode()
    if len(data) > MAX_REQUEST_BYTES:
        raise ValueError(f"a supervisor's environment of {len(data)} bytes is too large")
    launcher = _launcher()
    try:
        launcher.send_nowait(data, fds)
    except BlockingIOError:
        await asyncio.to_thread(launcher.send, data, fds)


def restart() -> None:
    """Replace the launcher, which failed to answer, by a new one on next use."""
    global _current
    launcher, _current = _current, None
    if launcher is not None and launcher.owner_pid == os.getpid():
        launcher.close()


if __name__ == "__main__":
    sys.exit(main())
