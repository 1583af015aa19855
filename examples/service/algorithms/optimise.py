"""A small variational loop: prints a line per step, logs the energy, saves the best."""

import math
import time

from braket_async.jobs import get_hyperparameters, log_metric, save_job_result


def main() -> None:
    hyperparameters = get_hyperparameters()
    steps = int(hyperparameters.get("steps", "10"))
    rate = float(hyperparameters.get("learning_rate", "0.3"))
    pause = float(hyperparameters.get("seconds_per_step", "0.5"))
    theta = 0.5
    for step in range(steps):
        theta -= rate * -math.sin(theta)
        energy = math.cos(theta)
        log_metric("energy", energy, iteration_number=step)
        print(f"step {step}: theta={theta:.4f} energy={energy:.4f}", flush=True)
        time.sleep(pause)  # stands in for waiting on a quantum device
    save_job_result({"theta": theta, "energy": math.cos(theta), "steps": steps})


if __name__ == "__main__":
    main()
