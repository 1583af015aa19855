"""Fixtures of the ``@hybrid_job`` tests: a folder for job folders, a private temp dir."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def jobs_root(tmp_path: Path) -> Path:
    root = tmp_path / "jobs"
    root.mkdir()
    return root


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own temporary folder, so that leftovers of a call can be seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def staged(private_tempdir: Path) -> Callable[[], list[str]]:
    """``staged()``: the source folders of calls still in the temporary folder."""

    def names() -> list[str]:
        prefix = "braket-async-hybrid-job-"
        return sorted(p.name for p in private_tempdir.iterdir() if p.name.startswith(prefix))

    return names
