"""Inside a simulator worker process: one quantum task's program, run with the official
local simulator (``amazon-braket-default-simulator``), to the result document the
service writes to S3.

``python -m braket_async.emulator._simulation`` is a worker of :mod:`._simulator_pool`:
it reads requests as JSON lines on stdin and answers each on stdout. Only the workers
import this module (and with it the simulator, NumPy and the Braket schemas).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from typing import IO, Any

import attrs
import numpy as np
from braket.default_simulator import (  # type: ignore[import-untyped]
    DensityMatrixSimulator,
    StateVectorSimulator,
)
from braket.ir.openqasm import Program  # type: ignore[import-untyped]
from braket.task_result import (  # type: ignore[import-untyped]
    GateModelTaskResult,
    SimulatorMetadata,
)

from ._jobs import iso_millis, utc_now
from ._simulator_pool import READY, SimulationOutcome, SimulationRequest

__all__ = ["MAX_SIMULATED_QUBITS", "serve", "simulate"]

#: The most qubits each local simulator is given here: a state vector of 22 qubits and a
#: density matrix of 11 take 64 MiB each, which a shared host can afford per worker.
MAX_SIMULATED_QUBITS = {"braket_sv": 22, "braket_dm": 11}

_SIMULATORS: dict[str, type[StateVectorSimulator] | type[DensityMatrixSimulator]] = {
    "braket_sv": StateVectorSimulator,
    "braket_dm": DensityMatrixSimulator,
}


class _TooManyQubits(ValueError):
    pass


@functools.cache
def _bounded(simulator: str, device_qubits: int) -> Any:
    """The simulator ``simulator``, refusing programs of more qubits than the device has
    or than the emulator simulates (checked before any memory is taken)."""
    base = _SIMULATORS[simulator]
    cap = MAX_SIMULATED_QUBITS[simulator]

    class Bounded(base):  # type: ignore[valid-type,misc]
        def initialize_simulation(self, **kwargs: Any) -> Any:
            qubits = int(kwargs.get("qubit_count") or 0)
            if qubits > device_qubits:
                raise _TooManyQubits(
                    f"The program uses {qubits} qubits; the device has {device_qubits}"
                )
            if qubits > cap:
                raise _TooManyQubits(
                    f"The program uses {qubits} qubits; the emulator simulates at most {cap} "
                    f"with {simulator} (the device has {device_qubits})"
                )
            return super().initialize_simulation(**kwargs)

    return Bounded()


def simulate(request: SimulationRequest) -> SimulationOutcome:
    """Run one quantum task's program; its result document, or why it failed."""
    try:
        program = Program.parse_raw(request.action)
    except ValueError as exc:
        return SimulationOutcome(failure_reason=f"Invalid OpenQASM program: {exc}")
    started = time.perf_counter()
    try:
        result: GateModelTaskResult = _bounded(request.simulator, request.device_qubits).run(
            program, shots=request.shots
        )
    except _TooManyQubits as exc:
        return SimulationOutcome(failure_reason=str(exc))
    except Exception as exc:  # the simulator refuses bad programs with many error types
        return SimulationOutcome(
            failure_reason=f"The simulator refused the program: {type(exc).__name__}: {exc}"
        )
    duration_ms = max(1, round((time.perf_counter() - started) * 1000))
    metadata = result.taskMetadata.copy(
        update={
            "id": request.task_arn,
            "deviceId": request.device_arn,
            "createdAt": request.created_at,
            "endedAt": iso_millis(utc_now()),
            "status": "COMPLETED",
        }
    )
    additional = result.additionalMetadata
    if request.simulator_metadata:
        additional = additional.copy(
            update={"simulatorMetadata": SimulatorMetadata(executionDuration=duration_ms)}
        )
    document = result.copy(
        update={
            "taskMetadata": metadata,
            "additionalMetadata": additional,
            # The simulator leaves an empty list for shots=0, which its own schema refuses
            # (at least one): the service writes none.
            "measurements": result.measurements or None,
            "resultTypes": _result_values(result, request.shots),
        }
    )
    return SimulationOutcome(
        result=document.json(exclude_none=True, encoder=_plain), duration_ms=duration_ms
    )


def _result_values(result: GateModelTaskResult, shots: int) -> Any:
    """The result types with their values. With shots, the simulator only names the
    result types an OpenQASM program asks for; their values come from the measurements,
    computed as the official SDK computes them for its local simulator."""
    if not shots or not result.resultTypes:
        return result.resultTypes or None
    # The official SDK (boto3 and more) loads in a worker only for programs that need it.
    from braket.tasks import GateModelQuantumTaskResult  # type: ignore[import-untyped]

    return GateModelQuantumTaskResult.from_object(result).result_types


def _plain(value: Any) -> Any:
    """What the service writes for the simulator's NumPy values: lists, and complex
    numbers as ``[real, imaginary]`` (what the SDK's ``cast_result_types`` reads)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, complex):
        return [value.real, value.imag]
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """A worker's loop: answer each request line until ``requests`` ends."""
    for line in requests:
        request = SimulationRequest(**json.loads(line))
        try:
            outcome = simulate(request)
        except Exception as exc:  # a bug here fails the task, not the worker
            outcome = SimulationOutcome(
                failure_reason=f"InternalServiceError: {type(exc).__name__}: {exc}"
            )
        answers.write(json.dumps(attrs.asdict(outcome)).encode() + b"\n")
        answers.flush()


def main() -> None:
    """Serve on stdin and stdout; whatever the simulator prints goes to stderr."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    answers.write(READY)
    answers.flush()
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
