"""The public names are pinned: adding or removing one is a decision, not an accident."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_NAMES = {
    "braket_async": [
        "AwsQuantumJob",
        "AwsSession",
        "BraketAsyncError",
        "CheckpointConfig",
        "ClosedError",
        "ConfigurationError",
        "ContainerError",
        "JobCancelledError",
        "JobFailedError",
        "JobNotFoundError",
        "JobState",
        "JobTimeoutError",
        "LocalQuantumJob",
        "MetricStatistic",
        "MetricType",
        "ResultError",
        "RuntimeUnavailableError",
        "ServiceError",
        "ThrottlingError",
    ],
    "braket_async.jobs": [
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
    ],
    "braket_async.runtimes": [
        "CollectedOutputs",
        "DockerRuntime",
        "Execution",
        "JobRuntime",
        "JobSpec",
        "ProcessExecution",
        "ProcessRuntime",
    ],
    "braket_async.metrics": ["MetricStatistic", "MetricType", "MetricsParser", "parse_metrics"],
    "braket_async.config": [
        "CheckpointConfig",
        "InstanceConfig",
        "OutputDataConfig",
        "S3DataSourceConfig",
        "StoppingCondition",
    ],
    "braket_async.aws": [
        "JobCreation",
        "LogEvent",
        "RemoteLogStream",
        "AwsQuantumJob",
        "AwsSession",
        "CheckpointConfig",
        "Clock",
        "InstanceConfig",
        "OperationRate",
        "OutputDataConfig",
        "QueuePosition",
        "RetryPolicy",
        "S3DataSourceConfig",
        "StoppingCondition",
    ],
    "braket_async.local": ["JobCreation", "LocalQuantumJob"],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_NAMES))
def test_all_is_pinned_and_importable(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PUBLIC_NAMES[module_name])
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("module_name", sorted(PUBLIC_NAMES))
def test_public_callables_have_docstrings(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in module.__all__:
        item = getattr(module, name)
        assert (item.__doc__ or "").strip(), f"{module_name}.{name} has no docstring"
        for attribute, member in vars(item).items() if isinstance(item, type) else ():
            if not attribute.startswith("_") and callable(member):
                assert (member.__doc__ or "").strip(), f"{name}.{attribute} has no docstring"
