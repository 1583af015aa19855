"""A real terminal for tests: a detached tmux session running a command, and its screen."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def tmux_screen(
    command: str, *, cwd: Path | None = None, width: int = 150, height: int = 20
) -> Iterator[Callable[[], str]]:
    """Run ``command`` in a new tmux session; yield a function that reads its screen.

    The session is killed on exit. End ``command`` with ``; sleep 600`` to read the
    screen after the program has exited.
    """
    assert shutil.which("tmux"), "tests/run.sh installs tmux"
    session = f"braket-async-{uuid.uuid4().hex[:8]}"

    def screen() -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command],
        check=True,
        cwd=cwd,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    try:
        yield screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
