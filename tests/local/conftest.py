"""Fixtures for local-job tests: a place for job folders and a way to write job code."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def jobs_root(tmp_path: Path) -> Path:
    root = tmp_path / "jobs"
    root.mkdir()
    return root


@pytest.fixture
def write_module(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``source`` as ``<tmp>/src/<name>.py`` and return its path."""

    def write(name: str, source: str) -> Path:
        folder = tmp_path / "src"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return path

    return write
