"""The user code runs in a fork of the bootstrap: lean, line-buffered, and it still ends
the way a fresh interpreter would (exit codes, at-exit handlers, reports of any size)."""

from __future__ import annotations

import signal

from bootstrap_harness import JobTree, read_until

# What a trivial job must not pay for: the bootstrap's own command line, its
# child-process and temporary-file machinery, and the heavy introspection modules.
NOT_LOADED = ("argparse", "subprocess", "tempfile", "inspect", "dataclasses", "json", "typing")


def test_the_user_code_starts_without_the_bootstraps_heavy_imports(job: JobTree) -> None:
    job.write(
        "algo.py",
        f"import sys\nprint('RESULT', repr(sorted(set({NOT_LOADED!r}) & set(sys.modules))))\n",
    )
    outcome = job.run("algo", as_script=True)  # as every runtime starts it
    assert outcome.returncode == 0, outcome.stderr
    line = next(line for line in outcome.stdout.splitlines() if line.startswith("RESULT"))
    assert line == "RESULT []"


def test_output_is_written_line_by_line_and_at_exit_handlers_run(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
import atexit, signal, sys
assert sys.stdout.line_buffering and sys.stderr.line_buffering
atexit.register(lambda: print("at exit", end=""))  # written at exit, unflushed
signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
sys.stdout.write("no newline, no flush")
sys.stderr.write("err too\\n")
print()
print("ready")
signal.pause()
""",
    )
    process = job.start("algo")
    read_until(process, "ready")  # arrived as its line ended, without a flush
    process.send_signal(signal.SIGTERM)
    outcome = job.finish(process)
    assert outcome.returncode == 3
    assert outcome.stdout.splitlines()[-1] == "at exit"
    assert outcome.failure == "AlgorithmError: exit code: 3"


def test_a_megabyte_exception_message_is_reported_shortened(job: JobTree) -> None:
    job.write("algo.py", "raise ValueError('x' * 1_000_000)\n")
    outcome = job.run("algo")
    assert outcome.returncode == 1
    assert outcome.failure is not None
    assert outcome.failure.startswith("AlgorithmError: ValueError: xxx")
    assert outcome.failure.endswith("..., exit code: 1")
    assert len(outcome.failure) < 1024


def test_non_threaded_user_code_with_threads_still_waits_for_them(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
import threading, time
def later():
    time.sleep(0.2)
    print("thread done", flush=True)
threading.Thread(target=later).start()
""",
    )
    outcome = job.run("algo")
    assert outcome.returncode == 0
    assert "thread done" in outcome.stdout
