"""Metrics of a job, parsed from the ``Metrics - ...`` lines that ``log_metric`` prints.

A line such as ``[node-1] Metrics - timestamp=1695043649.8; energy=-1.2; iteration_number=3;``
carries ``name=value;`` pairs, and an optional leading ``[node]`` tag recorded in the
``node_id`` column. A name is the run of letters, digits and underscores before the ``=``
(spaces allowed between): ``log_metric("train-loss", 0.5)`` prints ``train-loss=0.5;``,
which both this parser and the official one read as ``loss``. Lines are then pivoted into
a table, one row per pivot value (the timestamp or the iteration number) and node; several
values for one cell are resolved by a statistic. The parse matches the official SDK's, so
both give the same table.

Standard library only: used by both local and remote job handles.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["MetricStatistic", "MetricType", "MetricsParser", "parse_metrics"]

_logger = logging.getLogger(__name__)

_MARKER = "Metrics -"
_PAIR = re.compile(r"(\w+)\s*=\s*([^;]+)\s*;")
_NODE_TAG = re.compile(r"^\[([^\]]*)\]")
_TIMESTAMP = "timestamp"
_NODE_ID = "node_id"


class MetricType(str, enum.Enum):
    """The column that keys the rows of a metrics table."""

    TIMESTAMP = "timestamp"
    """One row per timestamp (and node)."""
    ITERATION_NUMBER = "iteration_number"
    """One row per iteration number (and node); lines without one are left out."""


class MetricStatistic(str, enum.Enum):
    """Which value wins when several fall into the same cell."""

    MAX = "max"
    MIN = "min"


class MetricsParser:
    """Collects metrics from log lines fed one at a time and builds tables from them.

    Lines that do not contain ``Metrics -`` are ignored, so a job's whole output can be
    fed; that is also what the official local and remote fetchers keep.
    """

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []

    def add_line(self, line: str | None, timestamp: float | str | None = None) -> bool:
        """Parse one log line; return whether it held any metric.

        Args:
            line: The line, as printed by the job. ``None`` (a log event without a
                message) is ignored, as the official parser ignores it.
            timestamp: When the line was logged, in seconds since the epoch; used as the
                ``timestamp`` of a line that has none of its own. A false value (``None``,
                ``0``, ``""``) is not used, as in the official parser.
        """
        if not line or _MARKER not in line:
            return False
        record: dict[str, Any] = {}
        for match in _PAIR.finditer(line):
            name, text = match.groups()
            try:
                record[name] = float(text)
            except ValueError:
                # Logged, not warnings.warn(): the official parser logs too, and one bad
                # value printed by user code must not abort reading all the other metrics
                # where warnings are errors (as in our test suite).
                _logger.warning("Dropping metric %s: %r is not a number", name, text)
        if not record:
            return False
        if timestamp:
            record.setdefault(_TIMESTAMP, timestamp)
        if tag := _NODE_TAG.match(line):
            record[_NODE_ID] = tag.group(1)
        self._records.append(record)
        return True

    def add_lines(self, lines: Iterable[str | None]) -> None:
        """Parse each of ``lines`` with :meth:`add_line`."""
        for line in lines:
            self.add_line(line)

    def get_parsed_metrics(
        self,
        metric_type: MetricType | str = MetricType.TIMESTAMP,
        statistic: MetricStatistic | str = MetricStatistic.MAX,
    ) -> dict[str, list[Any]]:
        """Return the metrics as columns: ``{"timestamp": [...], "energy": [...], ...}``.

        Rows are keyed by the ``metric_type`` column and the node; lines without that
        column are left out. Columns appear in the order they were first seen and hold
        ``None`` where a row has no value.

        Raises:
            ValueError: ``metric_type`` or ``statistic`` is not one of the enums' values.
        """
        pivot = MetricType(metric_type).value
        pick = max if MetricStatistic(statistic) is MetricStatistic.MAX else min
        rows: dict[tuple[Any, Any], int] = {}
        columns: dict[str, dict[int, Any]] = {}
        for record in self._records:
            if pivot not in record:
                continue
            row = rows.setdefault((record[pivot], record.get(_NODE_ID)), len(rows))
            for name, value in record.items():
                cells = columns.setdefault(name, {})
                cells[row] = pick(cells[row], value) if row in cells else value
        return {
            name: [cells.get(row) for row in range(len(rows))] for name, cells in columns.items()
        }


def parse_metrics(
    lines: Iterable[str | None],
    metric_type: MetricType | str = MetricType.TIMESTAMP,
    statistic: MetricStatistic | str = MetricStatistic.MAX,
) -> dict[str, list[Any]]:
    """Return the metrics table of ``lines``; see :meth:`MetricsParser.get_parsed_metrics`."""
    parser = MetricsParser()
    parser.add_lines(lines)
    return parser.get_parsed_metrics(metric_type, statistic)
