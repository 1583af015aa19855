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
CORPUS: list[tuple[str | None, float | None]] = [
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
    # A log event without a message, with and without a time of its own.
    (None, None),
    (None, 20.0),
    # A false log time is not used: the line without a timestamp stays out of that table.
    ("Metrics - energy=5.0; iteration_number=6;", 0.0),
    ("Metrics - timestamp=15.0; train-loss=0.5; loss value=1.5;", None),
]


def official_table(
    corpus: list[tuple[str | None, float | None]],
    metric_type: MetricType,
    statistic: MetricStatistic,
) -> dict[str, list[Any]]:
    parser = LogMetricsParser()
    for line, timestamp in corpus:
        parser.parse_log_message(timestamp, line)  # type: ignore[arg-type]
    return parser.get_parsed_metrics(
        OfficialType[metric_type.name], OfficialStatistic[statistic.name]
    )


def our_table(
    corpus: list[tuple[str | None, float | None]],
    metric_type: MetricType,
    statistic: MetricStatistic,
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


def test_none_and_empty_lines_are_ignored() -> None:
    parser = MetricsParser()

    assert not parser.add_line(None)
    assert not parser.add_line(None, timestamp=5.0)
    assert not parser.add_line("")
    parser.add_lines([None, "Metrics - timestamp=1; energy=2.0;", None])
    assert parser.get_parsed_metrics() == {"timestamp": [1.0], "energy": [2.0]}
    assert parse_metrics([None]) == {}


@pytest.mark.parametrize("timestamp", [0, 0.0, ""])
def test_false_log_time_is_not_used(timestamp: float | str) -> None:
    parser = MetricsParser()
    official = LogMetricsParser()
    line = "Metrics - energy=1.0; iteration_number=0;"

    assert parser.add_line(line, timestamp)  # the line has a metric, just no time
    official.parse_log_message(timestamp, line)  # type: ignore[arg-type]

    table = parser.get_parsed_metrics(MetricType.ITERATION_NUMBER)
    assert table == {"energy": [1.0], "iteration_number": [0.0]}
    assert table == official.get_parsed_metrics(
        OfficialType.ITERATION_NUMBER, OfficialStatistic.MAX
    )
    assert parser.get_parsed_metrics(MetricType.TIMESTAMP) == {}


# --- the official SDK's own unit-test cases (test_log_metrics_parser.py) -------------------
# Log events as the official tests feed them: a dict with an optional "timestamp" (strings
# there, as CloudWatch gives them) and an optional "message".

MALFORMED_EVENTS: list[dict[str, str]] = [
    {"timestamp": "Test timestamp 0", "message": ""},
    {"timestamp": "Test timestamp 1", "message": "No semicolon metric0=2.0"},
    {"timestamp": "Test timestamp 2", "message": "metric0=not_a_number;"},
    {"timestamp": "Test timestamp 3", "message": "also not a number metric0=2 . 0;"},
    {"timestamp": "Test timestamp 3", "message": "metric0=;"},
    {"timestamp": "Test timestamp 3", "message": "metric0= ;"},
    {"timestamp": "Test timestamp 4"},  # no message: None
    {"unknown": "Unknown"},  # neither
]

SIMPLE_EVENTS = [
    {
        "timestamp": "Test timestamp 0",
        "message": "Metrics - metric0=0.0; metric1=1.0; metric2=2.0 ;",
    },
    # A timestamp in the line wins over the event's.
    {
        "timestamp": "Test timestamp 1",
        "message": "Metrics - timestamp=1628019160; metric0=0.1; metric2= 2.1;",
    },
    # metric3 appears once: the other rows hold None for it.
    {
        "timestamp": "Test timestamp 2",
        "message": "Metrics - metric0=0.2; metric1=1.2; metric2= 2.2 ; metric3=0.2;",
    },
    {
        "timestamp": "Test timestamp 3",
        "message": "Metrics - metric0=-0.4; metric1=3.14e-22; metric2=3.14E22;",
    },
]
SIMPLE_TABLE = {
    "timestamp": ["Test timestamp 0", 1628019160, "Test timestamp 2", "Test timestamp 3"],
    "metric0": [0.0, 0.1, 0.2, -0.4],
    "metric1": [1.0, None, 1.2, 3.14e-22],
    "metric2": [2.0, 2.1, 2.2, 3.14e22],
    "metric3": [None, None, 0.2, None],
}

MULTINODE_EVENTS = [
    {"timestamp": "Test timestamp 0", "message": "[nodeA]<stdout>:Metrics - metric0=1.0;"},
    {"timestamp": "Test timestamp 0", "message": "[nodeB]<stdout>:Metrics - metric0=2.0;"},
    {"timestamp": "Test timestamp 1", "message": "[nodeA]<stdout>:Metrics - metricA=3.0;"},
    {"timestamp": "Test timestamp 1", "message": "Metrics - metric0=0.0;"},
]
MULTINODE_TABLE = {
    "timestamp": ["Test timestamp 0", "Test timestamp 0", "Test timestamp 1", "Test timestamp 1"],
    "node_id": ["nodeA", "nodeB", "nodeA", None],
    "metric0": [1.0, 2.0, None, 0.0],
    "metricA": [None, None, 3.0, None],
}

# Every line at one time: the statistic picks each cell's value.
SAME_TIME_EVENTS = [
    {"timestamp": "Test timestamp 0", "message": message}
    for message in [
        "Metrics - metric0=0.0;",
        "Metrics - metric0=0.1; metric1=1.1;",
        "Metrics - metric0=0.2; metric2=2.8;",
        "Metrics - metric0=0.3; metric1=1.3;",
        "Metrics - metric1=1.4; metric2=2.4;",
        "Metrics - metric0=0.5; metric1=1.5; metric2=2.5;",
        "Metrics - metric1=0.6; metric0=0.6;",
    ]
]
SAME_TIME_MAX = {
    "timestamp": ["Test timestamp 0"],
    "metric0": [0.6],
    "metric1": [1.5],
    "metric2": [2.8],
}
SAME_TIME_MIN = {
    "timestamp": ["Test timestamp 0"],
    "metric0": [0.0],
    "metric1": [0.6],
    "metric2": [2.4],
}

ITERATION_EVENTS = [
    {"timestamp": f"Test timestamp {i}", "message": message}
    for i, message in enumerate(
        [
            "Metrics - iteration_number=0; metric0=0.0;",
            "Metrics - metric0=0.1; metric1=1.1; iteration_number=0;",
            "Metrics - metric0=0.2; metric2=2.8;",
            "Metrics - metric0=0.3; metric1=1.3;",
            "Metrics - metric1=1.4; metric2=2.4; iteration_number=0;",
            "Metrics - metric0=0.5; metric1=1.5; metric2=2.5;",
            "Metrics - metric1=0.6; iteration_number=0; metric0=0.6;",
        ]
    )
]
ITERATION_MAX = {
    "iteration_number": [0],
    "timestamp": ["Test timestamp 6"],
    "metric0": [0.6],
    "metric1": [1.4],
    "metric2": [2.4],
}

OFFICIAL_CASES: dict[str, tuple[list[dict[str, str]], MetricType, MetricStatistic, Any]] = {
    "nothing": ([], MetricType.TIMESTAMP, MetricStatistic.MAX, {}),
    "malformed": (MALFORMED_EVENTS, MetricType.TIMESTAMP, MetricStatistic.MAX, {}),
    "simple": (SIMPLE_EVENTS, MetricType.TIMESTAMP, MetricStatistic.MAX, SIMPLE_TABLE),
    "multinode": (MULTINODE_EVENTS, MetricType.TIMESTAMP, MetricStatistic.MAX, MULTINODE_TABLE),
    "same-time-max": (SAME_TIME_EVENTS, MetricType.TIMESTAMP, MetricStatistic.MAX, SAME_TIME_MAX),
    "same-time-min": (SAME_TIME_EVENTS, MetricType.TIMESTAMP, MetricStatistic.MIN, SAME_TIME_MIN),
    "iteration": (
        ITERATION_EVENTS,
        MetricType.ITERATION_NUMBER,
        MetricStatistic.MAX,
        ITERATION_MAX,
    ),
}


@pytest.mark.parametrize("case", OFFICIAL_CASES)
def test_official_unit_cases_through_both_parsers(case: str) -> None:
    events, metric_type, statistic, expected = OFFICIAL_CASES[case]
    official = LogMetricsParser()
    ours = MetricsParser()
    for event in events:
        official.parse_log_message(event.get("timestamp"), event.get("message"))  # type: ignore[arg-type]
        ours.add_line(event.get("message"), event.get("timestamp"))

    official_result = official.get_parsed_metrics(
        OfficialType[metric_type.name], OfficialStatistic[statistic.name]
    )
    our_result = ours.get_parsed_metrics(metric_type, statistic)
    assert official_result == expected  # the case still holds for the official parser
    assert our_result == expected
    assert repr(our_result) == repr(official_result)  # also column order and value types
