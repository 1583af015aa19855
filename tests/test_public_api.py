"""The public names are pinned: adding or removing one is a decision, not an accident."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_NAMES = {
    "braket_async": [
        "ArchiveError",
        "BillingLimitError",
        "SweepPoint",
        "sweep",
        "JobEvent",
        "RetryEvent",
        "JobGroup",
        "as_completed",
        "gather",
        "hybrid_job",
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
        "LogEvent",
        "LogStream",
        "MetricStatistic",
        "MetricType",
        "QuantumJob",
        "ResultError",
        "RuntimeUnavailableError",
        "ServiceError",
        "ThrottlingError",
        "UnsafeArchiveError",
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
        "RayRuntime",
    ],
    "braket_async.runtimes.ray": [
        "LOG_OUTPUT_LIMIT",
        "DashboardError",
        "DashboardUnreachableError",
        "RayExecution",
        "RayRuntime",
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
    "braket_async.emulator": [
        "ApiError",
        "AwsEndpoint",
        "BraketEmulator",
        "BraketService",
        "CallStats",
        "DEFAULT_RATES",
        "DEVICES",
        "Device",
        "EmulatorSettings",
        "FakeRunner",
        "Faults",
        "JobControl",
        "JobRecord",
        "JobRunner",
        "QuantumTaskRecord",
        "QuantumTasks",
        "Rate",
        "RateLimits",
        "RuntimeJobRunner",
        "SettingsError",
        "SimulatorPool",
    ],
    "braket_async.cli": ["main"],
    "braket_async.emulator.testing": [
        "EmulatorStack",
        "FAKE_CREDENTIALS",
        "clean_aws_environment",
        "emulator_stack",
        "moto_server",
    ],
    "braket_async.errors": [
        "ArchiveError",
        "BillingLimitError",
        "BraketAsyncError",
        "ClosedError",
        "ConfigurationError",
        "ContainerError",
        "JobCancelledError",
        "JobFailedError",
        "JobNotFoundError",
        "JobTimeoutError",
        "ResultError",
        "RuntimeUnavailableError",
        "ServiceError",
        "ThrottlingError",
        "UnsafeArchiveError",
    ],
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


def _public_modules() -> list[str]:
    import pkgutil

    import braket_async

    names = ["braket_async"]
    for info in pkgutil.walk_packages(braket_async.__path__, "braket_async."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def test_every_public_module_is_pinned() -> None:
    # A module users can import without an underscore must say what it offers, and
    # that list must be pinned above.
    assert _public_modules() == sorted(PUBLIC_NAMES)


def test_the_in_job_api_imports_with_the_standard_library_alone() -> None:
    import subprocess
    import sys
    from pathlib import Path

    repository = str(Path(__file__).resolve().parents[1])
    # -S: no site-packages, so none of the package's dependencies can be found.
    code = (
        f"import sys; sys.path.insert(0, {repository!r}); import braket_async.jobs; "
        "import braket_async; assert 'attrs' not in sys.modules, sorted(sys.modules)"
    )
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_importing_the_package_loads_no_aws_or_docker_client() -> None:
    import subprocess
    import sys

    code = (
        "import sys, braket_async; heavy = [m for m in ('aiobotocore', 'aiodocker', 'botocore',"
        " 'aiohttp') if m in sys.modules]; assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
