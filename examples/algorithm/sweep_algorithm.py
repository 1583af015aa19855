"""A small hybrid algorithm: a classical optimiser loop that logs, checkpoints and saves.

It uses only braket_async.jobs (the in-job API), so it runs on any runtime; the same
calls exist in the official SDK's braket.jobs.
"""

import math
import time

from braket_async.jobs import (
    get_hyperparameters,
    get_job_name,
    load_job_checkpoint,
    log_metric,
    save_job_checkpoint,
    save_job_result,
)


def energy(theta: float) -> float:
    """A stand-in for an expectation value measured on a device."""
    return math.cos(theta) + 0.1 * math.sin(3 * theta)


def main() -> None:
    hyperparameters = get_hyperparameters()
    steps = int(hyperparameters.get("steps", "10"))
    rate = float(hyperparameters.get("learning_rate", "0.3"))
    try:
        theta = load_job_checkpoint(get_job_name())["theta"]
        print(f"resuming from theta={theta:.4f}")
    except FileNotFoundError:
        theta = 0.5
    for step in range(steps):
        gradient = (energy(theta + 1e-4) - energy(theta - 1e-4)) / 2e-4
        theta -= rate * gradient
        log_metric("energy", energy(theta), iteration_number=step)
        print(f"step {step}: theta={theta:.4f} energy={energy(theta):.4f}", flush=True)
        save_job_checkpoint({"theta": theta})
        time.sleep(0.05)  # pretend to wait for a device
    save_job_result({"theta": theta, "energy": energy(theta), "steps": steps})


if __name__ == "__main__":
    main()
