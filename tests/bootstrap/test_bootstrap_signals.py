"""Signals sent to the bootstrap reach the user code; the exit code says how it ended."""

from __future__ import annotations

import os
import signal

import pytest
from bootstrap_harness import JobTree, read_until

WAIT_FOR_SIGNAL = """
import os, signal, sys
{setup}
with open("child.pid", "w") as file:
    file.write(str(os.getpid()))
print("ready", flush=True)
while True:
    signal.pause()
"""


def _assert_gone(pid: int) -> None:
    # The bootstrap waited for (reaped) its child, so the pid no longer exists.
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_sigterm_stops_the_user_code(job: JobTree) -> None:
    job.write("algo.py", WAIT_FOR_SIGNAL.format(setup=""))
    process = job.start("algo")
    read_until(process, "ready")
    child_pid = int((job.code / "child.pid").read_text())
    assert child_pid != process.pid
    process.send_signal(signal.SIGTERM)
    outcome = job.finish(process)
    assert outcome.returncode == 128 + signal.SIGTERM
    assert outcome.failure == "AlgorithmError: killed by signal SIGTERM, exit code: 143"
    _assert_gone(child_pid)


def test_sigterm_reaches_the_user_codes_handler(job: JobTree) -> None:
    # Only the bootstrap gets the signal, so the handler runs only if it is forwarded.
    setup = """
def stop(signum, frame):
    print("cleaning up", flush=True)
    sys.exit(7)
signal.signal(signal.SIGTERM, stop)
"""
    job.write("algo.py", WAIT_FOR_SIGNAL.format(setup=setup))
    process = job.start("algo")
    read_until(process, "ready")
    process.send_signal(signal.SIGTERM)
    outcome = job.finish(process)
    assert outcome.stdout == "cleaning up\n", outcome
    assert (outcome.returncode, outcome.failure) == (7, "AlgorithmError: exit code: 7")


def test_sigint_interrupts_the_user_code(job: JobTree) -> None:
    job.write("algo.py", WAIT_FOR_SIGNAL.format(setup=""))
    process = job.start("algo")
    read_until(process, "ready")
    process.send_signal(signal.SIGINT)
    outcome = job.finish(process)
    assert outcome.returncode == 128 + signal.SIGINT
    assert outcome.failure == "AlgorithmError: KeyboardInterrupt, exit code: 130"
    assert "KeyboardInterrupt" in outcome.stderr


def test_killed_user_code(job: JobTree) -> None:
    job.write("algo.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    outcome = job.run("algo")
    assert outcome.returncode == 128 + signal.SIGKILL
    assert outcome.failure == "AlgorithmError: killed by signal SIGKILL, exit code: 137"
