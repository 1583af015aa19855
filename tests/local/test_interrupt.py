"""Ctrl-C in a program awaiting a local job leaves no process behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.interrupting import run_and_interrupt


def test_ctrl_c_stops_a_process_job(tmp_path: Path) -> None:
    pid, _ = run_and_interrupt(tmp_path, "process")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
