"""A script without a ``__main__`` guard, run as users run it: nothing of its top level
runs in its jobs, because the decorated function goes to them by value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
CALLS = 20


def test_a_script_without_a_main_guard_runs_only_once(
    tmp_path: Path, private_tempdir: Path
) -> None:
    root, marker, cwd = tmp_path / "jobs", tmp_path / "marker.txt", tmp_path / "cwd"
    cwd.mkdir()
    done = subprocess.run(
        [sys.executable, str(HERE / "unguarded_script.py"), str(root), str(marker), str(CALLS)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "TMPDIR": str(private_tempdir)},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout)
    assert [outcome["result"]["square"] for outcome in outcomes] == [x * x for x in range(CALLS)]
    assert [outcome["result"]["job"] for outcome in outcomes] == [o["name"] for o in outcomes]
    assert len({outcome["name"] for outcome in outcomes}) == CALLS
    # The top level ran once: in the script's own process, never in one of its jobs.
    lines = marker.read_text().splitlines()
    assert lines == [f"top level ran in pid {lines[0].split()[-1]}"]
    for name in os.listdir(root):
        log = (root / name / "log.txt").read_text()
        assert "Traceback" not in log, log
    assert os.listdir(cwd) == []
    assert os.listdir(private_tempdir) == []
