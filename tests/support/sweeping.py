"""A program that runs a sweep with a manifest: the sweep that tests kill halfway."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

SWEEPER = textwrap.dedent(
    """
    import asyncio, json, sys
    from braket_async import sweep

    async def main(arguments):
        arguments = json.loads(arguments)
        target = arguments.pop("target", "process")
        session = None
        if isinstance(target, dict):
            from braket_async.aws import AwsSession
            session = AwsSession(**target)
            target = session
        try:
            points = await sweep(target=target, progress=False, **arguments)
            print(json.dumps([p.state.value if p.state else None for p in points]), flush=True)
        finally:
            if session is not None:
                await session.aclose()

    asyncio.run(main(sys.argv[1]))
    """
)


def start_sweeper(tmp_path: Path, **arguments: Any) -> subprocess.Popen[str]:
    """Start the sweep program with ``arguments`` (JSON) in its own process."""
    program = tmp_path / "sweeper.py"
    program.write_text(SWEEPER)
    return subprocess.Popen(
        [sys.executable, str(program), json.dumps(arguments)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def manifest_points(path: Path) -> list[dict[str, Any] | None]:
    """The point entries of the manifest at ``path`` ([] while it does not exist)."""
    try:
        points: list[dict[str, Any] | None] = json.loads(path.read_text())["points"]
    except (OSError, ValueError):
        return []
    return points
