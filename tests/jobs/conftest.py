"""Fixtures for the in-job API: a job environment in a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_job_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The helpers fall back to the working directory: keep that inside tmp_path, and keep
    # the developer's own AMZN_BRAKET_* variables out.
    for name in list(os.environ):
        if name.startswith("AMZN_BRAKET_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def job_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Set the variables of a job named ``my-job``; return the folder holding its dirs."""
    root = tmp_path / "job"
    for sub in ("checkpoints", "results"):
        (root / sub).mkdir(parents=True)
    monkeypatch.setenv("AMZN_BRAKET_JOB_NAME", "my-job")
    monkeypatch.setenv("AMZN_BRAKET_CHECKPOINT_DIR", str(root / "checkpoints"))
    monkeypatch.setenv("AMZN_BRAKET_JOB_RESULTS_DIR", str(root / "results"))
    return root
