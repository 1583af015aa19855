"""Stand-in for ``braket.jobs_data`` (of ``amazon-braket-schemas``): the format enum only.

Scripts pass ``PersistedJobDataFormat`` members to ``save_job_result`` and
``save_job_checkpoint``; the official ``PersistedJobData`` model (pydantic) has no
stand-in.
"""

from braket_async.jobs import PersistedJobDataFormat

__all__ = [PersistedJobDataFormat.__name__]
