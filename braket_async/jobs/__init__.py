"""The API a job's own code uses inside the job container.

It mirrors the official ``braket.jobs`` helpers (same names, arguments and files), so a
script written for either SDK runs with both. Standard library only: this package is
copied into job containers on its own, next to an empty ``braket_async/__init__.py``.
"""

from __future__ import annotations

from ._environment import (
    get_checkpoint_dir,
    get_hyperparameters,
    get_input_data_dir,
    get_job_device_arn,
    get_job_name,
    get_results_dir,
)
from ._log_metric import log_metric
from ._persistence import (
    load_job_checkpoint,
    load_job_result,
    save_job_checkpoint,
    save_job_result,
)
from ._serialization import PersistedJobDataFormat

__all__ = [
    "PersistedJobDataFormat",
    "get_checkpoint_dir",
    "get_hyperparameters",
    "get_input_data_dir",
    "get_job_device_arn",
    "get_job_name",
    "get_results_dir",
    "load_job_checkpoint",
    "load_job_result",
    "log_metric",
    "save_job_checkpoint",
    "save_job_result",
]
