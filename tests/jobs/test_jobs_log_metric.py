"""log_metric prints the official SDK's line, which the metrics parsers read back alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from braket.jobs.metrics import log_metric as official_log_metric
from braket.jobs.metrics_data.definitions import MetricStatistic as OfficialStatistic
from braket.jobs.metrics_data.definitions import MetricType as OfficialType
from braket.jobs.metrics_data.log_metrics_parser import LogMetricsParser

from braket_async.jobs import log_metric
from braket_async.metrics import MetricStatistic, MetricType, parse_metrics

LogMetric = Callable[..., None]
SIDES: list[tuple[str, LogMetric]] = [("ours", log_metric), ("official", official_log_metric)]

# Names the official SDK prints as given, whether or not they parse back as themselves.
NAMES = [
    "expval",
    "cost_2",
    "train-loss",
    "loss value",
    "validation accuracy (%)",
    "énergie",
    "a=b",
    "semi;colon",
    "x; energy",
    "timestamp",
    "iteration_number",
    " padded ",
    "",
    "Metrics - nested",
]

CASES: list[dict[str, Any]] = [
    {"metric_name": "expval", "value": 0.38894534132396147, "timestamp": 1695043649.822114},
    {"metric_name": "expval", "value": 0.5, "timestamp": 1695043649.8, "iteration_number": 0},
    {"metric_name": "loss", "value": -3, "timestamp": 1700000000, "iteration_number": 12},
    {"metric_name": "cost_2", "value": 1e-12, "timestamp": 1.5e9, "iteration_number": None},
    {"metric_name": "nan_metric", "value": float("nan"), "timestamp": 42.0},
    *({"metric_name": name, "value": 0.25, "timestamp": 7.5} for name in NAMES),
    *(
        {"metric_name": "step", "value": 1, "timestamp": 3.0, "iteration_number": number}
        for number in (0, -1, 2, 1.0, True, False, 10**20)
    ),
]


def printed(capsys: pytest.CaptureFixture[str], function: LogMetric, **kwargs: Any) -> str:
    function(**kwargs)
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


@pytest.mark.parametrize("kwargs", CASES, ids=repr)
def test_line_is_byte_equal_to_official(capsys: pytest.CaptureFixture[str], kwargs: Any) -> None:
    official = printed(capsys, official_log_metric, **kwargs)
    ours = printed(capsys, log_metric, **kwargs)

    assert ours == official
    assert ours.startswith("Metrics - timestamp=")
    assert ours.count("\n") == 1


def test_exact_line(capsys: pytest.CaptureFixture[str]) -> None:
    log_metric("expval", 0.25, timestamp=1695043649.822114, iteration_number=3)

    assert capsys.readouterr().out == (
        "Metrics - timestamp=1695043649.822114; expval=0.25; iteration_number=3;\n"
    )


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> float:
    # Both SDKs call time.time() through the time module, so both see this clock.
    now = 1712345678.25
    monkeypatch.setattr(time, "time", lambda: now)
    return now


@pytest.mark.parametrize("timestamp", [None, 0, 0.0, False, ""])
@pytest.mark.parametrize(("side", "function"), SIDES, ids=[name for name, _ in SIDES])
def test_false_timestamp_means_now(
    capsys: pytest.CaptureFixture[str],
    frozen_time: float,
    side: str,
    function: LogMetric,
    timestamp: Any,
) -> None:
    out = printed(capsys, function, metric_name="energy", value=1.0, timestamp=timestamp)

    assert out == f"Metrics - timestamp={frozen_time}; energy=1.0;\n"


@pytest.mark.parametrize(
    ("value", "timestamp", "iteration", "line"),
    [
        # The official SDK's own unit-test cases for log_metric, with "TestName" as the name.
        (0.1, 1, 2, "Metrics - timestamp=1; TestName=0.1; iteration_number=2;"),
        (3.14e-22, 1, 2, "Metrics - timestamp=1; TestName=3.14e-22; iteration_number=2;"),
        (5, 1, None, "Metrics - timestamp=1; TestName=5;"),
        (5, 1, 0, "Metrics - timestamp=1; TestName=5; iteration_number=0;"),
        (-3.14, None, 2, "Metrics - timestamp=now; TestName=-3.14; iteration_number=2;"),
    ],
)
@pytest.mark.parametrize(("side", "function"), SIDES, ids=[name for name, _ in SIDES])
def test_official_unit_cases(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    side: str,
    function: LogMetric,
    value: float,
    timestamp: float | None,
    iteration: int | None,
    line: str,
) -> None:
    monkeypatch.setattr(time, "time", lambda: "now")
    out = printed(
        capsys,
        function,
        metric_name="TestName",
        value=value,
        timestamp=timestamp,
        iteration_number=iteration,
    )

    assert out == line + "\n"


def test_timestamp_defaults_to_now(capsys: pytest.CaptureFixture[str]) -> None:
    before = time.time()
    log_metric("energy", 1.0)
    after = time.time()

    table = parse_metrics(capsys.readouterr().out.splitlines())
    assert table["energy"] == [1.0]
    assert before <= table["timestamp"][0] <= after


def test_lines_parse_back(capsys: pytest.CaptureFixture[str]) -> None:
    for i, value in enumerate([3.0, 2.0, 1.5]):
        log_metric("cost", value, timestamp=100.0 + i, iteration_number=i)

    table = parse_metrics(capsys.readouterr().out.splitlines(), MetricType.ITERATION_NUMBER)
    assert table == {
        "timestamp": [100.0, 101.0, 102.0],
        "cost": [3.0, 2.0, 1.5],
        "iteration_number": [0.0, 1.0, 2.0],
    }


def official_table(lines: list[str], metric_type: MetricType) -> dict[str, list[Any]]:
    # What the official local job keeps of its output: the lines starting "Metrics -".
    parser = LogMetricsParser()
    for line in lines:
        if line.startswith("Metrics -"):
            parser.parse_log_message("", line)
    return parser.get_parsed_metrics(OfficialType[metric_type.name], OfficialStatistic.MAX)


@pytest.mark.parametrize("metric_type", list(MetricType))
@pytest.mark.parametrize("name", NAMES)
def test_any_name_parses_back_as_the_official_parser_reads_it(
    capsys: pytest.CaptureFixture[str], name: str, metric_type: MetricType
) -> None:
    for i in range(3):
        log_metric(name, 0.5 + i, timestamp=10.0 + i, iteration_number=i)
        official_log_metric(name, 1.5 - i, timestamp=10.0 + i, iteration_number=i)
    lines = capsys.readouterr().out.splitlines()

    ours = parse_metrics(lines, metric_type, MetricStatistic.MAX)
    assert repr(ours) == repr(official_table(lines, metric_type))
    assert ours[metric_type.value]  # the lines did parse


@pytest.mark.parametrize(
    ("name", "column"),
    [("train-loss", "loss"), ("loss value", "value"), ("validation accuracy (%)", None)],
)
def test_names_with_other_characters_read_back_shortened(
    capsys: pytest.CaptureFixture[str], name: str, column: str | None
) -> None:
    log_metric(name, 0.5, timestamp=1.0)

    table = parse_metrics(capsys.readouterr().out.splitlines())
    expected: dict[str, list[float]] = {"timestamp": [1.0]}
    if column is not None:
        expected[column] = [0.5]
    assert table == expected
