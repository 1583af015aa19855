"""log_metric prints the official SDK's line, which the metrics parser reads back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from braket.jobs.metrics import log_metric as official_log_metric

from braket_async.jobs import log_metric
from braket_async.metrics import MetricType, parse_metrics

CASES: list[dict[str, Any]] = [
    {"metric_name": "expval", "value": 0.38894534132396147, "timestamp": 1695043649.822114},
    {"metric_name": "expval", "value": 0.5, "timestamp": 1695043649.8, "iteration_number": 0},
    {"metric_name": "loss", "value": -3, "timestamp": 1700000000, "iteration_number": 12},
    {"metric_name": "cost_2", "value": 1e-12, "timestamp": 1.5e9, "iteration_number": None},
    {"metric_name": "nan_metric", "value": float("nan"), "timestamp": 42.0},
]


@pytest.mark.parametrize("kwargs", CASES)
def test_line_is_byte_equal_to_official(capsys: pytest.CaptureFixture[str], kwargs: Any) -> None:
    official_log_metric(**kwargs)
    official = capsys.readouterr()
    log_metric(**kwargs)
    ours = capsys.readouterr()

    assert ours.out == official.out
    assert ours.out.startswith("Metrics - timestamp=")
    assert ours.err == official.err == ""


def test_exact_line(capsys: pytest.CaptureFixture[str]) -> None:
    log_metric("expval", 0.25, timestamp=1695043649.822114, iteration_number=3)

    assert capsys.readouterr().out == (
        "Metrics - timestamp=1695043649.822114; expval=0.25; iteration_number=3;\n"
    )


def test_timestamp_defaults_to_now(capsys: pytest.CaptureFixture[str]) -> None:
    before = time.time()
    log_metric("energy", 1.0)
    after = time.time()

    table = parse_metrics(capsys.readouterr().out.splitlines())
    assert table["energy"] == [1.0]
    assert before <= table["timestamp"][0] <= after


def test_zero_timestamp_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    # The official SDK replaces a falsy timestamp by the current time; 0 is a valid time.
    log_metric("energy", 1.0, timestamp=0)

    assert capsys.readouterr().out == "Metrics - timestamp=0; energy=1.0;\n"


def test_lines_parse_back(capsys: pytest.CaptureFixture[str]) -> None:
    for i, value in enumerate([3.0, 2.0, 1.5]):
        log_metric("cost", value, timestamp=100.0 + i, iteration_number=i)

    table = parse_metrics(capsys.readouterr().out.splitlines(), MetricType.ITERATION_NUMBER)
    assert table == {
        "timestamp": [100.0, 101.0, 102.0],
        "cost": [3.0, 2.0, 1.5],
        "iteration_number": [0.0, 1.0, 2.0],
    }


@pytest.mark.parametrize("name", ["", "two words", "a=b", "semi;colon", "dash-ed"])
def test_names_that_cannot_parse_back_are_refused(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    with pytest.raises(ValueError, match="metric name"):
        log_metric(name, 1.0)
    assert capsys.readouterr().out == ""
