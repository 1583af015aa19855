"""A local Amazon Braket service for tests and benchmarks.

It speaks the Braket REST-JSON API as botocore's service model describes it, so an
unmodified boto3, aiobotocore or ``amazon-braket-sdk`` client works against it, and runs
each job for real with braket_async's runtimes, using S3 and CloudWatch Logs of a moto
server::

    aws = AwsEndpoint(endpoint_url="http://127.0.0.1:5000")   # a moto server
    async with BraketEmulator(runner=RuntimeJobRunner(aws)) as emulator:
        client = session.create_client("braket", endpoint_url=emulator.endpoint_url)
        ...                                    # CreateJob, GetJob, SearchJobs, ...
        await emulator.service.wait_for_job(arn)
        emulator.stats.snapshot()              # calls per operation

``FakeRunner()`` runs no job code (fast tests of API clients);
:mod:`braket_async.emulator.testing` starts moto and the emulator together, and
``braket-async emulator`` runs both from the command line.

Quantum tasks (CreateQuantumTask, ...) run their OpenQASM programs on the official local
simulator in worker processes and write their results to S3, and the emulator serves a
price list of test prices for the official SDK's ``Tracker``::

    emulator.service.quantum_tasks.wait_for_task(arn)   # in-process, like jobs

Layout: ``_wire`` (the protocol, from botocore's model), ``_service`` (the operations;
``_search`` its filters and pages), ``_quantum_tasks`` (the quantum task operations and
their queue; ``_tasks`` a task's record, ``_simulator_pool`` and ``_simulation`` the
worker processes and what runs in them, ``_task_results`` the S3 side), ``_devices``
and ``_capabilities`` (the devices and what they run), ``_prices`` (the price list),
``_server`` (HTTP, limits, faults, counters, the
admin endpoint), ``_settings`` (what the admin endpoint changes live), ``_runner`` (the
seam to what runs jobs), ``_runtime_runner`` (jobs run for real; ``_endpoint`` where
they find AWS, ``_images`` a Docker job's image, ``_slots`` the bound on running jobs),
``_account`` (the jobs role and default bucket), ``_cli`` / ``_serve`` / ``_admin_cli``
(the command line: options, serving, ``show`` and ``set``), ``testing`` (moto and
fixtures' helpers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:
    from ._devices import DEVICES, Device
    from ._endpoint import AwsEndpoint
    from ._errors import ApiError
    from ._faults import Faults
    from ._jobs import JobRecord
    from ._limits import DEFAULT_RATES, Rate, RateLimits
    from ._quantum_tasks import QuantumTasks
    from ._runner import FakeRunner, JobControl, JobRunner
    from ._runtime_runner import RuntimeJobRunner
    from ._server import BraketEmulator
    from ._service import BraketService
    from ._settings import EmulatorSettings, SettingsError
    from ._simulator_pool import SimulatorPool
    from ._stats import CallStats
    from ._tasks import QuantumTaskRecord

# Each name is imported from its module on first use, so that the command line's
# ``show`` and ``set`` (which need none of them) start without loading aiohttp,
# aiobotocore and botocore's model.
_MODULES = {
    "DEFAULT_RATES": "._limits",
    "DEVICES": "._devices",
    "ApiError": "._errors",
    "AwsEndpoint": "._endpoint",
    "BraketEmulator": "._server",
    "BraketService": "._service",
    "CallStats": "._stats",
    "Device": "._devices",
    "EmulatorSettings": "._settings",
    "FakeRunner": "._runner",
    "Faults": "._faults",
    "JobControl": "._runner",
    "JobRecord": "._jobs",
    "JobRunner": "._runner",
    "QuantumTaskRecord": "._tasks",
    "QuantumTasks": "._quantum_tasks",
    "Rate": "._limits",
    "RateLimits": "._limits",
    "RuntimeJobRunner": "._runtime_runner",
    "SettingsError": "._settings",
    "SimulatorPool": "._simulator_pool",
}

__all__ = [
    "DEFAULT_RATES",
    "DEVICES",
    "ApiError",
    "AwsEndpoint",
    "BraketEmulator",
    "BraketService",
    "CallStats",
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
]


__getattr__, __dir__ = lazy_names(globals(), _MODULES, __all__)
