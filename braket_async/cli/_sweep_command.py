"""``sweep``: a job per point of a JSON grid, a JSON list or a CSV file."""

from __future__ import annotations

import argparse
import asyncio
import csv
from pathlib import Path
from typing import Any

from ._common import EXIT_FAILED, EXIT_OK, CliError, print_json, read_json, say, uncancel
from ._run_command import create_options, device_of, target_of

__all__ = ["read_points", "sweep"]

_PROGRESS = {"auto": None, "on": True, "off": False}


def read_points(
    grid: str | None, points: str | None
) -> tuple[list[dict[str, Any]] | None, dict[str, list[Any]] | None]:
    """The sweep's points (``--points``) or grid (``--grid``), checked."""
    if grid is not None:
        loaded = read_json(grid, "--grid")
        if not isinstance(loaded, dict) or not loaded:
            raise CliError(f"--grid {grid}: expected a JSON object of lists of values")
        for name, values in loaded.items():
            if not isinstance(values, list) or not values:
                raise CliError(f"--grid {grid}: {name!r} must be a non-empty list of values")
        return None, loaded
    assert points is not None
    if Path(points).suffix.lower() == ".csv":
        return _read_csv(points), None
    loaded = read_json(points, "--points")
    if not isinstance(loaded, list) or not all(isinstance(point, dict) for point in loaded):
        raise CliError(f"--points {points}: expected a JSON list of objects")
    if not loaded:
        raise CliError(f"--points {points}: no points")
    return loaded, None


def _read_csv(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            rows = list(reader)
            header = reader.fieldnames or []
    except OSError as exc:
        raise CliError(f"--points {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CliError(f"--points {path}: not CSV ({exc})") from exc
    if not header or any(not name for name in header) or len(set(header)) != len(header):
        raise CliError(f"--points {path}: the first row must name each column once")
    for number, row in enumerate(rows, start=2):
        if None in row or any(value is None for value in row.values()):
            raise CliError(f"--points {path}: line {number} has not one value per column")
    if not rows:
        raise CliError(f"--points {path}: no points")
    return rows


async def sweep(options: argparse.Namespace) -> int:
    """Run the sweep with its live display; print a summary (or ``--json`` points)."""
    from .._sweep import sweep as run_sweep

    points, grid = read_points(options.grid, options.points)
    device = device_of(options)
    created = create_options(options)
    remote = options.target == "remote"
    # Ctrl-C: jobs a manifest can find again, and remote jobs, run on; others end.
    leave = remote or options.manifest is not None
    async with target_of(options) as target:
        try:
            swept = await run_sweep(
                options.source,
                points,
                grid=grid,
                target=target,
                device=device,
                manifest=options.manifest,
                job_name_prefix=options.name_prefix,
                max_concurrent_jobs=options.max_concurrent_jobs,
                progress=_PROGRESS[options.progress],
                on_exit="leave" if leave else "cancel",
                poll_interval_seconds=options.poll_interval,
                **created,
            )
        except asyncio.CancelledError:
            uncancel()
            if options.manifest is not None:
                say(
                    "interrupted: running jobs go on; run the same command again to "
                    f"resume from {options.manifest}"
                )
            elif remote:
                say("interrupted: the sweep's remote jobs go on running on Braket")
            else:
                say("interrupted: the sweep's local jobs were cancelled")
            raise
    failed = [point for point in swept if not point.ok]
    if options.json:
        print_json([_point_document(point) for point in swept])
    else:
        for point in failed:
            name = point.job.name if point.job is not None else "(no job)"
            say(f"point {point.index} {point.hyperparameters} {name}: {point.error}")
    say(f"sweep: {len(swept) - len(failed)} of {len(swept)} points completed")
    return EXIT_FAILED if failed else EXIT_OK


def _point_document(point: Any) -> dict[str, Any]:
    return {
        "index": point.index,
        "hyperparameters": point.hyperparameters,
        "jobName": point.job.name if point.job is not None else None,
        "jobArn": point.job.arn if point.job is not None else None,
        "status": point.state.value if point.state is not None else None,
        "result": point.result,
        "error": str(point.error) if point.error is not None else None,
    }
