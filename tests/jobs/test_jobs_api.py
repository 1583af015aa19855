"""The public names of braket_async.jobs: pinned, documented, and shaped like the official ones."""

from __future__ import annotations

import inspect
from typing import Any

import braket.jobs as official_jobs
import braket.jobs.metrics as official_metrics
from braket.jobs_data import PersistedJobDataFormat as OfficialFormat

import braket_async.jobs as our_jobs

FUNCTIONS = [
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


def test_all_is_pinned() -> None:
    assert sorted(our_jobs.__all__) == sorted([*FUNCTIONS, "PersistedJobDataFormat"])
    for name in our_jobs.__all__:
        assert getattr(our_jobs, name).__doc__, name


def official(name: str) -> Any:
    return official_metrics.log_metric if name == "log_metric" else getattr(official_jobs, name)


def test_signatures_match_official() -> None:
    for name in FUNCTIONS:
        ours = inspect.signature(getattr(our_jobs, name)).parameters
        theirs = inspect.signature(official(name)).parameters
        assert [(p.name, p.kind, p.default) for p in ours.values()] == [
            (p.name, p.kind, p.default) for p in theirs.values()
        ], name


def test_default_format_equals_official_default() -> None:
    default = inspect.signature(our_jobs.save_job_checkpoint).parameters["data_format"].default
    assert default is our_jobs.PersistedJobDataFormat.PLAINTEXT
    assert default == OfficialFormat.PLAINTEXT
