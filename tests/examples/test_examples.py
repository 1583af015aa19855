"""Every example as a user runs it: ``python examples/<name>.py`` from the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.shell import bare_shell, paste

from braket_async.emulator.testing import clean_aws_environment

REPOSITORY = Path(__file__).resolve().parents[2]


def example(name: str, *arguments: str, env: dict[str, str] | None = None) -> str:
    """Run ``examples/<name>`` to its end; its standard output (it must exit 0)."""
    finished = subprocess.run(
        [sys.executable, f"examples/{name}", *arguments],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout


def test_quickstart() -> None:
    out = example("quickstart.py")
    assert "step 4: theta=" in out
    assert "result: {'theta': " in out


def test_hybrid_job() -> None:
    out = example("hybrid_job.py")
    assert "result: {'x': " in out
    assert out.count(" -> {'x': ") == 3
    assert "called directly: {'x': " in out


def test_fifty_point_sweep_with_progress(tmp_path: Path) -> None:
    manifest = str(tmp_path / "sweep.json")
    root = str(tmp_path / "jobs")
    out = example("sweep.py", "--manifest", manifest, "--root", root, "--progress")
    assert "50 of 50 points completed" in out
    assert "best: {'learning_rate': " in out
    assert "sweep: 50/50 done" in out  # the display, forced into a pipe: plain lines
    # Run again: the manifest finds all 50 jobs, none is created twice.
    again = example("sweep.py", "--manifest", manifest, "--root", root, "--no-progress")
    assert "50 of 50 points completed" in again
    assert "sweep:" not in again
    assert len(os.listdir(root)) == 50


@pytest.mark.docker
def test_docker_local_job() -> None:
    out = example("local_job.py", "--runtime", "docker", "--image", "braket-async-test:python3")
    assert "step 7: theta=" in out
    assert "energy by iteration:" in out


@pytest.fixture
def emulator_shell(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``braket-async emulator`` running, and a shell with only the lines it printed."""
    log = (tmp_path / "emulator.log").open("w")
    emulator = subprocess.Popen(
        [str(Path(sys.executable).parent / "braket-async"), "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=clean_aws_environment(),
    )
    try:
        assert emulator.stdout is not None
        shell = paste(bare_shell(), emulator.stdout)
        yield shell
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        assert emulator.stdout is not None
        emulator.stdout.close()
        log.close()


def test_remote_job_against_the_emulator(emulator_shell: dict[str, str]) -> None:
    out = example("remote_job.py", env=emulator_shell)
    assert "created arn:aws:braket:" in out
    assert "  | step 3: theta=" in out
    assert "state: COMPLETED" in out
    assert "result: {'theta': " in out
