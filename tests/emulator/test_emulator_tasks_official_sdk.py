"""Fidelity: the official amazon-braket-sdk runs quantum tasks against the emulator
unmodified — ``AwsDevice``, ``AwsQuantumTask``, ``Tracker`` — and gets what the local
simulator gives for the same circuits."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp
import anyio.to_thread
import botocore.exceptions
import numpy as np
import pytest
from support.aws import SV1

from braket_async.emulator import DEVICES
from braket_async.emulator.testing import EmulatorStack

pytestmark = pytest.mark.anyio

T = TypeVar("T")
DM1 = "arn:aws:braket:::device/quantum-simulator/amazon/dm1"
EMU9 = "arn:aws:braket:us-east-1::device/qpu/braket-async/Emu-9"
EMU5 = "arn:aws:braket:us-east-1::device/qpu/braket-async/Emu-5"


@pytest.fixture
def official_sdk(
    task_stack: EmulatorStack, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Callable[[], T]], Any]:
    """Runs a function of the official SDK in a thread; only environment variables point
    it at the emulator. Its waits need an event loop of the thread's own, closed here."""
    for name, value in task_stack.environment().items():
        monkeypatch.setenv(name, value)

    def in_thread(function: Callable[[], T]) -> T:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return function()
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    async def run(function: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(in_thread, function)

    return run


async def test_bell_on_sv1_gives_the_local_simulators_results(
    official_sdk: Any, task_bucket: str
) -> None:
    def run() -> tuple[Any, Any, Any, Any, str]:
        from braket.aws import AwsDevice
        from braket.circuits import Circuit
        from braket.devices import LocalSimulator

        device = AwsDevice(SV1)
        exact = Circuit().h(0).cnot(0, 1).probability()
        sampled = Circuit().h(0).cnot(0, 1)
        task = device.run(exact, (task_bucket, "tasks"), shots=0)
        ours = task.result()
        local = LocalSimulator("braket_sv").run(exact, shots=0).result()
        counts = device.run(sampled, (task_bucket, "tasks"), shots=2000).result()
        local_counts = LocalSimulator("braket_sv").run(sampled, shots=2000).result()
        return ours, local, counts, local_counts, task.id

    ours, local, counts, local_counts, arn = await official_sdk(run)

    np.testing.assert_array_equal(ours.values[0], local.values[0])  # [0.5, 0, 0, 0.5]
    assert ours.task_metadata.id == arn
    assert ours.task_metadata.deviceId == SV1
    assert ours.additional_metadata.simulatorMetadata.executionDuration >= 1
    assert set(counts.measurement_counts) <= {"00", "11"}
    assert sum(counts.measurement_counts.values()) == 2000
    # Both sample 2000 shots of the same distribution: p(00) = 0.5, sigma ~ 0.011 each.
    ours_00 = counts.measurement_probabilities["00"]
    local_00 = local_counts.measurement_probabilities["00"]
    assert abs(ours_00 - local_00) < 0.08
    assert abs(ours_00 - 0.5) < 0.06


async def test_exact_results_of_complex_values_read_back_as_the_local_simulators(
    official_sdk: Any, task_bucket: str
) -> None:
    def run() -> tuple[Any, Any]:
        from braket.aws import AwsDevice
        from braket.circuits import Circuit
        from braket.devices import LocalSimulator

        circuit = Circuit().h(0).rx(1, 0.3).state_vector().amplitude(["01"]).density_matrix([1])
        ours = AwsDevice(SV1).run(circuit, (task_bucket, "tasks"), shots=0).result()
        return ours, LocalSimulator("braket_sv").run(circuit, shots=0).result()

    ours, local = await official_sdk(run)

    state_vector, amplitude, density_matrix = ours.values
    np.testing.assert_array_equal(state_vector, local.values[0])
    assert state_vector.dtype == complex
    assert amplitude == local.values[1]
    # Complex numbers travel as [real, imaginary]; the SDK turns state vectors and
    # amplitudes back into complex numbers, but leaves density matrices as pairs.
    pairs = np.array(density_matrix)
    np.testing.assert_array_equal(pairs[..., 0] + 1j * pairs[..., 1], local.values[2])


async def test_result_types_with_shots_are_computed_from_the_shots(
    official_sdk: Any, task_bucket: str
) -> None:
    def run() -> Any:
        from braket.aws import AwsDevice
        from braket.circuits import Circuit, Observable

        circuit = (
            Circuit()
            .x(0)
            .h(1)
            .expectation(Observable.Z(), target=[0])
            .variance(Observable.X(), target=[1])
            .probability(target=[0])
            .sample(Observable.Z() @ Observable.X(), target=[0, 1])
        )
        return AwsDevice(SV1).run(circuit, (task_bucket, "tasks"), shots=50).result()

    result = await official_sdk(run)

    expectation, variance, probability, sample = result.values
    assert expectation == -1.0  # |1>: every shot says so
    assert variance == 0.0  # |+> in the X basis
    np.testing.assert_array_equal(probability, [0.0, 1.0])
    assert list(sample) == [-1.0] * 50


async def test_dm1_runs_noise_on_the_density_matrix_simulator(
    official_sdk: Any, task_bucket: str
) -> None:
    def run() -> tuple[Any, Any]:
        from braket.aws import AwsDevice
        from braket.circuits import Circuit
        from braket.devices import LocalSimulator

        noisy = Circuit().x(0).bit_flip(0, 0.1).probability()
        ours = AwsDevice(DM1).run(noisy, (task_bucket, "tasks"), shots=0).result()
        return ours, LocalSimulator("braket_dm").run(noisy, shots=0).result()

    ours, local = await official_sdk(run)

    np.testing.assert_allclose(ours.values[0], [0.1, 0.9])
    np.testing.assert_array_equal(ours.values[0], local.values[0])


async def test_a_qpu_like_device(official_sdk: Any, task_bucket: str) -> None:
    def run() -> tuple[Any, ...]:
        from braket.aws import AwsDevice
        from braket.circuits import Circuit

        device = AwsDevice(EMU9)
        task = device.run(Circuit().h(0).cnot(0, 1), (task_bucket, "tasks"), shots=300)
        result = task.result()
        offline = AwsDevice(EMU5)
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            offline.run(Circuit().h(0), (task_bucket, "tasks"), shots=10)
        return device, result, task.state(), offline, refused.value

    device, result, state, offline, refused = await official_sdk(run)

    assert device.type.value == "QPU"
    assert device.is_available
    assert device.properties.paradigm.qubitCount == 9
    assert device.topology_graph.number_of_edges() == 9 * 8  # fully connected
    assert state == "COMPLETED"
    assert set(result.measurement_counts) <= {"00", "11"}
    assert sum(result.measurement_counts.values()) == 300
    assert result.additional_metadata.simulatorMetadata is None  # a QPU's result
    assert not offline.is_available
    assert offline.topology_graph.number_of_edges() == 2 * 4  # a line of five
    assert refused.response["Error"]["Code"] == "DeviceOfflineException"


async def test_queued_tasks_cancel_and_failing_tasks(
    official_sdk: Any, task_stack: EmulatorStack, task_bucket: str
) -> None:
    tasks = task_stack.emulator.service.quantum_tasks

    def queue_and_cancel() -> tuple[Any, ...]:
        from braket.aws import AwsDevice
        from braket.circuits import Circuit

        task = AwsDevice(SV1).run(Circuit().h(0), (task_bucket, "tasks"), shots=10)
        queued = task.state(), task.queue_position()
        task.cancel()
        return task, queued

    def after_cancel(task: Any) -> tuple[Any, ...]:
        return task.state(), task.result()

    def failing() -> tuple[Any, ...]:
        from braket.aws import AwsDevice
        from braket.ir.openqasm import Program

        program = Program(source="OPENQASM 3.0;\nqubit[1] q;\nfoo q[0];")
        task = AwsDevice(SV1).run(program, (task_bucket, "tasks"), shots=10)
        return task.result(), task.state(), task.metadata()["failureReason"]

    tasks.pause()
    task, (state, position) = await official_sdk(queue_and_cancel)
    await tasks.wait_for_task(task.id)
    tasks.resume()
    cancelled_state, cancelled_result = await official_sdk(lambda: after_cancel(task))
    failed_result, failed_state, reason = await official_sdk(failing)

    assert state == "QUEUED"
    assert position.queue_position == "1"
    assert position.queue_type.value == "Normal"
    assert cancelled_state == "CANCELLED"
    assert cancelled_result is None
    assert failed_result is None
    assert failed_state == "FAILED"
    assert "foo" in reason


async def test_tracker_prices_tasks_with_the_emulators_price_list(
    official_sdk: Any, task_bucket: str
) -> None:
    def run() -> tuple[Any, ...]:
        from braket.aws import AwsDevice
        from braket.circuits import Circuit
        from braket.tracking import Tracker

        with Tracker() as tracker:
            AwsDevice(SV1).run(Circuit().h(0), (task_bucket, "tasks"), shots=100).result()
            AwsDevice(EMU9).run(Circuit().h(0), (task_bucket, "tasks"), shots=100).result()
        return (
            tracker.simulator_tasks_cost(),
            tracker.qpu_tasks_cost(),
            tracker.quantum_tasks_statistics(),
        )

    simulator_cost, qpu_cost, statistics = await official_sdk(run)

    # SV1: the minimum billed 3 s at the emulator's 0.1 per minute; Emu-9: 0.5 per task
    # and 0.01 per shot. The emulator's own test prices, not AWS's.
    assert simulator_cost == Decimal("0.005")
    assert qpu_cost == Decimal("1.5")
    assert statistics[SV1]["tasks"] == {"COMPLETED": 1}
    assert statistics[EMU9]["shots"] == 100


async def test_the_price_list_document(task_stack: EmulatorStack) -> None:
    url = task_stack.environment()["BRAKET_PRICE_OFFERS_URL"]
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        assert response.content_type == "text/csv"
        text = await response.text()
    assert url.endswith("/offers/v1.0/aws/AmazonBraket/current/index.csv")
    lines = text.splitlines()
    metadata = dict(next(csv.reader([line])) for line in lines[:5])
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[5:]))))
    assert metadata["FormatVersion"] == "v1.0"
    assert metadata["OfferCode"] == "AmazonBraket"
    assert "TEST PRICES" in metadata["Disclaimer"]
    assert all("test price" in row["PriceDescription"] for row in rows)
    assert {row["Product Family"] for row in rows} == {
        "Simulator Task",
        "Braket Managed Jobs Simulator Task",
        "Quantum Task",
        "Quantum Task-Shot",
        "Braket Managed Jobs QPU Task",
        "Braket Managed Jobs QPU Task Shot",
        "Braket Managed Jobs Instance",
    }
    instances = [row for row in rows if row["Product Family"] == "Braket Managed Jobs Instance"]
    assert "ml.m5.large" in {row["Instance Type"] for row in instances}
    assert {row["Unit"] for row in instances} == {"minutes"}


async def test_every_device_parses_and_offers_only_what_its_simulator_runs(
    official_sdk: Any,
) -> None:
    def run() -> dict[str, tuple[set[str], set[str]]]:
        from braket.aws import AwsDevice
        from braket.devices import LocalSimulator

        found = {}
        for device in DEVICES:  # warnings are errors here: each document parses cleanly
            properties = AwsDevice(device.arn).properties
            offered = properties.action["braket.ir.openqasm.program"].supportedOperations
            local = LocalSimulator(device.simulator).properties
            runs = local.action["braket.ir.openqasm.program"].supportedOperations
            found[device.name] = (set(offered), set(runs))
        return found

    for name, (offered, runs) in (await official_sdk(run)).items():
        assert offered <= runs, name
