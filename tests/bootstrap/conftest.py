"""Fixtures for the in-job bootstrap tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bootstrap_harness import JobTree


@pytest.fixture
def job(tmp_path: Path) -> Iterator[JobTree]:
    """A fresh job tree; after the test, the bootstrap must have left no temporary files."""
    tree = JobTree(tmp_path)
    yield tree
    assert list(tree.temp.iterdir()) == []
