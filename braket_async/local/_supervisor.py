"""A local job's supervisor: the one process that owns a job from its start to its record.

``LocalQuantumJob.create()`` starts it, detached in a session of its own::

    python -m braket_async.local._supervisor <job folder> --lock-fd N [--detached]

It reads the job's description from ``.braket_async/job.json``, holds the job's lock
(inherited as descriptor ``N``, so the job never looks ownerless), runs the job with a
:class:`~braket_async.local._run.LocalJobRun` (log, record, outputs), and exits when the
record is final. Its contract with the rest of the library:

- **stdout**: one line, ``started`` or ``failed <json>``, once the job runs or could
  not start; then one byte per change of ``log.txt`` or the record (wake-ups for the
  creator, dropped when nobody reads).
- **stdin**: without ``--detached`` a pipe from the creator. End of file means the
  creator exited, in whatever way: the job is stopped and recorded FAILED.
- **SIGTERM / SIGINT**: cancel the job (recorded CANCELLED).
- It is a child subreaper: whatever the job leaves running when its entry point ends,
  or when it is cancelled, is reparented here and killed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from .._states import JobState
from ._description import ENVIRONMENT_VARIABLE, FAILED, STARTED, JobDescription
from ._folder import OWNER_EXITED, process_identity, processes, read_metadata
from ._run import LocalJobRun

__all__ = ["end_leftovers", "main"]

logger = logging.getLogger(__name__)

_PR_SET_CHILD_SUBREAPER = 36
_MAX_SWEEPS = 100


_USAGE = "usage: python -m braket_async.local._supervisor FOLDER --lock-fd N [--detached]"


def _arguments(argv: list[str]) -> tuple[Path, bool]:
    """The job folder and ``--detached`` of the command line (its contract above).

    Parsed by hand: argparse's parser costs a supervisor a millisecond of its start.
    """
    folder: Path | None = None
    lock_fd = detached = False
    words = iter(argv)
    for word in words:
        if word == "--detached":
            detached = True
        elif word == "--lock-fd" and next(words, "").isdigit():
            lock_fd = True  # kept open until exit: the kernel releases the lock then
        elif folder is None and not word.startswith("-"):
            folder = Path(word)
        else:
            raise SystemExit(f"{_USAGE}\nunexpected argument: {word!r}")
    if folder is None or not lock_fd:
        raise SystemExit(_USAGE)
    return folder, detached


def main(argv: list[str] | None = None) -> int:
    """Run the supervisor of the job in the folder named on the command line."""
    folder, detached = _arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(_supervise(folder.resolve(), detached=detached))
    return 0


async def _supervise(folder: Path, *, detached: bool) -> None:
    # One job's small file operations, one after the other: two worker threads do
    # (each thread started costs a supervisor's start about a fifth of a millisecond).
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=2)
    )
    description = JobDescription.read(folder, os.environ)
    # The job gets its environment through the spec, not by inheriting this variable.
    os.environ.pop(ENVIRONMENT_VARIABLE, None)
    metadata = read_metadata(folder)
    metadata["supervisor"] = process_identity(os.getpid())
    wakeups = _Wakeups()
    become_subreaper()
    run = LocalJobRun(
        description.spec,
        description.runtime(),
        owns_runtime=True,
        folder=folder,
        metadata=metadata,
        on_change=wakeups.poke,
        after_exit=end_leftovers,
    )
    loop = asyncio.get_running_loop()
    cancelling: set[asyncio.Task[None]] = set()

    def cancel(state: JobState, reason: str) -> None:
        task = loop.create_task(run.cancel(reason, state))
        cancelling.add(task)
        task.add_done_callback(cancelling.discard)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, cancel, JobState.CANCELLED, "Cancelled by the user")
    if not detached:
        owner = description.owner.get("pid", "?")
        reason = f"{OWNER_EXITED} (pid {owner}) exited before the job ended"
        _watch_owner(loop, lambda: cancel(JobState.FAILED, reason))
    try:
        await run.launch()
    except Exception as exc:
        wakeups.say(FAILED + b" " + json.dumps(_error(exc)).encode())
    else:
        wakeups.say(STARTED)
    await run.done.wait()
    await end_leftovers()
    if run._closing is not None:
        await run._closing


def _error(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": str(exc)}


def _watch_owner(loop: asyncio.AbstractEventLoop, on_exit: Any) -> None:
    """Call ``on_exit`` once standard input ends: the creator is gone."""

    def readable() -> None:
        try:
            data = os.read(0, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            on_exit()

    os.set_blocking(0, False)
    loop.add_reader(0, readable)


class _Wakeups:
    """Writes to standard output without ever blocking; the creator may not read it."""

    def __init__(self) -> None:
        self._open = True
        self._said = False
        with contextlib.suppress(OSError):
            os.set_blocking(1, False)

    def say(self, line: bytes) -> None:
        """Write the handshake line (small; the creator waits for it)."""
        self._write(line + b"\n")
        self._said = True

    def poke(self) -> None:
        """Wake the creator; before the handshake there is nothing to wake it for."""
        if self._said:
            self._write(b".")

    def _write(self, data: bytes) -> None:
        if not self._open:
            return
        try:
            os.write(1, data)
        except BlockingIOError:
            pass  # a wake-up is pending already
        except OSError:  # the creator is gone (EPIPE) or never listened
            self._open = False


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children (Linux); say if it worked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _children(pid: int) -> list[int]:
    """The children of process ``pid``: from its tasks' ``children`` files (one small
    read per thread), else by looking at every process's parent in ``/proc``."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        children: list[int] = []
        for task in tasks:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as file:
                children += [int(child) for child in file.read().split()]
    except FileNotFoundError:  # no CONFIG_PROC_CHILDREN in this kernel
        return processes(1, pid)  # the parent's field
    except OSError:
        return []
    return children


def _kill_children() -> None:
    me = os.getpid()
    for _ in range(_MAX_SWEEPS):
        children = _children(me)
        if not children:
            return
        for child in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)


async def end_leftovers() -> None:
    """Kill and reap every process left among this process's children.

    After the job's main process has exited (or was killed), the only children left are
    what it started and left behind, reparented here because this process is a child
    subreaper; their own descendants follow as they are killed.
    """
    await asyncio.to_thread(_kill_children)


if __name__ == "__main__":
    sys.exit(main())
