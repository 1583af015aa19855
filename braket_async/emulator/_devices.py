"""The devices the emulator knows: Braket's on-demand simulators, always online."""

from __future__ import annotations

import json
from typing import Any

import attrs

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
        capabilities = {
            "braketSchemaHeader": {
                "name": "braket.device_schema.simulators.gate_model_simulator_device_capabilities",
                "version": "1",
            },
            "service": {
                "executionWindows": [
                    {
                        "executionDay": "Everyday",
                        "windowStartHour": "00:00",
                        "windowEndHour": "23:59:59",
                    }
                ],
                "shotsRange": [0, 100000],
            },
            "action": {
                "braket.ir.openqasm.program": {
                    "actionType": "braket.ir.openqasm.program",
                    "version": ["1"],
                }
            },
            "paradigm": {"qubitCount": self.qubits},
            "deviceParameters": {},
        }
        return {
            **self.summary(),
            "deviceCapabilities": json.dumps(capabilities),
            "deviceQueueInfo": [
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": "0", "queuePriority": "Normal"},
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": "0", "queuePriority": "Priority"},
                {"queue": "JOBS_QUEUE", "queueSize": "0"},
            ],
        }


#: Braket's managed simulators, which jobs may name as their device.
DEVICES: tuple[Device, ...] = (
    Device("arn:aws:braket:::device/quantum-simulator/amazon/sv1", "SV1", "Amazon Braket"),
    Device(
        "arn:aws:braket:::device/quantum-simulator/amazon/tn1", "TN1", "Amazon Braket", qubits=50
    ),
    Device(
        "arn:aws:braket:::device/quantum-simulator/amazon/dm1", "dm1", "Amazon Braket", qubits=17
    ),
)
