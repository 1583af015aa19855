"""The ``deviceCapabilities`` documents GetDevice answers, in the schemas of
``amazon-braket-schemas`` (what the official SDK's ``AwsDevice`` parses).

They describe what the emulator runs: OpenQASM programs, with the gates, noise channels
and result types of the local simulator that runs each device's quantum tasks
(``amazon-braket-default-simulator``), so a client that reads the capabilities (the
official SDK, PennyLane's Braket plugin) sends only what will run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._devices import Device

__all__ = ["OPENQASM_PROGRAM", "capabilities_document", "supported_operations"]

#: The one action the emulator runs.
OPENQASM_PROGRAM = "braket.ir.openqasm.program"

_GATES = [
    "ccnot",
    "cnot",
    "cphaseshift",
    "cphaseshift00",
    "cphaseshift01",
    "cphaseshift10",
    "cswap",
    "cv",
    "cy",
    "cz",
    "ecr",
    "gpi",
    "gpi2",
    "h",
    "i",
    "iswap",
    "ms",
    "phaseshift",
    "prx",
    "pswap",
    "rx",
    "ry",
    "rz",
    "s",
    "si",
    "swap",
    "t",
    "ti",
    "unitary",
    "v",
    "vi",
    "x",
    "xx",
    "xy",
    "y",
    "yy",
    "z",
    "zz",
]
_NOISE = [
    "amplitude_damping",
    "bit_flip",
    "depolarizing",
    "generalized_amplitude_damping",
    "kraus",
    "pauli_channel",
    "phase_damping",
    "phase_flip",
    "two_qubit_dephasing",
    "two_qubit_depolarizing",
]
_QPU_GATES = [
    "cnot",
    "cz",
    "h",
    "i",
    "phaseshift",
    "prx",
    "rx",
    "ry",
    "rz",
    "s",
    "si",
    "swap",
    "t",
    "ti",
    "x",
    "y",
    "z",
]
_RESULT_PRAGMAS = [
    "state_vector",
    "density_matrix",
    "sample",
    "expectation",
    "variance",
    "probability",
    "amplitude",
]
_OBSERVABLES = ["x", "y", "z", "h", "i", "hermitian"]


def supported_operations(device: Device) -> list[str]:
    """The OpenQASM operations ``device`` runs."""
    if device.type == "QPU":
        return list(_QPU_GATES)
    if device.simulator == "braket_dm":
        return [*_GATES, *_NOISE]
    return list(_GATES)


def _result_types(device: Device) -> list[dict[str, Any]]:
    low, high = device.shots_range
    sampled: list[dict[str, Any]] = [
        {"name": "Sample", "observables": _OBSERVABLES, "minShots": max(low, 1), "maxShots": high},
        {"name": "Expectation", "observables": _OBSERVABLES, "minShots": low, "maxShots": high},
        {"name": "Variance", "observables": _OBSERVABLES, "minShots": low, "maxShots": high},
        {"name": "Probability", "minShots": low, "maxShots": high},
    ]
    if low > 0:  # no exact results without shots=0
        return sampled
    exact = (
        ["DensityMatrix"]
        if device.simulator == "braket_dm"
        else ["StateVector", "DensityMatrix", "Amplitude"]
    )
    return [*sampled, *({"name": name, "minShots": 0, "maxShots": 0} for name in exact)]


def _openqasm_action(device: Device) -> dict[str, Any]:
    pragmas = [f"braket_result_type_{name}" for name in _RESULT_PRAGMAS]
    noise_pragmas = [f"braket_noise_{name}" for name in _NOISE]
    simulator = device.type == "SIMULATOR"
    return {
        "actionType": OPENQASM_PROGRAM,
        "version": ["1"],
        "supportedOperations": supported_operations(device),
        "supportedModifiers": (
            [
                {"name": "ctrl"},
                {"name": "negctrl"},
                {"name": "pow", "exponent_types": ["int", "float"]},
                {"name": "inv"},
            ]
            if simulator
            else []
        ),
        "supportedPragmas": (
            ["braket_unitary_matrix", *pragmas]
            + (noise_pragmas if device.simulator == "braket_dm" else [])
            if simulator
            else ["verbatim"]
        ),
        "forbiddenPragmas": (
            ["braket_result_type_adjoint_gradient"]
            + (noise_pragmas if device.simulator != "braket_dm" else [])
        ),
        "forbiddenArrayOperations": [],
        "requiresAllQubitsMeasurement": False,
        "supportPhysicalQubits": not simulator,
        "requiresContiguousQubitIndices": False,
        "supportsPartialVerbatimBox": False,
        "supportsUnassignedMeasurements": True,
        "disabledQubitRewiringSupported": not simulator,
        "supportedResultTypes": _result_types(device),
    }


def _service(device: Device) -> dict[str, Any]:
    return {
        "braketSchemaHeader": {
            "name": "braket.device_schema.device_service_properties",
            "version": "1",
        },
        "executionWindows": [
            {"executionDay": "Everyday", "windowStartHour": "00:00", "windowEndHour": "23:59:59"}
        ],
        "shotsRange": list(device.shots_range),
        "deviceDocumentation": {
            "summary": f"{device.name}: an emulated device of braket-async's emulator; its "
            "quantum tasks run on amazon-braket-default-simulator on the emulator's host."
        },
        "deviceLocation": "braket-async emulator",
        # Clients poll at this interval by default; the emulator answers fast.
        "getTaskPollIntervalMillis": 100,
    }


def _gate_model_parameters_schema(name: str) -> dict[str, Any]:
    """A short JSON schema of the device parameters (the service gives the full one)."""
    return {
        "title": name,
        "type": "object",
        "properties": {"paradigmParameters": {"$ref": "#/definitions/GateModelParameters"}},
        "required": ["paradigmParameters"],
        "definitions": {
            "GateModelParameters": {
                "type": "object",
                "properties": {
                    "qubitCount": {"type": "integer", "minimum": 0},
                    "disableQubitRewiring": {"type": "boolean", "default": False},
                },
                "required": ["qubitCount"],
            }
        },
    }


def _connectivity(edges: Sequence[tuple[int, int]] | None) -> dict[str, Any]:
    if edges is None:
        return {"fullyConnected": True, "connectivityGraph": {}}
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(str(a), []).append(str(b))
        graph.setdefault(str(b), []).append(str(a))
    return {"fullyConnected": False, "connectivityGraph": graph}


def capabilities_document(device: Device) -> dict[str, Any]:
    """The capabilities of ``device``: a simulator's, or a QPU-like device's in the IQM
    device schema (the generic gate-model QPU shape: paradigm, optional provider)."""
    action = {OPENQASM_PROGRAM: _openqasm_action(device)}
    if device.type == "QPU":
        return {
            "braketSchemaHeader": {
                "name": "braket.device_schema.iqm.iqm_device_capabilities",
                "version": "1",
            },
            "service": _service(device),
            "action": action,
            "paradigm": {
                "braketSchemaHeader": {
                    "name": "braket.device_schema.gate_model_qpu_paradigm_properties",
                    "version": "1",
                },
                "qubitCount": device.qubits,
                "nativeGateSet": ["cz", "prx"],
                "connectivity": _connectivity(device.connectivity),
            },
            "deviceParameters": _gate_model_parameters_schema("IqmDeviceParameters"),
        }
    return {
        "braketSchemaHeader": {
            "name": "braket.device_schema.simulators.gate_model_simulator_device_capabilities",
            "version": "1",
        },
        "service": _service(device),
        "action": action,
        "paradigm": {
            "braketSchemaHeader": {
                "name": "braket.device_schema.simulators.gate_model_simulator_paradigm_properties",
                "version": "1",
            },
            "qubitCount": device.qubits,
        },
        "deviceParameters": _gate_model_parameters_schema("GateModelSimulatorDeviceParameters"),
    }
