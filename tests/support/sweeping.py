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


def read_manifest(path: Path) -> tuple[dict[str, Any], list[dict[str, Any] | None]]:
    """The header of the manifest (a journal of JSON lines) at ``path`` and each point's
    last entry; a torn last line is left out, as the sweep does."""
    lines = path.read_bytes().split(b"\n")
    header = json.loads(lines[0])
    points: list[dict[str, Any] | None] = [None] * header["points"]
    for line in lines[1:-1]:
        try:
            entry = json.loads(line)
        except ValueError:
            break
        points[entry["point"]] = entry
    return header, points


def manifest_points(path: Path) -> list[dict[str, Any] | None]:
    """The point entries of the manifest at ``path`` ([] while it has none)."""
    try:
        return read_manifest(path)[1]
    except (OSError, ValueError, IndexError):
        return []
