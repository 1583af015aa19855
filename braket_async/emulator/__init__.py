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

Layout: ``_wire`` (the protocol, from botocore's model), ``_service`` (the operations),
``_server`` (HTTP, limits, faults, counters), ``_runner`` (the seam to what runs jobs),
``_runtime_runner`` (jobs run for real), ``testing`` (moto and fixtures' helpers).
"""

from __future__ import annotations

from ._devices import DEVICES, Device
from ._errors import ApiError
from ._faults import Faults
from ._jobs import JobRecord
from ._limits import DEFAULT_RATES, Rate, RateLimits
from ._runner import FakeRunner, JobControl, JobRunner
from ._runtime_runner import AwsEndpoint, RuntimeJobRunner
from ._server import BraketEmulator
from ._service import BraketService
from ._stats import CallStats

__all__ = [
    "DEFAULT_RATES",
    "DEVICES",
    "ApiError",
    "AwsEndpoint",
    "BraketEmulator",
    "BraketService",
    "CallStats",
    "Device",
    "FakeRunner",
    "Faults",
    "JobControl",
    "JobRecord",
    "JobRunner",
    "Rate",
    "RateLimits",
    "RuntimeJobRunner",
]
