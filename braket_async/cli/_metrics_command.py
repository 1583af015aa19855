"""``metrics``: what a job logged with ``log_metric``, as a table, JSON or a plot."""

from __future__ import annotations

import argparse
import datetime
import math
from pathlib import Path
from typing import Any

from ._common import EXIT_OK, CliError, open_job, print_json, say

__all__ = ["metrics", "plot", "table"]


async def metrics(options: argparse.Namespace) -> int:
    """Print the job's metrics; ``--plot FILE.png`` also draws them."""
    from ..metrics import MetricStatistic, MetricType

    by = MetricType.ITERATION_NUMBER if options.by == "iteration" else MetricType.TIMESTAMP
    if options.plot is not None and Path(options.plot).suffix.lower() not in _PLOT_FORMATS:
        raise CliError(f"--plot {options.plot!r}: name a .png, .svg or .pdf file")
    async with open_job(options.job, root=options.root, region=options.region) as job:
        columns = await job.metrics(by, MetricStatistic(options.statistic))
    if options.json:
        print_json(columns)
    elif columns:
        print(table(columns))
    else:
        say(f"job {job.name} logged no metrics")
    if options.plot is not None:
        if not columns:
            raise CliError("nothing to plot: the job logged no metrics")
        plot(columns, by.value, Path(options.plot), title=job.name)
        say(f"plot written to {options.plot}")
    return EXIT_OK


_PLOT_FORMATS = (".png", ".svg", ".pdf")


def table(columns: dict[str, list[Any]]) -> str:
    """The columns as aligned text, one row per key."""
    names = list(columns)
    rows = [
        [
            _time(value) if name == "timestamp" else _cell(value)
            for name, value in zip(names, row, strict=True)
        ]
        for row in zip(*columns.values(), strict=True)
    ]
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(names)]
    lines = ["  ".join(name.rjust(width) for name, width in zip(names, widths, strict=True))]
    lines.extend(
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    )
    return "\n".join(lines)


def _time(value: object) -> str:
    if not isinstance(value, (int, float)):
        return _cell(value)
    moment = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def plot(columns: dict[str, list[Any]], key: str, target: Path, *, title: str) -> None:
    """Draw every numeric metric against ``key`` into ``target`` (one panel each)."""
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")  # files only: no window, no display needed
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise CliError("--plot needs matplotlib: pip install 'braket-async[plot]'") from None
    x = columns.get(key) or list(range(len(next(iter(columns.values())))))
    series = {
        name: values
        for name, values in columns.items()
        if name not in (key, "timestamp", "iteration_number", "node_id")
        and any(isinstance(value, (int, float)) for value in values)
    }
    if not series:
        raise CliError("nothing to plot: no numeric metric")
    figure, axes = plt.subplots(
        len(series), 1, sharex=True, squeeze=False, figsize=(7, 2.2 * len(series) + 0.8)
    )
    for axis, (name, values) in zip(axes[:, 0], series.items(), strict=True):
        points = [(a, b) for a, b in zip(x, values, strict=False) if isinstance(b, (int, float))]
        axis.plot([a for a, _ in points], [b for _, b in points], marker=".")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(key)
    figure.suptitle(title)
    figure.tight_layout()
    try:
        figure.savefig(target)
    except OSError as exc:
        raise CliError(f"--plot {target}: {exc.strerror or exc}") from exc
    finally:
        plt.close(figure)
