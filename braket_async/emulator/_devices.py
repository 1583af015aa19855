"""The devices the emulator knows: Braket's on-demand simulators, always online, and
QPU-like devices of its own, whose quantum tasks it runs on the local simulator too."""

from __future__ import annotations

import json
from typing import Any

import attrs

from ._capabilities import capabilities_document

__all__ = ["DEVICES", "Device"]


@attrs.frozen
class Device:
    """One device, as GetDevice and SearchDevices describe it."""

    arn: str
    name: str
    provider: str
    type: str = "SIMULATOR"
    status: str = "ONLINE"
    qubits: int = 34
    #: The local simulator that runs its quantum tasks: ``braket_sv`` (state vector) or
    #: ``braket_dm`` (density matrix).
    simulator: str = "braket_sv"
    #: The shots a quantum task may ask for, both ends included.
    shots_range: tuple[int, int] = (0, 100_000)
    #: A QPU-like device's couplings; ``None``: every qubit with every other.
    connectivity: tuple[tuple[int, int], ...] | None = None

    def summary(self) -> dict[str, Any]:
        """The ``DeviceSummary`` shape."""
        return {
            "deviceArn": self.arn,
            "deviceName": self.name,
            "providerName": self.provider,
            "deviceType": self.type,
            "deviceStatus": self.status,
        }

    def describe(self) -> dict[str, Any]:
        """The ``GetDeviceResponse`` shape; capabilities are a JSON document in a string."""
        capabilities = capabilities_document(self)
        return {
            **self.summary(),
            "deviceCapabilities": json.dumps(capabilities),
            "deviceQueueInfo": [
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": "0", "queuePriority": "Normal"},
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": "0", "queuePriority": "Priority"},
                {"queue": "JOBS_QUEUE", "queueSize": "0"},
            ],
        }


#: Braket's managed simulators, which jobs may name as their device, and the emulator's
#: own QPU-like devices (one of them offline).
DEVICES: tuple[Device, ...] = (
    Device("arn:aws:braket:::device/quantum-simulator/amazon/sv1", "SV1", "Amazon Braket"),
    Device(
        "arn:aws:braket:::device/quantum-simulator/amazon/tn1",
        "TN1",
        "Amazon Braket",
        qubits=50,
        shots_range=(1, 1000),
    ),
    Device(
        "arn:aws:braket:::device/quantum-simulator/amazon/dm1",
        "dm1",
        "Amazon Braket",
        qubits=17,
        simulator="braket_dm",
    ),
    Device(
        "arn:aws:braket:us-east-1::device/qpu/braket-async/Emu-9",
        "Emu-9",
        "braket-async emulator",
        type="QPU",
        qubits=9,
        shots_range=(1, 10_000),
    ),
    Device(
        "arn:aws:braket:us-east-1::device/qpu/braket-async/Emu-5",
        "Emu-5",
        "braket-async emulator",
        type="QPU",
        status="OFFLINE",
        qubits=5,
        shots_range=(1, 10_000),
        connectivity=((0, 1), (1, 2), (2, 3), (3, 4)),
    ),
)
