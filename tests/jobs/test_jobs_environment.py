"""The environment helpers agree with the official SDK, in and out of a job."""

from __future__ import annotations

import json
from pathlib import Path

import braket.jobs as official_jobs
import pytest

import braket_async.jobs as our_jobs

JOB_VARIABLES = {
    "AMZN_BRAKET_JOB_NAME": "my-job",
    "AMZN_BRAKET_DEVICE_ARN": "arn:aws:braket:::device/quantum-simulator/amazon/sv1",
    "AMZN_BRAKET_INPUT_DIR": "/opt/braket/input/data",
    "AMZN_BRAKET_JOB_RESULTS_DIR": "/opt/braket/model",
    "AMZN_BRAKET_CHECKPOINT_DIR": "/opt/jobs/checkpoints",
}
HELPERS = ["get_job_name", "get_job_device_arn", "get_results_dir", "get_checkpoint_dir"]


@pytest.mark.parametrize("in_job", [True, False], ids=["in-job", "outside"])
def test_helpers_agree_with_official(monkeypatch: pytest.MonkeyPatch, in_job: bool) -> None:
    if in_job:
        for name, value in JOB_VARIABLES.items():
            monkeypatch.setenv(name, value)
    expected_name = "my-job" if in_job else ""

    for helper in HELPERS:
        assert getattr(our_jobs, helper)() == getattr(official_jobs, helper)()
    for channel in ("input", "training"):
        assert our_jobs.get_input_data_dir(channel) == official_jobs.get_input_data_dir(channel)
    assert our_jobs.get_input_data_dir() == official_jobs.get_input_data_dir()
    assert our_jobs.get_job_name() == expected_name


def test_values_outside_a_job() -> None:
    assert our_jobs.get_job_name() == ""
    assert our_jobs.get_job_device_arn() == "local:none/none"
    assert our_jobs.get_input_data_dir("any") == "."
    assert our_jobs.get_results_dir() == "."
    assert our_jobs.get_checkpoint_dir() == "."
    assert our_jobs.get_hyperparameters() == {}


def test_input_dir_per_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMZN_BRAKET_INPUT_DIR", "/opt/braket/input/data")

    assert our_jobs.get_input_data_dir() == "/opt/braket/input/data/input"
    assert our_jobs.get_input_data_dir("extra") == "/opt/braket/input/data/extra"


def test_hyperparameters_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hp_file = tmp_path / "hyperparameters.json"
    hp_file.write_text(json.dumps({"shots": "100", "lr": "0.1"}))
    monkeypatch.setenv("AMZN_BRAKET_HP_FILE", str(hp_file))

    assert our_jobs.get_hyperparameters() == {"shots": "100", "lr": "0.1"}
    assert our_jobs.get_hyperparameters() == official_jobs.get_hyperparameters()


def test_hyperparameters_file_must_hold_an_object(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hp_file = tmp_path / "hyperparameters.json"
    hp_file.write_text("[1, 2]")
    monkeypatch.setenv("AMZN_BRAKET_HP_FILE", str(hp_file))

    with pytest.raises(ValueError, match="JSON object"):
        our_jobs.get_hyperparameters()


def test_missing_hyperparameters_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AMZN_BRAKET_HP_FILE", str(tmp_path / "absent.json"))

    with pytest.raises(FileNotFoundError):
        our_jobs.get_hyperparameters()
