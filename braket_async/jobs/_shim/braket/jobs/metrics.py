"""Stand-in for ``braket.jobs.metrics``: the metrics helpers of :mod:`braket_async.jobs`."""

from braket_async.jobs import _log_metric as _source
from braket_async.jobs._log_metric import *  # noqa: F403

__all__ = list(_source.__all__)
