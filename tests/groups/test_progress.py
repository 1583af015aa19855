"""The live progress display where users see it: a real terminal (tmux), a notebook
kernel (nbclient), and nothing when the output is piped."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from support.owning import wait_until
from support.terminal import tmux_screen

from braket_async import JobEvent, JobState, RetryEvent, ServiceError, SweepPoint
from braket_async._progress import ProgressDisplay, interactive
from braket_async.errors import BillingLimitError

GATED = """
import os, time
from braket_async.jobs import get_hyperparameters, save_job_result
hyperparameters = get_hyperparameters()
while int(hyperparameters["x"]) > 0 and not os.path.exists(hyperparameters["gate"]):
    time.sleep(0.05)
if hyperparameters["x"] == "3":
    raise SystemExit("three is not allowed")
save_job_result({"x": hyperparameters["x"]})
"""

PROGRAM = """
import asyncio, sys
from braket_async import sweep

async def main(source, root, gate):
    points = await sweep(source, points=[{{"x": x, "gate": gate}} for x in range(4)],
                         root=root, poll_interval_seconds=0.05{progress})
    print("finished:", [point.state.value for point in points], flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


def write_program(tmp_path: Path, progress: str = "") -> list[str]:
    source = tmp_path / "gated.py"
    source.write_text(textwrap.dedent(GATED))
    program = tmp_path / "program.py"
    program.write_text(PROGRAM.format(progress=progress))
    return [
        sys.executable,
        str(program),
        str(source),
        str(tmp_path / "jobs"),
        str(tmp_path / "gate"),
    ]


def test_the_display_in_a_real_terminal(tmp_path: Path) -> None:
    command = " ".join(write_program(tmp_path)) + "; sleep 600"
    with tmux_screen(command) as screen:
        wait_until(lambda: "1 completed" in screen() and "3 running" in screen())
        live = screen()
        assert "sweep: 1/4 done" in live
        assert "elapsed" in live
        (tmp_path / "gate").touch()
        wait_until(lambda: "finished:" in screen())
        final = screen()
        assert "sweep: 4/4 done" in final
        assert "3 completed" in final
        assert "1 failed" in final
        assert "three is not allowed" in final  # the failure, as it happened
        # Redrawn in place: one summary line on the screen, not one per update.
        assert final.count("sweep: ") == 1


def test_no_display_when_the_output_is_piped(tmp_path: Path) -> None:
    (tmp_path / "gate").touch()
    finished = subprocess.run(
        write_program(tmp_path), capture_output=True, text=True, check=True, timeout=120
    )
    assert "sweep:" not in finished.stdout
    assert finished.stdout.startswith("finished: ")


def test_progress_true_forces_the_display_into_a_pipe(tmp_path: Path) -> None:
    (tmp_path / "gate").touch()
    finished = subprocess.run(
        write_program(tmp_path, progress=", progress=True"),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "sweep: 4/4 done" in finished.stdout
    assert "FAILED: AlgorithmError: SystemExit: three is not allowed" in finished.stdout


def test_the_display_in_a_notebook_kernel(tmp_path: Path) -> None:
    import nbclient
    import nbformat

    (tmp_path / "gate").touch()
    source = tmp_path / "gated.py"
    source.write_text(textwrap.dedent(GATED))
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "from braket_async import sweep\n"
            f"points = await sweep({str(source)!r}, "
            f"points=[{{'x': x, 'gate': {str(tmp_path / 'gate')!r}}} for x in range(4)], "
            f"root={str(tmp_path / 'jobs')!r}, poll_interval_seconds=0.05)\n"
            "print('finished:', [point.state.value for point in points])"
        )
    )
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    shown = [output["data"]["text/plain"] for output in outputs if "data" in output]
    assert len(shown) == 1, outputs  # one display, updated in place
    assert shown[0].startswith("sweep: 4/4 done")
    assert "three is not allowed" in shown[0]
    streams = "".join(output.get("text", "") for output in outputs)
    assert "finished:" in streams
    assert "Warning" not in streams


def test_plain_display_prints_failures_as_they_happen() -> None:
    output = io.StringIO()
    display = ProgressDisplay(2, file=output, use_rich=False)
    display.point_done(SweepPoint(0, {}, state=JobState.COMPLETED))
    display.point_done(SweepPoint(1, {}, error=BillingLimitError("over budget")))
    lines = output.getvalue().splitlines()
    assert "sweep: point 1 NOT CREATED: over budget" in lines
    assert "2/2 done" in display.summary()
    assert not interactive(io.StringIO())


class Named:
    """What the display reads of a job: its ARN and name."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.arn = f"local:job/{name}"


def test_plain_display_says_when_calls_are_retried_given_up_and_answered() -> None:
    output = io.StringIO()
    display = ProgressDisplay(3, file=output, use_rich=False)
    now = time.time()
    error = ServiceError("ConnectionError", "Could not connect", operation="SearchJobs")
    watched, other = Named("job-a"), Named("job-b")
    display.job_event(JobEvent(watched, None, JobState.RUNNING, now))  # type: ignore[arg-type]

    def retry(job: Named | None, **fields: object) -> RetryEvent:
        event = {
            "operation": "watch" if job else "create",
            "job": job,
            "job_name": job.name if job else "job-c",
            "error": error,
            "attempt": 2,
            "since": now - 12,
            "retry_at": now + 4,
            "time": now,
            **fields,
        }
        return RetryEvent(**event)  # type: ignore[arg-type]

    display.retry_event(retry(watched))
    display.retry_event(retry(other))
    display.retry_event(retry(None))
    assert "3 retrying" in display.summary()
    display.retry_event(retry(watched, retry_at=None))  # given up: the job is lost
    display.retry_event(retry(other, error=None, retry_at=None))  # answered again
    display.retry_event(retry(None, error=None, retry_at=None))
    lines = output.getvalue().splitlines()
    assert (
        lines.count(
            "sweep: retrying watch of job-a (attempt 2, failing for 12s, next in 4s): "
            "ConnectionError in SearchJobs: Could not connect"
        )
        == 1
    )  # one line when retries start, not one per call
    assert not any("retrying watch of job-b" in line for line in lines)
    assert "sweep: job-a RUNNING: ConnectionError in SearchJobs: Could not connect" in lines
    assert "sweep: no call is being retried now" in lines
    summary = display.summary()
    assert "1/3 done" in summary
    assert "1 lost" in summary
    assert "retrying" not in summary
