"""The metrics parser: same tables as the official LogMetricsParser on the same lines."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from braket.jobs.metrics_data.definitions import MetricStatistic as OfficialStatistic
from braket.jobs.metrics_data.definitions import MetricType as OfficialType
from braket.jobs.metrics_data.log_metrics_parser import LogMetricsParser

from braket_async.metrics import MetricsParser, MetricStatistic, MetricType, parse_metrics

# (line, timestamp the log system recorded for it or None)
CORPUS: list[tuple[str, float | None]] = [
    ("Metrics - timestamp=1.0; energy=-1.5; iteration_number=0;", None),
    ("Metrics - timestamp=1.0; energy=-2.5; iteration_number=0;", None),
    ("Metrics - timestamp=2.0; energy=-1.0; iteration_number=1; loss=0.3;", None),
    ("[node-1] Metrics - timestamp=2.0; energy=-4.0; iteration_number=1;", None),
    ("[node-1] Metrics - timestamp=3.0; energy=-5.0;", None),
    ("[node-2] Metrics - timestamp=1.0; energy=9.0; iteration_number=0;", None),
    ("[] Metrics - timestamp=9.0; energy=0.5;", None),
    ("Metrics - energy=7.0; iteration_number=2;", 1695043649.5),
    ("Metrics - energy=7.5; iteration_number=2; timestamp=1695043649.5;", 5.0),
    ("Metrics - energy=8.0; iteration_number=3;", None),
    ("Metrics - timestamp=4.0; energy=bad; label=abc; cost = 1.5 ;", None),
    ("Metrics - timestamp=5.0; energy=1; energy=2;", None),
    ("Metrics - timestamp=6.0; only_words=hello;", None),
    ("Metrics - timestamp=7.0; inf_metric=inf; sci=1e-3; under=1_000; neg=-inf;", None),
    ("Metrics - timestamp=8.0; nan_metric=nan; iteration_number=4;", None),
    ("Metrics - timestamp=8.0; nan_metric=1.0; iteration_number=4;", None),
    ("Metrics - timestamp=12.0; energy=1.0; iteration_number=nan;", None),
    ("Metrics - timestamp=10.0; node_id=3; energy=1.0;", None),
    ("Metrics - timestamp=11.0; energy=-0.0;", None),
    ("Metrics - timestamp=11.0; energy=0.0;", None),
    ("Metrics - timestamp=13.0; energy=2.0 trailing", None),
    ("Metrics - timestamp=14.0;energy=3.0;iteration_number=5;", None),
    ("Metrics -", None),
    ("", None),
]


def official_table(
    corpus: list[tuple[str, float | None]], metric_type: MetricType, statistic: MetricStatistic
) -> dict[str, list[Any]]:
    parser = LogMetricsParser()
    for line, timestamp in corpus:
        parser.parse_log_message(timestamp, line)  # type: ignore[arg-type]
    return parser.get_parsed_metrics(
        OfficialType[metric_type.name], OfficialStatistic[statistic.name]
    )


def our_table(
    corpus: list[tuple[str, float | None]], metric_type: MetricType, statistic: MetricStatistic
) -> dict[str, list[Any]]:
    parser = MetricsParser()
    for line, timestamp in corpus:
        parser.add_line(line, timestamp)
    return parser.get_parsed_metrics(metric_type, statistic)


@pytest.mark.parametrize("statistic", list(MetricStatistic))
@pytest.mark.parametrize("metric_type", list(MetricType))
def test_agrees_with_official_parser(
    metric_type: MetricType, statistic: MetricStatistic, caplog: pytest.LogCaptureFixture
) -> None:
    expected = official_table(CORPUS, metric_type, statistic)
    ours = our_table(CORPUS, metric_type, statistic)

    # repr: also compares column order, value types, and NaN (which == does not).
    assert repr(ours) == repr(expected)
    assert len(next(iter(ours.values()))) > 5


@pytest.mark.parametrize("statistic", list(MetricStatistic))
@pytest.mark.parametrize("metric_type", list(MetricType))
@pytest.mark.parametrize("start", range(0, len(CORPUS), 4))
def test_agrees_on_every_prefix_and_order(
    metric_type: MetricType, statistic: MetricStatistic, start: int
) -> None:
    # Rotating the corpus changes which values meet first in MAX/MIN and the row order.
    corpus = CORPUS[start:] + CORPUS[:start]
    for end in range(len(corpus) + 1):
        assert repr(our_table(corpus[:end], metric_type, statistic)) == repr(
            official_table(corpus[:end], metric_type, statistic)
        )


def test_table_by_iteration_with_nodes() -> None:
    lines = [
        "Metrics - iteration_number=0; metricA=2; metricB=1;",
        "Metrics - iteration_number=0; metricA=1;",
        "Metrics - no_pivot_column=0; metricA=0;",
        "Metrics - iteration_number=1; metricA=2;",
        "[nodeB] Metrics - iteration_number=1; metricB=0;",
    ]

    table = parse_metrics(lines, MetricType.ITERATION_NUMBER, MetricStatistic.MIN)

    assert table == {
        "iteration_number": [0.0, 1.0, 1.0],
        "metricA": [1.0, 2.0, None],
        "metricB": [1.0, None, 0.0],
        "node_id": [None, None, "nodeB"],
    }
    assert parse_metrics(lines, "iteration_number", "max")["metricA"] == [2.0, 2.0, None]


def test_default_is_timestamp_and_max() -> None:
    lines = [
        "Metrics - timestamp=5; energy=1.0;",
        "Metrics - timestamp=5; energy=3.0;",
        "Metrics - timestamp=6; energy=2.0; iteration_number=1;",
        "Metrics - energy=9.0; iteration_number=2;",
    ]

    assert parse_metrics(lines) == {
        "timestamp": [5.0, 6.0],
        "energy": [3.0, 2.0],
        "iteration_number": [None, 1.0],
    }


def test_log_timestamp_fills_in_a_missing_timestamp() -> None:
    parser = MetricsParser()

    assert parser.add_line("Metrics - energy=1.0;", timestamp=100.0)
    assert parser.add_line("Metrics - timestamp=7; energy=2.0;", timestamp=100.0)
    assert parser.get_parsed_metrics() == {"energy": [1.0, 2.0], "timestamp": [100.0, 7.0]}


def test_lines_are_fed_incrementally() -> None:
    parser = MetricsParser()
    parser.add_line("Metrics - timestamp=1; energy=1.0;")
    first = parser.get_parsed_metrics()
    parser.add_lines(["Metrics - timestamp=2; energy=0.5;", "Metrics - timestamp=1; energy=4;"])

    assert first == {"timestamp": [1.0], "energy": [1.0]}
    assert parser.get_parsed_metrics() == {"timestamp": [1.0, 2.0], "energy": [4.0, 0.5]}
    assert parser.get_parsed_metrics(statistic=MetricStatistic.MIN)["energy"] == [1.0, 0.5]


def test_lines_without_the_marker_are_ignored() -> None:
    # Unlike the bare official parser, but like both official fetchers (local: lines that
    # start with "Metrics -"; CloudWatch: messages containing "Metrics - "): a job's whole
    # output can be fed without its other "key=value;" prints becoming metrics.
    parser = MetricsParser()

    assert not parser.add_line("timestamp=1; loss=2.0;")
    assert not parser.add_line("Metrics - label=oops;")
    assert parser.add_line("2024-05-01 INFO Metrics - timestamp=1; loss=2.0;")
    assert parser.get_parsed_metrics() == {"timestamp": [1.0], "loss": [2.0]}


def test_non_numeric_values_are_logged_not_warned(caplog: pytest.LogCaptureFixture) -> None:
    # The suite turns warnings into errors: a Python warning here would fail this test.
    with caplog.at_level(logging.WARNING, logger="braket_async.metrics"):
        table = parse_metrics(["Metrics - timestamp=1; energy=high; loss=0.5;"])

    assert table == {"timestamp": [1.0], "loss": [0.5]}
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "energy" in caplog.records[0].getMessage()
    assert "'high'" in caplog.records[0].getMessage()


def test_empty_input_gives_empty_table() -> None:
    assert parse_metrics([]) == {}
    assert parse_metrics(["Metrics - energy=1.0;"]) == {}


def test_enums() -> None:
    assert [m.value for m in MetricType] == ["timestamp", "iteration_number"]
    assert [m.value for m in MetricStatistic] == ["max", "min"]
    assert MetricType.TIMESTAMP == "timestamp"
    assert MetricStatistic("min") is MetricStatistic.MIN


@pytest.mark.parametrize(("metric_type", "statistic"), [("Timestamp", "max"), ("timestamp", "avg")])
def test_unknown_type_or_statistic_is_refused(metric_type: str, statistic: str) -> None:
    with pytest.raises(ValueError, match="is not a valid"):
        parse_metrics(["Metrics - timestamp=1; energy=1.0;"], metric_type, statistic)
