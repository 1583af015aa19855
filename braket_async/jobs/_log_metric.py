"""Metrics, written as ``Metrics - ...`` lines on standard output.

The job's output goes to the local runtime or to CloudWatch Logs, where the job handles
find these lines and parse them with :mod:`braket_async.metrics`.
"""

from __future__ import annotations

import time

__all__ = ["log_metric"]


def log_metric(
    metric_name: str,
    value: float,
    timestamp: float | None = None,
    iteration_number: int | None = None,
) -> None:
    """Record one value of a metric of the running job.

    Prints the official SDK's line, ``Metrics - timestamp=<t>; <metric_name>=<value>;``
    followed by `` iteration_number=<n>;`` when ``iteration_number`` is not ``None``; each
    value is formatted with ``str()``.

    Args:
        metric_name: Any name is printed as given. The parsers (ours and the official one)
            read a name as the letters, digits and underscores just before the ``=``, so a
            name with other characters comes back shortened: ``"train-loss"`` as ``loss``,
            ``"loss value"`` as ``value``.
        value: The value; anything that ``float()`` accepts in text form.
        timestamp: Seconds since the epoch. ``None``, ``0`` and any other false value
            mean now, as in the official SDK.
        iteration_number: The iteration the value belongs to; ``0`` is printed.
    """
    logged_timestamp = timestamp or time.time()
    line = f"Metrics - timestamp={logged_timestamp}; {metric_name}={value};"
    if iteration_number is not None:
        line += f" iteration_number={iteration_number};"
    # Flushed because job output is a pipe: buffered lines would reach the log (and the
    # metrics) late, or never if the job is killed.
    print(line, flush=True)
