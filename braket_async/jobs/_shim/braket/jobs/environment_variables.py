"""Stand-in for ``braket.jobs.environment_variables``: the job's environment, as
:mod:`braket_async.jobs` reads it."""

from braket_async.jobs import _environment as _source
from braket_async.jobs._environment import *  # noqa: F403

__all__ = list(_source.__all__)
