"""Metrics, written as ``Metrics - ...`` lines on standard output.

The job's output goes to the local runtime or to CloudWatch Logs, where the job handles
find these lines and parse them with :mod:`braket_async.metrics`.
"""

from __future__ import annotations

import re
import time

__all__ = ["log_metric"]

_METRIC_NAME = re.compile(r"\w+")


def log_metric(
    metric_name: str,
    value: float,
    timestamp: float | None = None,
    iteration_number: int | None = None,
) -> None:
    """Record one value of a metric of the running job.

    Prints ``Metrics - timestamp=<t>; <metric_name>=<value>;`` followed by
    `` iteration_number=<n>;`` when ``iteration_number`` is given.

    Args:
        metric_name: Letters, digits and underscores only, so that the line parses back.
        value: The value; anything that ``float()`` accepts in text form.
        timestamp: Seconds since the epoch; default now.
        iteration_number: The iteration the value belongs to.

    Raises:
        ValueError: ``metric_name`` has other characters than letters, digits and
            underscores.
    """
    if not _METRIC_NAME.fullmatch(metric_name):
        raise ValueError(f"metric name {metric_name!r} must be letters, digits and underscores")
    if timestamp is None:
        timestamp = time.time()
    line = f"Metrics - timestamp={timestamp}; {metric_name}={value};"
    if iteration_number is not None:
        line += f" iteration_number={iteration_number};"
    # Flushed because job output is a pipe: buffered lines would reach the log (and the
    # metrics) late, or never if the job is killed.
    print(line, flush=True)
