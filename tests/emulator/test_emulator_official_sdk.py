"""Fidelity: the official amazon-braket-sdk runs a job against the emulator unmodified."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

ALGO = """
    from braket.jobs import save_job_result

    print("hello from the official SDK's job")
    save_job_result({"answer": 42})
"""


async def test_official_sdk_creates_a_job_and_gets_its_result(
    stack: EmulatorStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    official_sdk_environment: None,
) -> None:
    source = tmp_path / "src" / "algo.py"
    source.parent.mkdir()
    source.write_text(textwrap.dedent(ALGO))
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # result() extracts model.tar.gz into the working directory

    def run_official_sdk() -> tuple[str, dict[str, Any], str, Any]:
        from braket.aws import AwsQuantumJob

        job = AwsQuantumJob.create(
            device="arn:aws:braket:::device/quantum-simulator/amazon/sv1",
            source_module=str(source),
            job_name="official-sdk-job",
            wait_until_complete=False,
        )
        result = job.result(poll_timeout_seconds=600, poll_interval_seconds=0.2)
        job.logs(wait=False, poll_interval_seconds=0)  # prints the job's CloudWatch lines
        return job.arn, dict(result), job.state(), job.queue_position()

    arn, result, state, queue = await anyio.to_thread.run_sync(run_official_sdk)

    assert result == {"answer": 42}
    assert state == "COMPLETED"
    assert queue.queue_position is None
    assert "hello from the official SDK's job" in capsys.readouterr().out
    record = stack.emulator.service.job(arn)
    assert record.name == "official-sdk-job"
    assert record.request["algorithmSpecification"]["scriptModeConfig"]["entryPoint"] == "algo"
