"""``--relay-output`` (how the Docker runtime starts the bootstrap): the user code's output
goes through the bootstrap in few large writes, whole and in order per stream, and the
relay never holds the job once its user code has ended."""

from __future__ import annotations

import os
import selectors
import signal
import time

from bootstrap_harness import TIMEOUT, JobTree, read_until

LINES = 20_000


def read_chunks(job: JobTree, entry_point: str) -> tuple[list[bytes], str, int]:
    """Run a relayed bootstrap; its stdout as the reads that got it, stderr, exit code."""
    process = job.start(entry_point, relay=True)
    assert process.stdout is not None
    assert process.stderr is not None
    chunks: list[bytes] = []
    errors: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout.fileno(), selectors.EVENT_READ, chunks)
        selector.register(process.stderr.fileno(), selectors.EVENT_READ, errors)
        while selector.get_map():
            assert time.monotonic() < deadline, "the bootstrap did not end"
            for key, _ in selector.select(deadline - time.monotonic()):
                data = os.read(key.fd, 1 << 20)
                if data:
                    key.data.append(data)
                else:
                    selector.unregister(key.fd)
    process.stdout.close()
    process.stderr.close()
    return chunks, b"".join(errors).decode(), process.wait(TIMEOUT)


def test_many_short_lines_arrive_whole_in_order_and_in_few_writes(job: JobTree) -> None:
    job.write(
        "algo.py",
        f"""
        import sys
        for index in range({LINES}):
            print(index)
            if index % 1000 == 0:
                print("err", index, file=sys.stderr)
        sys.stdout.write("last line without an end")
        """,
    )
    chunks, stderr, code = read_chunks(job, "algo")
    assert code == 0, stderr
    lines = b"".join(chunks).decode().split("\n")
    assert lines == [str(index) for index in range(LINES)] + ["last line without an end"]
    assert stderr.splitlines() == [f"err {index}" for index in range(0, LINES, 1000)]
    # Unrelayed, each line is a write of its own, and this side reads about a thousand
    # times (measured: 1010); relayed, a write carries a millisecond of printing (12-14).
    assert len(chunks) < LINES / 200, len(chunks)


def test_a_line_larger_than_a_pipe_arrives_whole(job: JobTree) -> None:
    job.write("algo.py", "print('x' * 3_000_000)\nprint('after')\n")
    chunks, stderr, code = read_chunks(job, "algo")
    assert code == 0, stderr
    assert b"".join(chunks).decode().split("\n") == ["x" * 3_000_000, "after", ""]


def test_a_background_writer_left_behind_does_not_hold_the_job(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
        import subprocess, sys
        # Writes for ever into the relay's pipe, which it inherited.
        subprocess.Popen([sys.executable, "-c", "while True: print('x' * 100)"])
        print("user code done")
        """,
    )
    chunks, stderr, code = read_chunks(job, "algo")
    assert code == 0, stderr
    assert b"user code done\n" in b"".join(chunks)


def test_signals_still_reach_the_user_code(job: JobTree) -> None:
    job.write(
        "algo.py",
        """
        import signal, sys
        def stop(signum, frame):
            print("cleaning up")
            sys.exit(7)
        signal.signal(signal.SIGTERM, stop)
        print("ready")
        signal.pause()
        """,
    )
    process = job.start("algo", relay=True)
    read_until(process, "ready")
    process.send_signal(signal.SIGTERM)
    outcome = job.finish(process)
    assert outcome.stdout == "cleaning up\n"
    assert (outcome.returncode, outcome.failure) == (7, "AlgorithmError: exit code: 7")


def test_user_code_in_a_job_environment_is_relayed_too(job: JobTree) -> None:
    # A requirements file makes the bootstrap start the user code as a new interpreter.
    job.write("requirements.txt", "# nothing to install\n")
    job.write("algo.py", "import sys\nprint('out')\nprint('err', file=sys.stderr)\n")
    outcome = job.run("algo", relay=True)
    assert outcome.returncode == 0, outcome.stderr
    assert outcome.stdout.splitlines()[-1] == "out"
    assert "err" in outcome.stderr.splitlines()
