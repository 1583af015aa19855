"""Stand-in for ``braket.jobs.data_persistence``: checkpoints and results of
:mod:`braket_async.jobs`."""

from braket_async.jobs import _persistence as _source
from braket_async.jobs._persistence import *  # noqa: F403

__all__ = list(_source.__all__)
