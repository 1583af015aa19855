"""Where the job container tells the job what it is: environment variables and files.

The fallbacks (``""``, ``local:none/none``, ``.``) are the official SDK's, so a script can
also run as a plain local program.
"""

from __future__ import annotations

import json
import os

__all__ = [
    "get_checkpoint_dir",
    "get_hyperparameters",
    "get_input_data_dir",
    "get_job_device_arn",
    "get_job_name",
    "get_results_dir",
]


def get_job_name() -> str:
    """Return the name of the running job, or ``""`` outside a job."""
    return os.environ.get("AMZN_BRAKET_JOB_NAME", "")


def get_job_device_arn() -> str:
    """Return the ARN of the job's device, or ``"local:none/none"`` outside a job."""
    return os.environ.get("AMZN_BRAKET_DEVICE_ARN", "local:none/none")


def get_input_data_dir(channel: str = "input") -> str:
    """Return the folder holding the input data of ``channel``.

    Outside a job this is the working directory ``"."``, whatever the channel.
    """
    input_dir = os.environ.get("AMZN_BRAKET_INPUT_DIR", ".")
    return input_dir if input_dir == "." else f"{input_dir}/{channel}"


def get_results_dir() -> str:
    """Return the folder whose content becomes the job's output (``"."`` outside a job)."""
    return os.environ.get("AMZN_BRAKET_JOB_RESULTS_DIR", ".")


def get_checkpoint_dir() -> str:
    """Return the folder for checkpoints (``"."`` outside a job)."""
    return os.environ.get("AMZN_BRAKET_CHECKPOINT_DIR", ".")


def get_hyperparameters() -> dict[str, str]:
    """Return the job's hyperparameters, values as strings; ``{}`` when it has none.

    Raises:
        ValueError: The hyperparameters file is not a JSON object.
    """
    path = os.environ.get("AMZN_BRAKET_HP_FILE")
    if path is None:
        return {}
    with open(path, encoding="utf-8") as f:
        hyperparameters = json.load(f)
    if not isinstance(hyperparameters, dict):
        raise ValueError(f"hyperparameters file {path} does not hold a JSON object")
    return hyperparameters
